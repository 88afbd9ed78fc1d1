"""Regular global latitude-longitude grids as the forcing layouts lay them out.

Contract: pure functions returning numpy arrays of cell centres, bounds and areas for a global
grid of ``res_deg`` degrees. They exist so the generators and land-mask code need nothing from
``regrid`` (which does the remapping); the grids they describe are the same ones
``regrid.Grid.global_regular`` builds.
"""

from __future__ import annotations

import numpy as np

from callmip.constants import EARTH_RADIUS_AUTHALIC_M


def check_resolution(res_deg: float) -> tuple[int, int]:
    """Number of (lat, lon) cells of a global grid; the resolution must divide 180 degrees."""
    nlat = round(180.0 / res_deg)
    if nlat <= 0 or abs(nlat * res_deg - 180.0) > 1e-9:
        raise ValueError(f"resolution {res_deg} degrees does not divide 180 degrees")
    return nlat, 2 * nlat


def lat_centres(res_deg: float, descending: bool = False) -> np.ndarray:
    """Cell-centre latitudes, south to north (or north to south when ``descending``)."""
    nlat, _ = check_resolution(res_deg)
    lat = -90.0 + res_deg * (np.arange(nlat) + 0.5)
    return lat[::-1].copy() if descending else lat


def lon_centres(res_deg: float, lon0: float = -180.0) -> np.ndarray:
    """Cell-centre longitudes, west to east from ``lon0``."""
    _, nlon = check_resolution(res_deg)
    return lon0 + res_deg * (np.arange(nlon) + 0.5)


def bounds_from_centres(centres: np.ndarray) -> np.ndarray:
    """(n, 2) cell bounds of a regular axis from its centres (CF ``*_bnds`` layout)."""
    step = np.diff(centres).mean() if centres.size > 1 else 1.0
    return np.stack([centres - step / 2.0, centres + step / 2.0], axis=1)


def cell_area(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Spherical cell areas (m2) of a regular grid, shape (lat, lon)."""
    lat_b = np.deg2rad(bounds_from_centres(lat))
    lon_b = np.deg2rad(bounds_from_centres(lon))
    band = np.abs(np.sin(lat_b[:, 1]) - np.sin(lat_b[:, 0]))
    width = np.abs(lon_b[:, 1] - lon_b[:, 0])
    return EARTH_RADIUS_AUTHALIC_M**2 * band[:, None] * width[None, :]
