"""Per-run parameter tables: the branch's own ``def_veg_params.txt`` and ``pftlookup.csv`` with
the calibrated PFT values of a parameter set written in.

CABLE reads its vegetation parameters with list-directed Fortran reads in a fixed order
(``get_type_parameters`` in ``core/biogeophys/cable_common.F90``; ``casa_readbiome`` in
``core/biogeochem/casa_inout.F90``). A parameter here is therefore a (file, row, column) place
per PFT, found by walking the file exactly as the reader does and checking that each row it
lands on belongs to the expected PFT, so a table of another layout fails loudly instead of
being edited in the wrong place. Everything else in the files is copied byte for byte.

The prior of a campaign is read from the tables of the CABLE source it runs (or a group's own
``params_dir``): a group's defaults are its prior. Notes on what each parameter does in the
TRENDY configuration (``cable_user%vcmax = 'Walker2014'``, prognostic Vcmax, POP on):

* ``g1`` (Medlyn stomatal slope, kPa^0.5) drives transpiration and photosynthesis directly;
* ``vcmax_scalar`` scales the leaf-N/P based Vcmax of Walker et al. (2014) used in this setup;
* ``vcmax`` (mol m-2 s-1) is the table Vcmax, used only where Vcmax is not prognostic;
* ``rootbeta`` (root distribution), ``sla`` (specific leaf area, m2 gC-1), ``leaf_age``
  (years), and the CASA allocation fractions ``alloc_leaf``/``alloc_wood``/``alloc_froot``
  (with POP, CABLE partitions leaf and stem dynamically, so these act on non-POP tiles).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from callmip import atomic
from callmip.drivers.render import ParamValue, RenderError

VEG_FILE = "def_veg_params.txt"
SOIL_FILE = "def_soil_params.txt"
PFT_FILE = "pftlookup.csv"
#: rows per vegetation entry in def_veg_params.txt (header + 13 parameter rows)
VEG_ENTRY_ROWS = 14
#: blocks of pftlookup.csv in the order the reader reads them (rows: PFTs, except 'soil order')
PFT_BLOCKS = ("ages", "allocation", "stoichiometry", "initial carbon", "phenology", "N:C",
              "initial N", "N:P", "soil order", "initial P", "P uptake", "POP", "DAMM")
SOIL_ORDERS = 12
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eEdD][-+]?\d+)?$")


@dataclass(frozen=True)
class TableParameter:
    """One calibratable per-PFT value: where it is and what it means."""

    name: str
    file: str
    row: int  # veg: row within a PFT entry (0 = header); pftlookup: index in PFT_BLOCKS
    column: int  # 0-based field on that row
    units: str
    description: str


PARAMETERS: tuple[TableParameter, ...] = (
    TableParameter("g1", VEG_FILE, 12, 1, "kPa^0.5", "Medlyn stomatal slope (g1c3 or g1c4)"),
    TableParameter("vcmax", VEG_FILE, 6, 0, "mol m-2 s-1", "table Vcmax at 25 C"),
    TableParameter("rootbeta", VEG_FILE, 7, 3, "1", "root distribution parameter beta"),
    TableParameter("leaf_age", PFT_FILE, 0, 8, "years", "leaf turnover time"),
    TableParameter("sla", PFT_FILE, 0, 18, "m2 gC-1", "specific leaf area"),
    TableParameter("alloc_leaf", PFT_FILE, 1, 1, "1", "fraction of NPP to leaves"),
    TableParameter("alloc_wood", PFT_FILE, 1, 2, "1", "fraction of NPP to wood"),
    TableParameter("alloc_froot", PFT_FILE, 1, 3, "1", "fraction of NPP to fine roots"),
    TableParameter("vcmax_scalar", PFT_FILE, 11, 3, "1",
                   "scaling of the Walker (2014) leaf-N/P Vcmax"),
)
BY_NAME = {p.name: p for p in PARAMETERS}


class ParameterTableError(RenderError):
    """A parameter table does not have the layout CABLE's reader expects."""


def _fields_veg(line: str) -> tuple[list[str], str]:
    """(value tokens, trailing comment) of a def_veg_params.txt line."""
    body, bang, comment = line.partition("!")
    return body.split(), bang + comment


def _veg_rows(lines: list[str], path: Path) -> tuple[int, dict[int, int]]:
    """(number of PFTs, PFT -> line index of its entry's header)."""
    try:
        n = int(lines[1].split()[0])
    except (IndexError, ValueError):
        raise ParameterTableError(f"{path}: line 2 must hold the number of vegetation types") \
            from None
    starts = {}
    for k in range(n):
        i = 2 + k * VEG_ENTRY_ROWS
        fields = lines[i].split() if i < len(lines) else []
        if not fields or not fields[0].isdigit():
            raise ParameterTableError(f"{path}: line {i + 1} should start vegetation type "
                                      f"{k + 1}'s entry, found {lines[i:i + 1]}")
        starts[int(fields[0])] = i
    if sorted(starts) != list(range(1, n + 1)):
        raise ParameterTableError(f"{path}: vegetation types {sorted(starts)}, expected 1..{n}")
    return n, starts


