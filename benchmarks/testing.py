"""Writers of small real NetCDF inputs for tests, benchmarks and parity checks.

Contract: :func:`write_callmip_monthly` writes a CalLMIP-conformed monthly global file (noleap
calendar with ``time_bnds``, lat/lon with bounds, the protocol's global attributes and units)
and :func:`write_reference` a reference product in the ILAMB layout, from arrays the caller
provides. :func:`seasonal_field` makes a plausible field (land-only, with a seasonal cycle,
interannual noise and spatial structure) from a seed. These are the same file formats the
pipeline produces and ILAMB 2.7 reads, so tests exercise the real readers.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import netCDF4
import numpy as np

from benchmarks.fields import DAYS_PER_MONTH, MONTH_EDGES
from benchmarks.variables import CALLMIP_UNITS, LONG_NAMES


def regular_grid(resolution: float, *, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Global cell centres at ``resolution`` degrees (optionally offset from the edges)."""
    lat = np.arange(-90 + resolution / 2, 90, resolution) + offset
    lon = np.arange(-180 + resolution / 2, 180, resolution) + offset
    return lat[lat < 90], lon[lon < 180]


def monthly_time(years: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Noleap time centres and bounds (days since 1850-01-01) for whole years."""
    nyear = years[1] - years[0] + 1
    start = np.concatenate(
        [(y - 1850) * 365.0 + MONTH_EDGES[:12] for y in range(years[0], years[1] + 1)]
    )
    bounds = np.stack([start, start + np.tile(DAYS_PER_MONTH, nyear)], axis=1)
    return bounds.mean(axis=1), bounds


#: The shipped FLUXCOM LE file: its valid cells are a real 2-degree land mask that loads in
#: milliseconds (global-land-mask needs seconds to load its 1 km raster).
SHIPPED_LAND = (
    Path(__file__).resolve().parents[1] / "data/ILAMB_ROOT/DATA/Latent_Heat/FLUXCOM/le.nc"
)


def land_mask(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """True over vegetated land (nearest cell of FLUXCOM's valid-data mask), south of 84N.

    Falls back to global-land-mask (slow to import) when the shipped file is absent.
    """
    if SHIPPED_LAND.exists():
        with netCDF4.Dataset(SHIPPED_LAND) as ds:
            valid = np.isfinite(np.ma.filled(ds["le"][0].astype(float), np.nan))
            slat, slon = np.asarray(ds["lat"][:]), np.asarray(ds["lon"][:])
        rows = np.abs(np.asarray(lat)[:, None] - slat[None, :]).argmin(axis=1)
        lon180 = ((np.asarray(lon) + 180.0) % 360.0) - 180.0
        dlon = np.abs(((lon180[:, None] - slon[None, :]) + 180.0) % 360.0 - 180.0)
        return valid[np.ix_(rows, dlon.argmin(axis=1))]
    from global_land_mask import globe

    lon2, lat2 = np.meshgrid(lon, lat)
    return globe.is_land(lat2, ((lon2 + 180) % 360) - 180) & (lat2 > -60)


def seasonal_field(
    lat: np.ndarray,
    lon: np.ndarray,
    years: tuple[int, int],
    *,
    mean: float,
    amplitude: float,
    seed: int,
    phase_months: float = 0.0,
    noise: float = 0.1,
    mask: np.ndarray | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """A (time, lat, lon) field with latitude-dependent mean and seasonal cycle."""
    rng = np.random.default_rng(seed)
    ntime = 12 * (years[1] - years[0] + 1)
    t = np.arange(ntime)[:, None, None]
    latr = np.deg2rad(lat)[None, :, None]
    lonr = np.deg2rad(lon)[None, None, :]
    spatial = mean * (0.6 + 0.4 * np.cos(latr) ** 2 + 0.15 * np.sin(2 * lonr) * np.cos(latr))
    hemi = np.where(lat >= 0, 1.0, -1.0)[None, :, None]
    cycle = (
        amplitude * np.cos(latr) ** 0.5 * hemi * np.cos(2 * np.pi * (t - 6.0 - phase_months) / 12.0)
    )
    out = spatial + cycle
    out = out + noise * mean * rng.standard_normal(out.shape)
    if mask is not None:
        out = np.where(mask[None], out, np.nan)
    return out.astype(dtype)


def _atomic_dataset(path: Path) -> tuple[str, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    return tmp, path


def _write_grid(ds: netCDF4.Dataset, lat: np.ndarray, lon: np.ndarray) -> None:
    ds.createDimension("lat", lat.size)
    ds.createDimension("lon", lon.size)
    ds.createDimension("bnds", 2)
    dlat = np.gradient(lat) if lat.size > 1 else np.array([1.0])
    dlon = np.gradient(lon) if lon.size > 1 else np.array([1.0])
    v = ds.createVariable("lat", "f8", ("lat",))
    v.setncatts(
        {
            "units": "degrees_north",
            "long_name": "latitude",
            "standard_name": "latitude",
            "axis": "Y",
            "bounds": "lat_bnds",
        }
    )
    v[:] = lat
    ds.createVariable("lat_bnds", "f8", ("lat", "bnds"))[:] = np.clip(
        np.stack([lat - dlat / 2, lat + dlat / 2], axis=1), -90, 90
    )
    v = ds.createVariable("lon", "f8", ("lon",))
    v.setncatts(
        {
            "units": "degrees_east",
            "long_name": "longitude",
            "standard_name": "longitude",
            "axis": "X",
            "bounds": "lon_bnds",
        }
    )
    v[:] = lon
    ds.createVariable("lon_bnds", "f8", ("lon", "bnds"))[:] = np.stack(
        [lon - dlon / 2, lon + dlon / 2], axis=1
    )


def daily_time(years: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Noleap daily time centres and bounds (days since 1850-01-01) for whole years."""
    start = (years[0] - 1850) * 365.0 + np.arange(365 * (years[1] - years[0] + 1), dtype=float)
    bounds = np.stack([start, start + 1.0], axis=1)
    return bounds.mean(axis=1), bounds


def _write_time(
    ds: netCDF4.Dataset, years: tuple[int, int], calendar: str, frequency: str = "monthly"
) -> None:
    time, bounds = monthly_time(years) if frequency == "monthly" else daily_time(years)
    ds.createDimension("time", None)
    v = ds.createVariable("time", "f8", ("time",))
    v.setncatts(
        {
            "units": "days since 1850-01-01 00:00:00",
            "calendar": calendar,
            "standard_name": "time",
            "axis": "T",
            "bounds": "time_bnds",
        }
    )
    v[:] = time
    ds.createVariable("time_bnds", "f8", ("time", "bnds"))[:] = bounds


def write_callmip_monthly(
    path: Path,
    *,
    model: str,
    stage: str,
    lat: np.ndarray,
    lon: np.ndarray,
    years: tuple[int, int],
    variables: Mapping[str, np.ndarray],
    frequency: str = "monthly",
) -> Path:
    """Write a CalLMIP-conformed global file with the given (time, lat, lon) arrays.

    ``frequency`` is 'monthly' (12 steps a year) or 'daily' (365 steps a year, noleap).
    """
    tmp, path = _atomic_dataset(Path(path))
    try:
        with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
            ds.setncatts(
                {
                    "Model": model,
                    "CalLMIP_Phase": "Phase1b",
                    "Calibration_Scenario": "Scen1",
                    "Calibration_stage": stage,
                    "Cal_Val": "Calibration",
                    "Conventions": "CF-1.8",
                }
            )
            _write_grid(ds, lat, lon)
            _write_time(ds, years, "noleap", frequency)
            for name, values in variables.items():
                v = ds.createVariable(
                    name,
                    "f4",
                    ("time", "lat", "lon"),
                    zlib=True,
                    complevel=1,
                    fill_value=np.float32(1e20),
                )
                v.setncatts({"units": CALLMIP_UNITS[name], "long_name": LONG_NAMES[name]})
                v[:] = np.ma.masked_invalid(values)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_reference(
    path: Path,
    *,
    name: str,
    values: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    years: tuple[int, int],
    units: str,
    calendar: str = "365_day",
) -> Path:
    """Write a monthly reference product in the ILAMB layout (CF, with bounds)."""
    tmp, path = _atomic_dataset(Path(path))
    try:
        with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
            ds.setncatts({"title": f"synthetic {name}", "Conventions": "CF-1.8"})
            _write_grid(ds, lat, lon)
            _write_time(ds, years, calendar)
            v = ds.createVariable(
                name, "f8", ("time", "lat", "lon"), zlib=True, complevel=1, fill_value=-999.0
            )
            v.setncatts({"units": units})
            v[:] = np.ma.masked_invalid(values)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
