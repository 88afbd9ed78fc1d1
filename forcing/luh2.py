"""LUH2-style land-use states: reader and synthetic generator in the LUH2 ``states.nc`` layout,
and the 1850 constant variant for spin-up.

Contract:

* Layout (LUH2 v2h / LUH2-GCB as distributed for TRENDY): one ``states.nc`` with the 12
  fractional states primf, primn, secdf, secdn, urban, c3ann, c4ann, c3per, c4per, c3nfx, pastr,
  range (units 1, fraction of the grid cell) plus secma (mean age of secondary land, years) and
  secmb (mean biomass density of secondary land, kg C m-2); dims (time, lat, lon), time in
  ``years since 850-01-01 0:0:0``, 0.25 degree, latitude north to south, float32, fill 1e20.
  The static ``staticData_quarterdeg.nc`` holds ``icwtr`` (ice/water fraction) and ``carea``
  (cell area, km2); states + icwtr = 1 on every land cell.
* :func:`read_luh2_states` returns one year's fractions (south to north) after checking units,
  bounds [0, 1], no NaN over land and the sum of states <= 1; :func:`spinup_states` is the 1850
  state repeated for spin-up; :func:`aggregate_states` maps the 12 states to the five broad
  classes a compact model uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import netCDF4
import numpy as np

from forcing.errors import ForcingError
from forcing.fileio import atomic_path
from forcing.grids import cell_area, lat_centres, lon_centres
from forcing.landmask import land_fraction

if TYPE_CHECKING:  # xarray (and pandas) cost seconds to import; only readers need them
    import xarray as xr

LUH2_STATES = (
    "primf",
    "primn",
    "secdf",
    "secdn",
    "urban",
    "c3ann",
    "c4ann",
    "c3per",
    "c4per",
    "c3nfx",
    "pastr",
    "range",
)
LUH2_TIME_UNITS = "years since 850-01-01 0:0:0"
LUH2_FILL = np.float32(1e20)
SPINUP_YEAR = 1850
_SUM_TOL = 1e-4
#: synthetic SSP land use: relative change of managed land from 2014 to 2100
SSP_MANAGED_CHANGE = {"ssp126": -0.15, "ssp370": 0.2, "ssp585": 0.05}
BROAD_CLASSES = {
    "forest": ("primf", "secdf"),
    "natural_nonforest": ("primn", "secdn", "range"),
    "crop": ("c3ann", "c4ann", "c3per", "c4per", "c3nfx"),
    "pasture": ("pastr",),
    "urban": ("urban",),
}


def write_luh2_states(
    out_dir: Path,
    years: Iterable[int],
    res_deg: float = 0.25,
    seed: int = 0,
    cache_dir: Path | None = None,
    ssp: str | None = None,
) -> list[Path]:
    """Write synthetic ``states.nc`` (contiguous ``years``) and ``staticData_quarterdeg.nc``.

    Natural vegetation splits into forest and non-forest by a latitude-based potential forest
    cover; managed land (crop + pasture + urban) grows logistically (centred 1930) toward a
    cell-specific maximum, converting primary to secondary land; C4 crops in the tropics.
    After 2014, with ``ssp``, managed land changes linearly to 2100 by an SSP-specific factor
    (:data:`SSP_MANAGED_CHANGE`: ssp126 reforests, ssp370 expands agriculture).
    """
    years = sorted(set(int(y) for y in years))
    if years != list(range(years[0], years[-1] + 1)):
        raise ValueError("states.nc covers contiguous years")
    lat = lat_centres(res_deg, descending=True)
    lon = lon_centres(res_deg)
    land = land_fraction(res_deg, cache_dir)[::-1].astype(np.float64)  # north to south
    lat2 = np.broadcast_to(lat[:, None], (lat.size, lon.size))
    rng = np.random.default_rng([seed, 850])
    alat = np.abs(lat2)
    forest_pot = np.clip(
        0.85 * np.exp(-((alat / 12.0) ** 2))
        + 0.75 * np.exp(-(((alat - 55.0) / 10.0) ** 2))
        + 0.35 * np.exp(-(((alat - 40.0) / 8.0) ** 2)),
        0.0,
        0.95,
    ) * (alat < 72.0)
    noise = rng.uniform(0.6, 1.0, lat2.shape)
    managed_max = np.clip(0.7 * np.exp(-(((alat - 38.0) / 18.0) ** 2)) * noise, 0.0, 0.8)
    managed_max *= lat2 > -56.0
    c4_share = np.exp(-((lat2 / 20.0) ** 2))

    final = Path(out_dir) / "states.nc"
    with atomic_path(final) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        _create_axes(ds, lat, lon)
        ds.comment = "SYNTHETIC DATA in the LUH2 states.nc layout"
        t = ds.createVariable("time", "f8", ("time",))
        t.units, t.calendar, t.long_name = LUH2_TIME_UNITS, "365_day", "time"
        handles = {}
        for name in (*LUH2_STATES, "secma", "secmb"):
            v = ds.createVariable(
                name,
                "f4",
                ("time", "lat", "lon"),
                fill_value=LUH2_FILL,
                zlib=True,
                complevel=1,
            )
            v.units = {"secma": "years", "secmb": "kg C m-2"}.get(name, "1")
            v.long_name = name
            handles[name] = v
        ocean = land <= 0.0
        for i, year in enumerate(years):
            grow = 1.0 / (1.0 + np.exp(-(min(year, 2014) - 1930.0) / 25.0))
            if ssp is not None and year > 2014:
                grow *= 1.0 + SSP_MANAGED_CHANGE[ssp] * (year - 2014) / 86.0
            managed = managed_max * grow * land
            natural = land - managed
            secondary = np.minimum(natural, 0.6 * managed + 0.1 * natural * grow)
            primary = natural - secondary
            crop = 0.4 * managed
            states = {
                "primf": primary * forest_pot,
                "primn": primary * (1.0 - forest_pot),
                "secdf": secondary * forest_pot,
                "secdn": secondary * (1.0 - forest_pot),
                "urban": 0.02 * managed,
                "c3ann": crop * 0.6 * (1.0 - c4_share),
                "c4ann": crop * 0.6 * c4_share,
                "c3per": crop * 0.15,
                "c4per": crop * 0.05,
                "c3nfx": crop * 0.2,  # 0.6 + 0.15 + 0.05 + 0.2 = all of the crop area
                "pastr": 0.38 * managed * 0.5,
                "range": 0.38 * managed * 0.5 + 0.2 * managed,
            }
            t[i] = year - 850
            for name, frac in states.items():
                handles[name][i] = np.where(ocean, LUH2_FILL, frac).astype(np.float32)
            handles["secma"][i] = np.where(ocean, LUH2_FILL, 20.0 + 60.0 * grow).astype(np.float32)
            handles["secmb"][i] = np.where(ocean, LUH2_FILL, 4.0 * forest_pot + 0.5).astype(
                np.float32
            )
    static = Path(out_dir) / "staticData_quarterdeg.nc"
    with atomic_path(static) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        _create_axes(ds, lat, lon)
        icwtr = ds.createVariable("icwtr", "f4", ("lat", "lon"))
        icwtr.units, icwtr.long_name = "1", "ice/water fraction"
        icwtr[:] = (1.0 - land).astype(np.float32)
        carea = ds.createVariable("carea", "f4", ("lat", "lon"))
        carea.units, carea.long_name = "km2", "cell area"
        carea[:] = (cell_area(lat, lon) / 1e6).astype(np.float32)
    return [final, static]


def _create_axes(ds: netCDF4.Dataset, lat: np.ndarray, lon: np.ndarray) -> None:
    if "time" not in ds.dimensions:
        ds.createDimension("time", None)
    ds.createDimension("lat", lat.size)
    ds.createDimension("lon", lon.size)
    la = ds.createVariable("lat", "f8", ("lat",))
    la.units, la.standard_name = "degrees_north", "latitude"
    la[:] = lat
    lo = ds.createVariable("lon", "f8", ("lon",))
    lo.units, lo.standard_name = "degrees_east", "longitude"
    lo[:] = lon


def read_luh2_states(path: Path, year: int) -> xr.Dataset:
    """The 12 state fractions of ``year`` (lat south to north), checked; NaN over the ocean."""
    path = Path(path)
    if not path.exists():
        raise ForcingError(path, None, "missing input file")
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise ForcingError(path, None, f"cannot open as netCDF: {exc}") from exc
    with ds:
        missing = [s for s in LUH2_STATES if s not in ds.variables]
        if missing:
            raise ForcingError(path, missing[0], f"missing variable(s) {missing}")
        tvar = ds.variables["time"]
        if not tvar.units.startswith("years since"):
            raise ForcingError(path, "time", f"time units {tvar.units!r}, expected 'years since'")
        origin = int(tvar.units.split("since")[1].strip().split("-")[0])
        years = origin + np.rint(np.asarray(tvar[:], dtype=np.float64)).astype(int)
        idx = np.flatnonzero(years == year)
        if idx.size != 1:
            raise ForcingError(
                path, "time", f"year {year} not in the file ({years[0]}-{years[-1]})"
            )
        lat = np.asarray(ds.variables["lat"][:], dtype=np.float64)
        lon = np.asarray(ds.variables["lon"][:], dtype=np.float64)
        flip = lat[0] > lat[-1]
        fracs = {}
        total = None
        land = None
        for name in LUH2_STATES:
            var = ds.variables[name]
            var.set_auto_maskandscale(False)
            if getattr(var, "units", "1") not in ("1", "fraction", "fraction of grid cell"):
                raise ForcingError(path, name, f"wrong units {var.units!r} (expected '1')")
            raw = np.asarray(var[idx[0]], dtype=np.float64)
            fill = float(getattr(var, "_FillValue", LUH2_FILL))
            valid = (raw != fill) & (np.abs(raw) < 1e19)
            land = valid if land is None else land
            where = _first(np.isnan(raw) & land)
            if where is not None:
                raise ForcingError(
                    path,
                    name,
                    "NaN over land",
                    value=float("nan"),
                    where=_place(where, lat, lon, year),
                )
            if not np.array_equal(valid, land):
                raise ForcingError(
                    path,
                    name,
                    "land mask differs from primf's",
                    where=_place(_first(valid != land), lat, lon, year),
                )
            bad = _first(land & ((raw < 0.0) | (raw > 1.0)))
            if bad is not None:
                raise ForcingError(
                    path,
                    name,
                    "fraction outside [0, 1]",
                    value=float(raw[bad]),
                    where=_place(bad, lat, lon, year),
                )
            frac = np.where(land, raw, np.nan)
            fracs[name] = frac
            total = frac if total is None else total + frac
        assert total is not None
        over = _first(total > 1.0 + _SUM_TOL)
        if over is not None:
            raise ForcingError(
                path,
                None,
                "states sum to more than 1",
                value=float(total[over]),
                where=_place(over, lat, lon, year),
            )
    if flip:
        lat = lat[::-1]
        fracs = {k: v[::-1] for k, v in fracs.items()}
    import xarray as xr

    return xr.Dataset(
        {k: (("lat", "lon"), v.astype(np.float32), {"units": "1"}) for k, v in fracs.items()},
        coords={"lat": lat, "lon": lon},
        attrs={"source_file": str(path), "year": year},
    )


def spinup_states(path: Path) -> xr.Dataset:
    """The 1850 land-use state, used unchanged through spin-up (TRENDY/CalLMIP practice)."""
    ds = read_luh2_states(path, SPINUP_YEAR)
    ds.attrs["comment"] = "pre-industrial (1850) constant land use for spin-up"
    return ds


def aggregate_states(states: xr.Dataset) -> xr.Dataset:
    """Sum the 12 LUH2 states into forest, natural_nonforest, crop, pasture and urban."""
    import xarray as xr

    return xr.Dataset(
        {name: sum(states[s] for s in members) for name, members in BROAD_CLASSES.items()},
        attrs=states.attrs,
    )


def _first(mask: np.ndarray) -> tuple[int, ...] | None:
    hits = np.argwhere(mask)
    return tuple(int(x) for x in hits[0]) if hits.size else None


def _place(idx: tuple[int, ...] | None, lat: np.ndarray, lon: np.ndarray, year: int) -> str:
    if idx is None:
        return f"year {year}"
    i, j = idx
    return f"year {year}, lat {lat[i]:.3f}, lon {lon[j]:.3f}"
