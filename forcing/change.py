"""Land use and N deposition on the model grid, one file per year: what every driver reads.

Contract (the file layout is :mod:`callmip.drivers.change`'s; this module writes it):

* :func:`prepare_landuse_years` reads LUH2-layout ``states.nc`` (real, or the synthetic
  generator's), turns each year's 12 states into fractions of the cell's *land* (states divided
  by their sum, i.e. by 1 - icwtr), regrids them conservatively onto the model grid weighting
  every source cell by its land area (so land-area integrals of each state are conserved), and
  adds the net transitions to the next year between the broad classes. A year whose next year
  is not in the file gets zero transitions (said in the file's ``transitions`` attribute).
* :func:`prepare_ndep_years` reads the ISIMIP3-layout N-deposition files (NHx + NOy, monthly)
  into annual totals in kg N ha-1 yr-1 and regrids them conservatively. Years before the files
  start (TRENDY's 1700-1849) take the first year's field: N-deposition products, like the
  TRENDY inputs, start in 1850.
* With ``constant_ndep`` (the CalLMIP site protocol's 0.79 kg N ha-1 yr-1 for 1850) that year's
  file holds the constant on every cell instead.

Outputs are reused when their manifest says they were made from the same inputs and parameters
(:mod:`forcing.manifest`), and written atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import netCDF4
import numpy as np

from callmip.drivers.change import (
    LANDUSE_UNITS,
    LUH2_STATES,
    NDEP_UNITS,
    NDEP_VARIABLE,
    TRANSITIONS,
    class_fractions,
    landuse_path,
    ndep_path,
    net_transitions,
)
from forcing.errors import ForcingError
from forcing.fileio import atomic_path
from forcing.landregrid import target_grid
from forcing.manifest import fingerprint, invalidate, is_complete, write_manifest

log = logging.getLogger(__name__)


def _regridder(src_lat: np.ndarray, src_lon: np.ndarray, res_deg: float, cache_dir: Path | None):
    from regrid import Grid, Regridder

    src = Grid.from_centres(np.asarray(src_lat, float), np.asarray(src_lon, float))
    weights = None if cache_dir is None else Path(cache_dir) / "regrid-weights"
    return Regridder(src, target_grid(res_deg), method="conservative", cache_dir=weights)


def _write(path: Path, fields: dict[str, tuple[np.ndarray, str, str]], lat: np.ndarray,
           lon: np.ndarray, attrs: dict[str, str | int | float]) -> None:
    with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.createDimension("lat", lat.size)
        ds.createDimension("lon", lon.size)
        for name, values, units in (("lat", lat, "degrees_north"), ("lon", lon, "degrees_east")):
            v = ds.createVariable(name, "f8", (name,))
            v[:] = values
            v.units, v.standard_name = units, {"lat": "latitude", "lon": "longitude"}[name]
        for name, (values, units, long_name) in fields.items():
            v = ds.createVariable(name, "f4", ("lat", "lon"), zlib=True, complevel=1,
                                  fill_value=np.float32(np.nan))
            v.units, v.long_name = units, long_name
            v[:] = values.astype(np.float32)
        ds.setncatts({"Conventions": "CF-1.8", **attrs})


# ----------------------------------------------------------------------------- land use
def _land_states(states_file: Path, year: int) -> tuple[dict[str, np.ndarray], np.ndarray,
                                                         np.ndarray, np.ndarray]:
    """The states of ``year`` as fractions of land, and the land fraction (sum of states)."""
    from forcing.luh2 import read_luh2_states

    ds = read_luh2_states(states_file, year)
    raw = {s: np.asarray(ds[s].values, dtype=np.float64) for s in LUH2_STATES}
    total = sum(raw.values())
    land = np.clip(np.where(np.isfinite(total), total, 0.0), 0.0, 1.0)
    ok = np.isfinite(total) & (total > 0.0)
    safe = np.where(ok, total, 1.0)
    fracs = {s: np.where(ok, v / safe, np.nan) for s, v in raw.items()}
    return fracs, land, ds["lat"].values, ds["lon"].values


def _regrid_states(regridder, fracs: dict[str, np.ndarray], land: np.ndarray):
    """Land-area-weighted conservative means of all states at once, renormalised to sum 1."""
    from regrid.apply import apply_weights, scale_columns

    weights = scale_columns(regridder.weights, land.ravel())
    stack = np.stack([fracs[s].ravel() for s in LUH2_STATES])
    out = apply_weights(weights, stack, skipna=True, num_threads=1)
    out = out.reshape(len(LUH2_STATES), *regridder.dst.shape)
    total = out.sum(axis=0)  # 1 up to round-off; make it exact
    ok = np.isfinite(total) & (total > 0.0)
    out = np.where(ok, out / np.where(ok, total, 1.0), np.nan)
    return dict(zip(LUH2_STATES, out, strict=True))


def prepare_landuse_years(
    states_file: Path,
    years: Iterable[int],
    target_res_deg: float,
    out_dir: Path,
    cache_dir: Path | None = None,
    source: str = "LUH2",
) -> list[Path]:
    """``out_dir/landuse_<YYYY>.nc`` for ``years`` from an LUH2-layout ``states.nc``."""
    states_file, out_dir = Path(states_file), Path(out_dir)
    years = sorted(set(int(y) for y in years))
    inputs = fingerprint([states_file])
    with netCDF4.Dataset(states_file) as ds:
        t = ds.variables["time"]
        origin = int(str(t.units).split("since")[1].strip().split("-")[0])
        available = set((origin + np.rint(np.asarray(t[:], float)).astype(int)).tolist())
    missing = [y for y in years if y not in available]
    if missing:
        raise ForcingError(states_file, "time", f"no land-use states for years {missing[:5]}"
                           f"{' ...' if len(missing) > 5 else ''} (file covers "
                           f"{min(available)}-{max(available)})")
    outputs, regridder, lat, lon, cached = [], None, None, None, {}

    def regridded(year: int) -> dict[str, np.ndarray]:
        nonlocal regridder, lat, lon
        if year not in cached:
            fracs, land, slat, slon = _land_states(states_file, year)
            if regridder is None:
                regridder = _regridder(slat, slon, target_res_deg, cache_dir)
                lat, lon = regridder.dst.lat, regridder.dst.lon
            cached.clear()
            cached[year] = _regrid_states(regridder, fracs, land)
        return cached[year]

    for year in years:
        out = landuse_path(out_dir, year)
        has_next = year + 1 in available
        params = {"kind": "landuse", "year": year, "res_deg": float(target_res_deg),
                  "source": source, "next_year": has_next}
        outputs.append(out)
        if is_complete(out, params, inputs):
            continue
        now = regridded(year)
        if has_next:
            nxt = regridded(year + 1)  # cached for the next year's file
            trans = net_transitions(class_fractions(now), class_fractions(nxt))
        else:
            trans = {n: np.zeros_like(now["primf"]) for n in TRANSITIONS}
        invalidate(out)
        fields = {s: (v, LANDUSE_UNITS, f"LUH2 state {s}, fraction of the cell's land")
                  for s, v in now.items()}
        for name, moved in trans.items():
            moved = np.where(np.isfinite(now["primf"]), moved, np.nan)  # noqa: PLW2901
            fields[name] = (moved, LANDUSE_UNITS, f"net transition {name[0]} -> {name[-1]} from "
                            f"{year} to {year + 1}, fraction of the cell's land")
        assert lat is not None and lon is not None
        _write(out, fields, lat, lon, {
            "title": f"land-use states and net transitions of {year} on the model grid",
            "year": year, "source": f"{source}: {states_file}",
            "transitions": ("net transitions to the next year (losses spread over the gaining "
                            "classes in proportion to their gains)" if has_next else
                            "zero: the states file has no next year"),
        })
        write_manifest(out, params, inputs)
    return outputs


# ----------------------------------------------------------------------------- N deposition
def prepare_ndep_years(
    ndep_dir: Path,
    years: Iterable[int],
    target_res_deg: float,
    out_dir: Path,
    scenario: str = "histsoc",
    cache_dir: Path | None = None,
    constant_ndep: dict[int, float] | None = None,
) -> list[Path]:
    """``out_dir/ndep_<YYYY>.nc`` (annual total, kg N ha-1 yr-1) for ``years``.

    ``constant_ndep``: years whose field is a constant instead (the CalLMIP site protocol's
    1850 spin-up value), written on every cell.
    """
    import xarray as xr

    from forcing.ndep import NDEP_SPECIES, read_ndep_year

    ndep_dir, out_dir = Path(ndep_dir), Path(out_dir)
    constant_ndep = constant_ndep or {}
    files = sorted(p for s in NDEP_SPECIES for p in ndep_dir.glob(f"ndep-{s}_{scenario}_*.nc"))
    if not files:
        raise ForcingError(ndep_dir / f"ndep-nhx_{scenario}_monthly_*.nc", "nhx",
                           "missing input: no N-deposition files")
    first = min(int(p.stem.split("_")[-2]) for p in files)
    inputs = fingerprint(files)
    regridder = None
    outputs = []
    dst = target_grid(target_res_deg)
    for year in sorted(set(int(y) for y in years)):
        out = ndep_path(out_dir, year)
        const = constant_ndep.get(year)
        read_year = max(year, first)
        params = {"kind": "ndep", "year": year, "res_deg": float(target_res_deg),
                  "scenario": scenario, "read_year": read_year, "constant": const}
        outputs.append(out)
        if is_complete(out, params, inputs):
            continue
        if const is not None:
            values = np.full(dst.shape, const, dtype=np.float64)
            comment = f"constant {const} {NDEP_UNITS} (CalLMIP site protocol spin-up level)"
        else:
            da = read_ndep_year(ndep_dir, read_year, scenario)
            if regridder is None:
                regridder = _regridder(da["lat"].values, da["lon"].values, target_res_deg,
                                       cache_dir)
            values = np.asarray(regridder(xr.DataArray(
                da.values.astype(np.float64), dims=("lat", "lon"),
                coords={"lat": da["lat"].values, "lon": da["lon"].values}), skipna=True).values)
            comment = (f"{scenario} {read_year}" + (f" (held for {year}: the files start in "
                                                    f"{first})" if read_year != year else ""))
        invalidate(out)
        _write(out, {NDEP_VARIABLE: (values, NDEP_UNITS,
                                     "total (NHx + NOy) nitrogen deposition")},
               dst.lat, dst.lon, {"title": f"N deposition of {year} on the model grid",
                                  "year": year, "source": str(ndep_dir), "comment": comment})
        write_manifest(out, params, inputs)
    return outputs
