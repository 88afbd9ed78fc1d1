"""xESMF backend: weights from ESMF through xESMF, only where ``esmpy`` imports.

Contract: ``weights(src, dst, method)`` builds an ``xesmf.Regridder`` on the two grids (with
their exact cell edges ``lat_b``/``lon_b``) and returns its weight matrix as
``scipy.sparse.csr_matrix`` ``(n_dst, n_src)``. xESMF flattens ``(lat, lon)`` fields in C
order like we do, and ESMF's default ``destarea`` normalisation is our convention, so no
conversion is needed. Without ESMF the call raises :class:`BackendUnavailableError` naming
the import error (ESMF is not on PyPI; it comes from conda-forge's ``esmpy``).
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

import numpy as np
import scipy.sparse as sp
import xarray as xr

from regrid.errors import BackendUnavailableError, GridError, RegridError
from regrid.grid import Grid

log = logging.getLogger(__name__)

XESMF_METHODS = {"conservative": "conservative", "bilinear": "bilinear",
                 "nearest": "nearest_s2d"}


def import_xesmf() -> ModuleType:
    """Import xesmf, or raise :class:`BackendUnavailableError` with the reason."""
    try:
        importlib.import_module("esmpy")
    except ImportError as err:
        raise BackendUnavailableError(
            f"the xesmf backend needs ESMF's Python bindings 'esmpy', which cannot be imported "
            f"here ({err}); install esmpy from conda-forge or use backend='native'"
        ) from err
    try:
        return importlib.import_module("xesmf")
    except ImportError as err:
        raise BackendUnavailableError(
            f"esmpy imports but 'xesmf' does not ({err}); pip install xesmf"
        ) from err


def _edges(bounds_lo: np.ndarray, bounds_hi: np.ndarray, name: str) -> np.ndarray:
    """``n+1`` contiguous edges (xESMF's ``lat_b``/``lon_b``) from per-cell bounds."""
    if not np.allclose(bounds_hi[:-1], bounds_lo[1:], rtol=0, atol=1e-9):
        raise GridError(
            f"xesmf backend needs contiguous cells along '{name}' (xESMF takes n+1 edges); "
            "this grid has gaps"
        )
    return np.concatenate([bounds_lo, bounds_hi[-1:]])


def grid_dataset(grid: Grid) -> xr.Dataset:
    """``grid`` in xESMF's layout: 1-D ``lat``/``lon`` and ``lat_b``/``lon_b`` edges."""
    south, north = grid.lat_intervals()
    ascending = grid.lat.size < 2 or grid.lat[1] > grid.lat[0]
    lat_lo, lat_hi = (south, north) if ascending else (north, south)
    west, width = grid.lon_intervals()
    lon = grid.lon[0] + np.concatenate([[0.0], np.cumsum(np.diff(grid.lon) % 360.0)])
    west = lon - (grid.lon - west)
    return xr.Dataset(coords={
        "lat": ("lat", grid.lat), "lon": ("lon", lon),
        "lat_b": ("lat_b", _edges(lat_lo, lat_hi, grid.lat_name)),
        "lon_b": ("lon_b", _edges(west, west + width, grid.lon_name)),
    })


def weights(src: Grid, dst: Grid, method: str) -> sp.csr_matrix:
    """ESMF's weights for ``method`` via xESMF (destination-area convention)."""
    if method not in XESMF_METHODS:
        raise RegridError(f"xesmf backend: unknown method {method!r}")
    xesmf = import_xesmf()
    regridder = xesmf.Regridder(
        grid_dataset(src), grid_dataset(dst), XESMF_METHODS[method],
        periodic=src.is_global_lon, unmapped_to_nan=True,
    )
    coo = regridder.weights.data  # sparse.COO (n_out, n_in)
    rows, cols = coo.coords
    w = sp.csr_matrix((np.asarray(coo.data, dtype=np.float64), (rows, cols)),
                      shape=(dst.size, src.size))
    w.sum_duplicates()
    w.sort_indices()
    return w
