"""Read and check one year of model-ready forcing (``met_<YYYY>.nc``).

Contract: :func:`read_grid` builds the :class:`~celm.grid.LandGrid` from a forcing file;
:func:`read_forcing_year` returns the year's forcing as a float32 array (365, NFORCING, ncell)
over the land cells, rows ordered like :data:`celm.kernel.FORCING_VARS`. Every problem - missing
file or variable, wrong units, wrong calendar or length, a grid that differs from the run's,
NaN or out-of-range values over land - raises :class:`~celm.errors.CelmInputError` naming the
file, the variable and the problem (and for values, where).

File layout (written by the forcing stage): dims (time, lat, lon), 365 daily steps, time in
'days since YYYY-01-01' on the 'noleap' calendar, 1-D lat/lon with bounds, float32 variables
tas, tasmax, tasmin (K), pr (kg m-2 s-1), rsds, rlds (W m-2), huss (kg kg-1), ps (Pa),
sfcWind (m s-1), plus static ``landfrac`` (lat, lon).
"""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np

from celm.errors import CelmInputError, open_input
from celm.grid import LandGrid
from celm.kernel import FORCING_VARS

DAYS = 365
#: accepted unit spellings per variable
UNITS: dict[str, tuple[str, ...]] = {
    "tas": ("K",),
    "tasmax": ("K",),
    "tasmin": ("K",),
    "pr": ("kg m-2 s-1", "kg m^-2 s^-1", "kg/m2/s", "kg m-2 s**-1"),
    "rsds": ("W m-2", "W m^-2", "W/m2", "W m**-2"),
    "rlds": ("W m-2", "W m^-2", "W/m2", "W m**-2"),
    "huss": ("kg kg-1", "1", "kg/kg", "kg kg**-1", "kg kg^-1"),
    "ps": ("Pa",),
    "sfcWind": ("m s-1", "m/s", "m s^-1", "m s**-1"),
}
#: physically possible range over land (generous: catches unit mix-ups, not weather)
RANGES: dict[str, tuple[float, float]] = {
    "tas": (150.0, 350.0),
    "tasmax": (150.0, 360.0),
    "tasmin": (140.0, 350.0),
    "pr": (-1e-6, 0.1),
    "rsds": (-1.0, 600.0),
    "rlds": (0.0, 800.0),
    "huss": (0.0, 0.1),
    "ps": (3.0e4, 1.15e5),
    "sfcWind": (0.0, 100.0),
}
_NOLEAP = ("noleap", "365_day")


def forcing_path(forcing_dir: Path, year: int) -> Path:
    return Path(forcing_dir) / f"met_{year:04d}.nc"


def _open(path: Path) -> netCDF4.Dataset:
    return open_input(path, "forcing file")


def _bounds(ds: netCDF4.Dataset, path: Path, name: str, centres: np.ndarray) -> np.ndarray:
    bname = getattr(ds.variables[name], "bounds", f"{name}_bnds")
    if bname in ds.variables:
        return np.asarray(ds.variables[bname][:], dtype=np.float64)
    if centres.size < 2:
        raise CelmInputError(path, bname, "missing and cannot be inferred from one cell")
    half = np.diff(centres).mean() / 2.0
    return np.stack([centres - half, centres + half], axis=1)


def read_grid(path: Path) -> LandGrid:
    """The land grid of a forcing file (coordinates, bounds, landfrac)."""
    path = Path(path)
    with _open(path) as ds:
        for name in ("lat", "lon", "landfrac"):
            if name not in ds.variables:
                raise CelmInputError(path, name, "variable missing")
        lat = np.asarray(ds.variables["lat"][:], dtype=np.float64)
        lon = np.asarray(ds.variables["lon"][:], dtype=np.float64)
        landfrac = np.ma.filled(ds.variables["landfrac"][:], 0.0).astype(np.float64)
        if landfrac.shape != (lat.size, lon.size):
            raise CelmInputError(
                path, "landfrac", f"shape {landfrac.shape} != (lat, lon) {(lat.size, lon.size)}"
            )
        if np.any(np.isnan(landfrac)) or landfrac.min() < 0 or landfrac.max() > 1.0 + 1e-6:
            raise CelmInputError(path, "landfrac", "must be within [0, 1] without NaN")
        grid = LandGrid(
            lat=lat,
            lon=lon,
            lat_bnds=_bounds(ds, path, "lat", lat),
            lon_bnds=_bounds(ds, path, "lon", lon),
            landfrac=landfrac,
        )
    if grid.ncell == 0:
        raise CelmInputError(path, "landfrac", "no land cell (landfrac > 0) on the grid")
    return grid


