"""Nearest-neighbour weights between rectilinear lat-lon grids.

Contract: pure numpy/scipy -> ``scipy.sparse.csr_matrix`` ``(n_dst, n_src)`` with one weight of
1 per destination cell whose centre lies inside the source grid's extent; cells outside it get
no weight (NaN after regridding, no extrapolation from a regional source).

"Nearest" is by great-circle distance between cell centres (as CDO ``gennn`` and ESMF
``nearest_s2d``): centres are mapped to unit vectors and searched with a k-d tree, since chord
length is monotonic in great-circle distance. On a lat-lon grid the nearest centre is *not*
always the one found by rounding lat and lon separately (towards the poles a neighbour row can
be closer), so the search is done in 3-D.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from regrid.grid import Grid

_TOL_DEG = 1e-9


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    lat2, lon2 = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    cos_lat = np.cos(lat2)
    return np.column_stack(
        [(cos_lat * np.cos(lon2)).ravel(), (cos_lat * np.sin(lon2)).ravel(), np.sin(lat2).ravel()]
    )


def inside_extent(src: Grid, dst: Grid) -> np.ndarray:
    """Boolean ``(n_dst,)``: destination centres inside the source grid's lat/lon extent."""
    south, north = src.lat_intervals()
    in_lat = (dst.lat >= south.min() - _TOL_DEG) & (dst.lat <= north.max() + _TOL_DEG)
    if src.is_global_lon:
        in_lon = np.ones(dst.lon.size, dtype=bool)
    else:
        west, width = src.lon_intervals()
        unwrapped = src.lon[0] + np.concatenate([[0.0], np.cumsum(np.diff(src.lon) % 360.0)])
        west0 = unwrapped[0] - (src.lon[0] - west[0])
        east = unwrapped[-1] + (west[-1] + width[-1] - src.lon[-1])
        in_lon = (dst.lon - west0) % 360.0 <= east - west0 + _TOL_DEG
    return np.outer(in_lat, in_lon).ravel()


def weights(src: Grid, dst: Grid) -> sp.csr_matrix:
    """Nearest-source-centre weights (one 1 per covered destination cell)."""
    inside = np.flatnonzero(inside_extent(src, dst))
    tree = cKDTree(_unit_vectors(src.lat, src.lon))
    _, nearest = tree.query(_unit_vectors(dst.lat, dst.lon)[inside], k=1)
    w = sp.csr_matrix(
        (np.ones(inside.size), (inside, nearest)), shape=(dst.size, src.size)
    )
    w.sort_indices()
    return w
