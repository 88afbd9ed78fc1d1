"""Deterministic synthetic daily climate for CELM tests (until forcing/synthetic.py exists).

Latitude/season-driven and physically plausible, not realistic weather: daily-mean top-of-
atmosphere insolation (Allen et al. 1998 eq. 21) times a cloudiness-dependent transmissivity;
temperature from a zonal annual mean, a continental seasonal amplitude, crude elevation for the
ice sheets and Tibet, and AR(1) day-to-day noise; precipitation from a migrating ITCZ, storm
tracks and dry subtropics, with hand-drawn deserts, as wet/dry days with exponential amounts;
humidity from a relative humidity that follows wetness; longwave from Idso (1981) with a cloud
factor. Land fraction from ``global_land_mask`` sampled 3x3 per cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
from global_land_mask import globe

VARS = ("tas", "tasmax", "tasmin", "pr", "rsds", "rlds", "huss", "ps", "sfcWind")
UNITS = {
    "tas": "K",
    "tasmax": "K",
    "tasmin": "K",
    "pr": "kg m-2 s-1",
    "rsds": "W m-2",
    "rlds": "W m-2",
    "huss": "kg kg-1",
    "ps": "Pa",
    "sfcWind": "m s-1",
}
SIGMA = 5.670374419e-8


@dataclass(frozen=True)
class Grid:
    lat: np.ndarray
    lon: np.ndarray
    landfrac: np.ndarray

    @property
    def land_index(self) -> np.ndarray:
        return np.flatnonzero(self.landfrac.ravel() > 0)


def make_grid(res: float) -> Grid:
    lat = np.arange(-90 + res / 2, 90, res)
    lon = np.arange(-180 + res / 2, 180, res)
    off = (np.arange(3) - 1) * res / 3
    lat_s = np.clip(lat[:, None, None, None] + off[None, :, None, None], -89.99, 89.99)
    lon_s = lon[None, None, :, None] + off[None, None, None, :]
    la, lo = np.broadcast_arrays(lat_s, lon_s)
    land = globe.is_land(la, lo).reshape(lat.size, 3, lon.size, 3)
    landfrac = land.mean(axis=(1, 3))
    return Grid(lat, lon, landfrac)


def _box(lat, lon, la0, la1, lo0, lo1):
    return (lat >= la0) & (lat <= la1) & (lon >= lo0) & (lon <= lo1)


def land_climate(grid: Grid, year: int, seed: int = 0) -> np.ndarray:
    """Forcing over the land cells, float32 (365, 9, ncell) (the kernel's layout), order ``VARS``."""
    idx = grid.land_index
    lat = grid.lat[idx // grid.lon.size]
    lon = grid.lon[idx % grid.lon.size]
    n = idx.size
    rng = np.random.default_rng([seed, year])
    doy = np.arange(1, 366)[:, None]
    phi = np.deg2rad(lat)[None, :]
    # --- elevation (m), crude
    elev = np.zeros(n)
    elev[lat < -62] = 2200.0
    elev[_box(lat, lon, 60, 83, -60, -20)] = 1800.0
    elev[_box(lat, lon, 28, 38, 78, 100)] = 4000.0
    # --- dryness: 1 in deserts, 0 elsewhere
    desert = (
        _box(lat, lon, 15, 32, -17, 60)
        | _box(lat, lon, -32, -19, 118, 145)
        | _box(lat, lon, 25, 37, -118, -102)
        | _box(lat, lon, 36, 48, 55, 112)
        | _box(lat, lon, -30, -15, 12, 22)
        | _box(lat, lon, -30, -5, -75, -68)
    ).astype(float)
    # --- precipitation climatology (mm/d)
    itcz = 6.0 * np.sin(2 * np.pi * (doy - 80) / 365.0)
    p_itcz = 7.0 * np.exp(-(((lat[None, :] - itcz) / 10.0) ** 2))
    p_storm = 2.6 * np.exp(-(((np.abs(lat[None, :]) - 48.0) / 13.0) ** 2))
    p_polar = 0.5 * (np.abs(lat[None, :]) > 60)
    p_base = 0.4 + p_itcz + p_storm + p_polar
    monsoon = (
        _box(lat, lon, 5, 32, 70, 125)
        | _box(lat, lon, 20, 42, 105, 125)
        | _box(lat, lon, 25, 40, -100, -75)
        | _box(lat, lon, -35, -12, -60, -40)
        | _box(lat, lon, -25, 0, 25, 40)
        | _box(lat, lon, -38, -15, 145, 154)
        | _box(lat, lon, 8, 20, -100, -60)
    ).astype(float)
    summer = np.clip(np.sin(2 * np.pi * (doy - 80) / 365.0) * np.sign(lat[None, :] + 1e-9), 0, 1)
    p_base = p_base + monsoon[None, :] * (1.0 + 4.0 * summer)
    p_mean = p_base * (1.0 - 0.88 * desert[None, :])
    p_mean[:, lat < -62] = 0.3
    wet_prob = np.clip(p_mean / (p_mean + 2.5), 0.05, 0.85)
    wet = rng.random((365, n)) < wet_prob
    amount = rng.exponential(1.0, (365, n)) * p_mean / wet_prob
    pr_mm = np.where(wet, amount, 0.0)
    wetness = np.clip(p_mean / (p_mean + 2.0), 0.0, 1.0)
    # --- radiation
    decl = 0.409 * np.sin(2 * np.pi * doy / 365.0 - 1.39)
    dr = 1 + 0.033 * np.cos(2 * np.pi * doy / 365.0)
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(decl), -1, 1))
    toa = (
        1361.0 / np.pi * dr * (ws * np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.sin(ws))
    )
    cloud = np.clip(0.15 + 0.6 * wetness + 0.2 * wet, 0, 1)
    rsds = toa * (0.75 - 0.3 * cloud)
    # --- temperature (K)
    sin2 = np.sin(phi) ** 2
    t_ann = 27.5 - 42.0 * sin2 - 0.0065 * elev[None, :] + 4.0 * desert[None, :]
    t_ann = t_ann - 18.0 * (lat[None, :] < -62)
    amp = np.where(lat[None, :] > 0, 3.0 + 19.0 * np.abs(np.sin(phi)), 2.0 + 9.0 * np.abs(np.sin(phi)))
    season = -np.cos(2 * np.pi * (doy - 20) / 365.0) * np.sign(lat[None, :] + 1e-9)
    noise = np.empty((365, n))
    noise[0] = rng.normal(0, 2.0, n)
    eps = rng.normal(0, 2.0 * np.sqrt(1 - 0.7**2), (365, n))
    for d in range(1, 365):
        noise[d] = 0.7 * noise[d - 1] + eps[d]
    tas_c = t_ann + amp * season + noise - 2.0 * wet
    dtr = 7.0 + 7.0 * (1 - wetness) - 3.0 * wet
    tas = tas_c + 273.15
    tasmax = tas + dtr / 2
    tasmin = tas - dtr / 2
    # --- humidity, pressure, longwave, wind
    ps = 101325.0 * np.exp(-elev / 8400.0)[None, :] * np.ones((365, 1))
    rh = np.clip(0.35 + 0.45 * wetness + 0.1 * wet, 0.1, 0.95)
    es = 610.8 * np.exp(17.27 * tas_c / (tas_c + 237.3))
    e = rh * es
    huss = 0.622 * e / (ps - 0.378 * e)
    eps_a = np.clip(0.70 + 5.95e-7 * e * np.exp(1500.0 / tas), 0.5, 1.0)
    rlds = eps_a * SIGMA * tas**4 * (1 + 0.18 * cloud)
    wind = np.clip(3.0 + 1.5 * np.abs(np.sin(phi)) + rng.normal(0, 1.0, (365, n)), 0.3, 20)
    out = np.stack(
        [tas, tasmax, tasmin, pr_mm / 86400.0, rsds, rlds, huss, ps, wind], axis=1
    ).astype(np.float32)
    return np.ascontiguousarray(out)