def _pft_rows(lines: list[str], n: int, path: Path) -> dict[int, list[int]]:
    """Block index -> line index of each row, walking the file like ``casa_readbiome``."""
    i = 3 + n  # 3 header lines, then one 'type, class' line per PFT
    blocks: dict[int, list[int]] = {}
    for b, name in enumerate(PFT_BLOCKS):
        i += 2  # two header lines per block
        count = SOIL_ORDERS if name == "soil order" else n
        rows = list(range(i, i + count))
        for k, line_no in enumerate(rows):
            first = lines[line_no].split(",")[0].strip() if line_no < len(lines) else ""
            if first != str(k + 1):
                raise ParameterTableError(
                    f"{path}: line {line_no + 1} should be row {k + 1} of the {name!r} block "
                    f"(the reader's order), found {lines[line_no:line_no + 1]}")
        blocks[b] = rows
        i += count
    return blocks


def read_table_values(params_dir: Path) -> dict[str, list[float]]:
    """The prior: every parameter of :data:`PARAMETERS`, one value per PFT, from the tables."""
    params_dir = Path(params_dir)
    out: dict[str, list[float]] = {}
    veg_path, pft_path = params_dir / VEG_FILE, params_dir / PFT_FILE
    for p in (veg_path, pft_path, params_dir / SOIL_FILE):
        if not p.is_file():
            raise ParameterTableError(f"{p}: CABLE parameter table is missing")
    veg = veg_path.read_text().splitlines()
    n, starts = _veg_rows(veg, veg_path)
    pft = pft_path.read_text().splitlines()
    blocks = _pft_rows(pft, n, pft_path)
    for par in PARAMETERS:
        values = []
        for k in range(1, n + 1):
            if par.file == VEG_FILE:
                line_no = starts[k] + par.row
                tokens = _fields_veg(veg[line_no])[0]
                where = veg_path
            else:
                line_no = blocks[par.row][k - 1]
                tokens = [t.strip() for t in pft[line_no].split(",")]
                where = pft_path
            try:
                token = tokens[par.column]
                if not _NUMBER.match(token):
                    raise ValueError(token)
                values.append(float(token.lower().replace("d", "e")))
            except (IndexError, ValueError):
                raise ParameterTableError(f"{where}: line {line_no + 1}: no number in field "
                                          f"{par.column + 1} for {par.name} of PFT {k}") from None
        out[par.name] = values
    return out


def _replace(token: str, value: float) -> str:
    """``token`` if it already holds ``value`` (the file stays byte-identical), else the
    value written so a list-directed Fortran read gets it back exactly."""
    try:
        if float(token.strip().lower().replace("d", "e")) == float(value):
            return token
    except ValueError:
        pass
    return repr(float(value))


def write_tables(params_dir: Path, out_dir: Path,
                 values: Mapping[str, ParamValue]) -> dict[str, Path]:
    """Copy the three tables to ``out_dir`` with ``values`` ({name: one value per PFT})
    written in their places; return {file name: path}. Nothing else changes."""
    params_dir = Path(params_dir)
    veg = _lines(params_dir / VEG_FILE)
    pft = _lines(params_dir / PFT_FILE)
    n, starts = _veg_rows([x.rstrip("\r\n") for x in veg], params_dir / VEG_FILE)
    blocks = _pft_rows([x.rstrip("\r\n") for x in pft], n, params_dir / PFT_FILE)
    for name, vals in values.items():
        par = BY_NAME.get(name)
        if par is None:
            raise ParameterTableError(f"unknown CABLE parameter {name!r}; known: "
                                      f"{sorted(BY_NAME)}")
        if not isinstance(vals, list) or len(vals) != n:
            raise ParameterTableError(f"parameter {name!r} needs {n} values (one per PFT)")
        for k, v in enumerate(vals, start=1):
            if par.file == VEG_FILE:
                i = starts[k] + par.row
                body = veg[i].rstrip("\r\n")
                eol = veg[i][len(body):]
                tokens, comment = _fields_veg(body)
                if _replace(tokens[par.column], v) != tokens[par.column]:
                    tokens[par.column] = _replace(tokens[par.column], v)
                    veg[i] = " ".join(tokens) + ("   " + comment if comment else "") + eol
            else:
                i = blocks[par.row][k - 1]
                body = pft[i].rstrip("\r\n")
                eol = pft[i][len(body):]
                fields = body.split(",")
                fields[par.column] = _replace(fields[par.column], v)
                pft[i] = ",".join(fields) + eol
    out_dir = Path(out_dir)
    return {
        VEG_FILE: atomic.write_text(out_dir / VEG_FILE, "".join(veg)),
        PFT_FILE: atomic.write_text(out_dir / PFT_FILE, "".join(pft)),
        SOIL_FILE: atomic.write_text(out_dir / SOIL_FILE, "".join(_lines(params_dir / SOIL_FILE))),
    }


def _lines(path: Path) -> list[str]:
    """The file's lines with their own line ends (some tables have CRLF ends)."""
    with open(path, newline="") as fh:
        return fh.read().splitlines(keepends=True)
