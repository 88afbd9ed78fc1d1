"""Atmospheric CO2: TRENDY annual global concentrations, SSP scenario concentrations, and the
pre-industrial spin-up constants.

Contract:

* :func:`read_trendy_co2` parses the TRENDY text file (``Annee_<year>=<ppm>`` per line; the
  shipped ``data/co2/CO2_1700_2024_TRENDYv2025.txt`` by default) into ``{year: ppm}``; a
  malformed line, a duplicate or missing year, or an implausible value is a
  :class:`ForcingError` naming the file and line.
* :func:`ssp_co2` reads the SSP concentrations (RCMIP v5.1.0, CMIP6 input4MIPs values, 1700-2500)
  from the CSV shipped inside the PyPI package ``fair==1.6.4``. The file is located through the
  installed distribution's metadata (``importlib.metadata``), so ``fair`` itself is never
  imported (it would pull matplotlib and its own model code into our process).
* :func:`co2_for_years` joins them: TRENDY history, then the SSP from 2015 (the first scenario
  year) or for years after the TRENDY file ends.

Pre-industrial CO2: the CalLMIP Phase 1 protocol (v2, section 8) prescribes 287.42 ppm for the
1850 spin-up, and :data:`PREINDUSTRIAL_CO2_PPM` is that value. The shipped TRENDYv2025 file
says 287.43 for 1850 (a 0.01 ppm difference, within rounding of the annual mean); we use the
protocol's 287.42 for spin-up and the file's values for every transient year, and the test
suite checks the two agree to 0.01 ppm.
"""

from __future__ import annotations

import csv
import importlib.metadata
import re
from pathlib import Path

from callmip.constants import (
    PREINDUSTRIAL_CO2_PPM,
    PREINDUSTRIAL_NDEP_KG_N_HA_YR,
    SCENARIO_FIRST_YEAR,
)
from forcing.errors import ForcingError

__all__ = [
    "PREINDUSTRIAL_CO2_PPM",
    "PREINDUSTRIAL_NDEP_KG_N_HA_YR",
    "co2_for_years",
    "default_trendy_co2_file",
    "read_trendy_co2",
    "ssp_co2",
    "write_trendy_co2",
]

FAIR_VERSION = "1.6.4"
FAIR_SSP_CSV = "fair/SSPs/data/rcmip-concentrations-annual-means-5-1-0-ssp-only.csv"
_LINE = re.compile(r"^\s*Annee_(\d{4})\s*=\s*([0-9.+-eE]+)\s*$")
_PLAUSIBLE_PPM = (150.0, 2500.0)


def default_trendy_co2_file() -> Path:
    """The TRENDY CO2 file shipped in the repository (``data/co2/``)."""
    return Path(__file__).resolve().parents[1] / "data" / "co2" / "CO2_1700_2024_TRENDYv2025.txt"


def read_trendy_co2(path: Path | None = None) -> dict[int, float]:
    """``{year: ppm}`` from a TRENDY ``Annee_<year>=<ppm>`` file (blank lines ignored)."""
    path = Path(path) if path is not None else default_trendy_co2_file()
    if not path.exists():
        raise ForcingError(path, "co2", "missing input file")
    values: dict[int, float] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if m is None:
            raise ForcingError(
                path,
                "co2",
                "malformed line (expected 'Annee_<year>=<ppm>')",
                value=line,
                where=f"line {lineno}",
            )
        year, ppm = int(m.group(1)), float(m.group(2))
        if year in values:
            raise ForcingError(path, "co2", f"year {year} appears twice", where=f"line {lineno}")
        if not _PLAUSIBLE_PPM[0] <= ppm <= _PLAUSIBLE_PPM[1]:
            raise ForcingError(
                path,
                "co2",
                "implausible CO2 concentration (ppm expected)",
                value=ppm,
                where=f"line {lineno}",
            )
        values[year] = ppm
    if not values:
        raise ForcingError(path, "co2", "no data lines")
    years = sorted(values)
    gaps = sorted(set(range(years[0], years[-1] + 1)) - set(years))
    if gaps:
        raise ForcingError(path, "co2", f"missing years {gaps[:5]}")
    return values


def write_trendy_co2(path: Path, values: dict[int, float]) -> None:
    """Write ``{year: ppm}`` in the TRENDY text layout (what many models read directly)."""
    from forcing.fileio import atomic_path

    with atomic_path(Path(path)) as tmp:
        tmp.write_text("".join(f"Annee_{y}={values[y]:.2f}\n" for y in sorted(values)))


def _fair_csv() -> Path:
    try:
        dist = importlib.metadata.distribution("fair")
    except importlib.metadata.PackageNotFoundError as exc:
        raise ForcingError(
            None, "co2", f"PyPI package fair=={FAIR_VERSION} is not installed"
        ) from exc
    if dist.version != FAIR_VERSION:
        raise ForcingError(None, "co2", f"fair {dist.version} installed, expected {FAIR_VERSION}")
    for file in dist.files or ():
        if str(file).replace("\\", "/") == FAIR_SSP_CSV:
            return Path(str(dist.locate_file(file)))
    raise ForcingError(None, "co2", f"{FAIR_SSP_CSV} not found in the installed fair package")


def ssp_co2(ssp: str) -> dict[int, float]:
    """``{year: ppm}`` (1700-2500) of global mean CO2 under ``ssp`` (e.g. 'ssp585')."""
    path = _fair_csv()
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        year_cols = [(i, int(h)) for i, h in enumerate(header) if h.isdigit()]
        col = {h: i for i, h in enumerate(header)}
        for row in reader:
            if (
                row[col["Scenario"]] == ssp
                and row[col["Region"]] == "World"
                and row[col["Variable"]] == "Atmospheric Concentrations|CO2"
            ):
                if row[col["Unit"]] != "ppm":
                    raise ForcingError(path, "co2", f"unit {row[col['Unit']]!r}, expected ppm")
                return {year: float(row[i]) for i, year in year_cols if row[i].strip()}
    raise ForcingError(path, "co2", f"no CO2 concentrations for scenario {ssp!r}")


def co2_for_years(
    years: list[int] | range, ssp: str | None = None, trendy_file: Path | None = None
) -> dict[int, float]:
    """CO2 per year: TRENDY history; with ``ssp``, the SSP from 2015 and beyond the history."""
    hist = read_trendy_co2(trendy_file)
    scen = ssp_co2(ssp) if ssp is not None else {}
    out = {}
    for year in years:
        if scen and (year >= SCENARIO_FIRST_YEAR or year not in hist):
            if year not in scen:
                raise ForcingError(None, "co2", f"no {ssp} CO2 for {year}")
            out[year] = scen[year]
        elif year in hist:
            out[year] = hist[year]
        else:
            raise ForcingError(
                trendy_file or default_trendy_co2_file(),
                "co2",
                f"no CO2 for {year} (give an SSP for scenario years)",
            )
    return out