def _check_time(ds: netCDF4.Dataset, path: Path, year: int) -> None:
    if "time" not in ds.variables or "time" not in ds.dimensions:
        raise CelmInputError(path, "time", "coordinate missing")
    n = len(ds.dimensions["time"])
    if n != DAYS:
        raise CelmInputError(path, "time", f"has {n} steps; expected {DAYS} daily steps")
    cal = str(getattr(ds.variables["time"], "calendar", "standard")).lower()
    if cal not in _NOLEAP:
        raise CelmInputError(path, "time", f"calendar '{cal}'; expected 'noleap' (365-day)")
    units = str(getattr(ds.variables["time"], "units", ""))
    if not units.startswith("days since"):
        raise CelmInputError(path, "time", f"units '{units}'; expected 'days since {year}-01-01'")


def read_forcing_year(path: Path, grid: LandGrid) -> np.ndarray:
    """The year's forcing over land, float32 (365, NFORCING, ncell), checked."""
    path = Path(path)
    year_text = path.stem.split("_")[-1]
    year = int(year_text) if year_text.isdigit() else 0
    out = np.empty((DAYS, len(FORCING_VARS), grid.ncell), dtype=np.float32)
    with _open(path) as ds:
        _check_time(ds, path, year)
        for name in ("lat", "lon"):
            if name not in ds.variables:
                raise CelmInputError(path, name, "coordinate missing")
        lat = np.asarray(ds.variables["lat"][:], dtype=np.float64)
        lon = np.asarray(ds.variables["lon"][:], dtype=np.float64)
        if lat.shape != grid.lat.shape or lon.shape != grid.lon.shape or not (
            np.allclose(lat, grid.lat, atol=1e-6) and np.allclose(lon, grid.lon, atol=1e-6)
        ):
            raise CelmInputError(path, "lat/lon", "grid differs from the run's first forcing file")
        for k, name in enumerate(FORCING_VARS):
            if name not in ds.variables:
                raise CelmInputError(path, name, "variable missing")
            var = ds.variables[name]
            units = str(getattr(var, "units", "")).strip()
            if units not in UNITS[name]:
                raise CelmInputError(
                    path, name, f"units '{units}'; expected '{UNITS[name][0]}'"
                )
            if var.dimensions != ("time", "lat", "lon"):
                raise CelmInputError(path, name, f"dims {var.dimensions}; need (time, lat, lon)")
            var.set_auto_mask(False)
            raw = np.asarray(var[:], dtype=np.float32).reshape(DAYS, -1)
            fill = getattr(var, "_FillValue", None)
            land = raw[:, grid.land_index]
            if fill is not None and not np.isnan(fill):
                land = np.where(land == np.float32(fill), np.float32(np.nan), land)
            _check_values(path, name, land, grid)
            out[:, k] = land
    return out


def _check_values(path: Path, name: str, land: np.ndarray, grid: LandGrid) -> None:
    lo, hi = RANGES[name]
    bad = ~np.isfinite(land) | (land < lo) | (land > hi)
    if np.any(bad):
        day, cell = np.argwhere(bad)[0]
        flat = grid.land_index[cell]
        where = (
            f"day {day + 1}, lat {grid.lat[flat // grid.lon.size]:.2f}, "
            f"lon {grid.lon[flat % grid.lon.size]:.2f}; {int(bad.sum())} bad value(s) over land"
        )
        raise CelmInputError(
            path, name, f"value {land[day, cell]!r} outside [{lo}, {hi}] or not finite at {where}"
        )
