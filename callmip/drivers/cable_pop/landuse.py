"""CABLE-POP's land-use inputs (POPLUC) from the campaign's prepared ``landuse_<YYYY>.nc``.

CABLE reads land use in ``offline/cable_LUC_EXPT.F90`` when ``cable_user%POPLUC`` is on:
``luc.nml`` names a directory holding 23 files, ``<TransitionFilePath>/<var>.nc`` with a
variable ``<var>`` each on the land mask's grid, one record per year; the first year is parsed
from the ``time`` units (``years since YYYY-01-01``) and record ``year - YYYY + 1`` is read.

What we write follows the branch's own LUH2 aggregation
(``scripts/TRENDY_runs/v13/preprocessing/process_LUH2_TRENDY.sh``), from the broad classes of
:data:`callmip.drivers.change.CLASSES` (p primary, s secondary, c crop, q pasture, r
rangeland, u urban):

* states: ``primary_veg`` = p, ``grass`` = c + q + r, ``crop`` = c, ``past`` = q. CABLE makes
  the rest secondary (so urban land counts as secondary, as in TRENDY);
* transitions (year Y to Y+1, fraction of the cell): ``ptog`` = ptoc + ptoq + ptor,
  ``stog`` = stoc + stoq + stor, ``gtos`` = ctos + qtos + rtos, and ``ptos ptoc ptoq stoc stoq
  ctos qtos ctor qtor rtoc rtoq qtoc ctoq`` as they are;
* wood harvest ``pharv smharv syharv``: zero. Our transitions are net and carry no harvest
  (LUH2's gross ``transitions.nc`` is not read yet); the driver README says so.

Cells without land-use data (NaN: off the land-use product's land) are all primary land with
no transition. Records follow the run's simulated years: the record of simulated year Y holds
the prepared file of ``YearSpec.landuse_year`` (the spin-up level year while a simulation
holds land use), so CABLE's year counter and ours agree.

Tiles: CABLE turns each vegetated cell into primary forest, secondary forest and grass tiles
unless it is "primary only". It decides that from the whole record of the files it is given,
which differs between a spin-up, an S2 and an S3 run, and CABLE's restarts only fit a run
with the same tiles. So we give it a ``PrimOnlyFile`` that marks no cell primary-only: every
vegetated cell (but deserts and tundra, which CABLE itself keeps primary) has the same three
tiles in every run of a campaign, whatever its land use.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import netCDF4
import numpy as np

from callmip.atomic import atomic_path
from callmip.drivers.cable_pop.inputs import Domain, _grid_dims
from callmip.drivers.change import read_landuse

#: CABLE's 23 land-use inputs, in its own order (cable_LUC_EXPT.F90, LUC_EXPT%VAR_NAME)
CABLE_LUC_VARIABLES: tuple[str, ...] = (
    "ptos", "ptog", "stog", "gtos", "grass", "primary_veg", "pharv", "smharv", "syharv",
    "ptoc", "ptoq", "stoc", "stoq", "ctos", "qtos", "crop", "past",
    "ctor", "qtor", "rtoc", "rtoq", "qtoc", "ctoq",
)  # fmt: skip
#: sums of our net transitions that make CABLE's aggregated ones
AGGREGATED: dict[str, tuple[str, ...]] = {
    "ptog": ("ptoc", "ptoq", "ptor"),
    "stog": ("stoc", "stoq", "stor"),
    "gtos": ("ctos", "qtos", "rtos"),
}
#: CABLE's transitions that are ours as they are
DIRECT: tuple[str, ...] = ("ptos", "ptoc", "ptoq", "stoc", "stoq", "ctos", "qtos", "ctor",
                           "qtor", "rtoc", "rtoq", "qtoc", "ctoq")
#: wood harvest (area fractions): not carried by net transitions
HARVEST: tuple[str, ...] = ("pharv", "smharv", "syharv")
#: the primary-only mask CABLE reads (luc.nml PrimOnlyFile; variable ``prim_only``)
PRIM_ONLY_FILE = "prim_only.nc"


def cable_luc_fields(landuse: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """CABLE's 23 fields (module doc) from one year of :func:`read_landuse` (same shapes).

    NaN (no land-use data) becomes primary land with no transition."""
    def cls(*states: str) -> np.ndarray:
        return sum(np.nan_to_num(landuse[s], nan=0.0) for s in states)

    known = np.isfinite(landuse["primf"])
    out = {
        "primary_veg": np.where(known, cls("primf", "primn"), 1.0),
        "crop": cls("c3ann", "c4ann", "c3per", "c4per", "c3nfx"),
        "past": cls("pastr"),
    }
    out["grass"] = out["crop"] + out["past"] + cls("range")
    for name, parts in AGGREGATED.items():
        out[name] = sum(np.nan_to_num(landuse[p], nan=0.0) for p in parts)
    for name in DIRECT:
        out[name] = np.nan_to_num(landuse[name], nan=0.0)
    for name in HARVEST:
        out[name] = np.zeros_like(out["crop"])
    return {name: np.clip(out[name], 0.0, 1.0) for name in CABLE_LUC_VARIABLES}


def write_luc_files(out_dir: Path, landuse_dir: Path, years: Iterable[tuple[int, int]],
                    domain: Domain) -> list[Path]:
    """CABLE's 23 files in ``out_dir``: one record per (simulated year, land-use year) of
    ``years`` (consecutive simulated years), each the prepared land use of its land-use year
    cut to the CABLE domain."""
    years = list(years)
    simulated = [y for y, _ in years]
    if simulated != list(range(simulated[0], simulated[0] + len(simulated))):
        raise ValueError(f"{out_dir}: CABLE's land-use records need consecutive years, got "
                         f"{simulated}")
    rows, cols = domain.window
    cache: dict[int, dict[str, np.ndarray]] = {}
    records = []
    for _, lu_year in years:
        if lu_year not in cache:
            full = read_landuse(landuse_dir, lu_year)
            cache[lu_year] = cable_luc_fields({k: v[rows, cols] for k, v in full.items()
                                               if k not in ("lat", "lon")})
        records.append(cache[lu_year])
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in CABLE_LUC_VARIABLES:
        path = out_dir / f"{name}.nc"
        with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4_CLASSIC") as ds:
            _grid_dims(ds, domain)
            ds.createDimension("time", len(records))
            t = ds.createVariable("time", "i4", ("time",))
            t.units = f"years since {simulated[0]:04d}-01-01"
            t[:] = np.arange(len(records))
            v = ds.createVariable(name, "f4", ("time", "latitude", "longitude"))
            v.units = "1"
            v.long_name = (f"{name}: fraction of the cell (CABLE POPLUC input; record k is "
                           f"simulated year {simulated[0]} + k)")
            v.source = f"{landuse_dir}/landuse_<YYYY>.nc (callmip-global)"
            v[:] = np.stack([r[name] for r in records]).astype("float32")
        paths.append(path)
    return paths


def write_prim_only(path: Path, domain: Domain) -> Path:
    """``prim_only`` = 0 everywhere: no cell is primary-only (see the module doc)."""
    with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4_CLASSIC") as ds:
        _grid_dims(ds, domain)
        v = ds.createVariable("prim_only", "f4", ("latitude", "longitude"))
        v.long_name = "1: cell never has land-use change (CABLE then runs no secondary tile)"
        v[:] = np.zeros(domain.land.shape, "float32")
    return path



#: what a run's restart says about its land use (``restart/cNNN/luc.json``)
LUC_RECORD = "luc.json"


def popluc_run_type(landuse_years: list[int], previous: dict | None) -> str:
    """CABLE's ``POPLUC_RunType`` of a run whose years apply ``landuse_years``.

    ``previous`` is the :data:`LUC_RECORD` of the restart it starts from (None: cold start).
    A run continuing a run with changing land use is ``restart`` (POPLUC reads its state);
    a run whose land use changes (its years differ from each other or from where the restart
    left off) starts it, ``init``, as TRENDY's land-use spin-up does from its static state:
    secondary forest regrows from zero biomass; otherwise the tiles stay as they are,
    ``static`` (spin-up, and simulations that hold land use)."""
    if previous is not None and previous.get("dynamic"):
        return "restart"
    before = {previous["landuse_year"]} if previous and "landuse_year" in previous else set()
    return "init" if len(set(landuse_years) | before) > 1 else "static"