def write_forcing(directory: Path, grid: Grid, years: list[int], seed: int = 0) -> Path:
    """Write model-ready ``met_<YYYY>.nc`` files (NaN over ocean) for ``years``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    res_lat = grid.lat[1] - grid.lat[0]
    res_lon = grid.lon[1] - grid.lon[0]
    idx = grid.land_index
    for year in years:
        data = land_climate(grid, year, seed)
        with netCDF4.Dataset(directory / f"met_{year:04d}.nc", "w") as ds:
            ds.Conventions = "CF-1.8"
            ds.createDimension("time", 365)
            ds.createDimension("lat", grid.lat.size)
            ds.createDimension("lon", grid.lon.size)
            ds.createDimension("bnds", 2)
            t = ds.createVariable("time", "f8", ("time",))
            t[:] = np.arange(365) + 0.5
            t.units = f"days since {year:04d}-01-01"
            t.calendar = "noleap"
            for name, c, res in (("lat", grid.lat, res_lat), ("lon", grid.lon, res_lon)):
                v = ds.createVariable(name, "f8", (name,))
                v[:] = c
                v.units = "degrees_north" if name == "lat" else "degrees_east"
                v.bounds = f"{name}_bnds"
                ds.createVariable(f"{name}_bnds", "f8", (name, "bnds"))[:] = np.stack(
                    [c - res / 2, c + res / 2], axis=1
                )
            ds.createVariable("landfrac", "f4", ("lat", "lon"))[:] = grid.landfrac
            for k, name in enumerate(VARS):
                v = ds.createVariable(name, "f4", ("time", "lat", "lon"), fill_value=np.float32(np.nan))
                v.units = UNITS[name]
                full = np.full((365, grid.lat.size * grid.lon.size), np.nan, np.float32)
                full[:, idx] = data[:, k]
                v[:] = full.reshape(365, grid.lat.size, grid.lon.size)
    return directory
