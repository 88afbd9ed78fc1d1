"""Real land fraction on regular global grids, from the GLOBE 1-km mask in ``global-land-mask``.

Contract: :func:`land_fraction` returns the fraction (0..1) of each cell of a ``res_deg`` grid
that is land according to the GLOBE mask, south-to-north rows and west-to-east columns from
-180; :func:`crujra_land_mask` turns it into the binary land-only mask the CRU-JRA layout uses.

Why cached on disk: importing ``global_land_mask.globe`` decompresses a 21600 x 43200 boolean
array (about 1 GB of memory, 3 s). We block-average it once per resolution and keep the small
result (``landfrac_<res>.npy``) in a cache directory, so dask workers and repeated demo runs
never pay that cost again. The cache is written atomically and is pure derived data.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from callmip.atomic import atomic_path
from forcing.grids import check_resolution

logger = logging.getLogger(__name__)

GLOBE_PIXELS_PER_DEGREE = 120
BASE_RES_DEG = 0.25
"""Grids whose resolution is a multiple of this are averaged from the cached 0.25-degree
fraction (the same unweighted mean of GLOBE pixels, since all pixels are equal-angle)."""
CRUJRA_LAND_THRESHOLD = 0.5
"""A cell is land in the CRU-JRA layout when at least half of it is land."""
CRUJRA_SOUTHERN_LIMIT = -60.0
"""CRU TS (and hence CRU-JRA) has no data over Antarctica."""


def default_cache_dir() -> Path:
    """``$CALLMIP_CACHE_DIR`` or ``$XDG_CACHE_HOME/callmip-global`` (``~/.cache/...``)."""
    env = os.environ.get("CALLMIP_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "callmip-global"


def land_fraction(res_deg: float, cache_dir: Path | None = None) -> np.ndarray:
    """Land fraction (float32, shape (nlat, nlon), south to north, lon from -180)."""
    nlat, nlon = check_resolution(res_deg)
    cache = (cache_dir or default_cache_dir()) / f"landfrac_{res_deg:g}deg.npy"
    if cache.exists():
        frac = np.load(cache)
        if frac.shape == (nlat, nlon):
            return frac
        logger.warning("ignoring land-fraction cache %s with shape %s", cache, frac.shape)
    k = res_deg / BASE_RES_DEG
    if res_deg != BASE_RES_DEG and abs(k - round(k)) < 1e-9:
        # average the cached base grid: one GLOBE decompression serves every coarser grid
        k = round(k)
        base = land_fraction(BASE_RES_DEG, cache_dir).astype(np.float64)
        frac = base.reshape(nlat, k, nlon, k).mean(axis=(1, 3)).astype(np.float32)
    else:
        frac = _compute_land_fraction(res_deg)
    _save_atomic(cache, frac)
    return frac


def crujra_land_mask(res_deg: float, cache_dir: Path | None = None) -> np.ndarray:
    """Boolean land mask of the CRU-JRA layout: majority-land cells north of 60 S."""
    frac = land_fraction(res_deg, cache_dir)
    nlat, _ = frac.shape
    lat = -90.0 + res_deg * (np.arange(nlat) + 0.5)
    return (frac >= CRUJRA_LAND_THRESHOLD) & (lat[:, None] > CRUJRA_SOUTHERN_LIMIT)


def _compute_land_fraction(res_deg: float) -> np.ndarray:
    from global_land_mask import globe

    ocean = globe._mask  # (21600, 43200), True = ocean, rows 90N -> 90S, cols from -180
    nlat, nlon = check_resolution(res_deg)
    k = res_deg * GLOBE_PIXELS_PER_DEGREE
    if abs(k - round(k)) < 1e-9 and round(k) >= 1:
        k = round(k)
        frac = np.empty((nlat, nlon), dtype=np.float32)
        for i in range(nlat):  # one latitude band at a time keeps memory small
            band = ocean[i * k : (i + 1) * k].reshape(k, nlon, k)
            frac[i] = 1.0 - band.sum(axis=(0, 2), dtype=np.int64) / float(k * k)
        frac = frac[::-1].copy()  # north-first rows -> south-to-north
    else:  # resolutions that are not whole multiples of the 1/120-degree pixel
        sub = 8
        offs = (np.arange(sub) + 0.5) / sub * res_deg
        lat = -90.0 + res_deg * np.arange(nlat)
        lon = -180.0 + res_deg * np.arange(nlon)
        lat_s = (lat[:, None] + offs[None, :]).ravel()
        lon_s = (lon[:, None] + offs[None, :]).ravel()
        land = globe.is_land(lat_s[:, None], lon_s[None, :])
        frac = land.reshape(nlat, sub, nlon, sub).mean(axis=(1, 3)).astype(np.float32)
    logger.info("computed GLOBE land fraction at %g degrees", res_deg)
    return frac


def _save_atomic(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.save(fh, array)
