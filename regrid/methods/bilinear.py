"""Bilinear weights between rectilinear lat-lon grids.

Contract: pure numpy -> ``scipy.sparse.csr_matrix`` ``(n_dst, n_src)``, rows summing to 1
where the destination centre lies inside the source grid and empty elsewhere.

On a rectilinear grid bilinear interpolation is linear in latitude times linear in longitude
(in degrees, as CDO's ``genbil`` does for lon-lat grids), so the weights are the Kronecker
product of two 1-D linear-interpolation matrices. Longitude is periodic when the source closes
the circle. Destination centres between the outermost source centre and the source's outer
edge (e.g. the polar caps, or the rim of a regional grid) take the value of that outermost
cell, instead of being dropped or extrapolated linearly; centres outside the source cells get
no weight (NaN after regridding).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from regrid.grid import Grid

_TOL_DEG = 1e-9
_SNAP = 1e-12  # interpolation fractions this close to 0 or 1 are roundoff at a source node


def _snap(t: np.ndarray) -> np.ndarray:
    """Make targets that coincide with source centres exact (so same-grid is the identity)."""
    t = np.where(np.abs(t) < _SNAP, 0.0, t)
    return np.where(np.abs(1.0 - t) < _SNAP, 1.0, t)


def _pairs_to_csr(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    w = sp.csr_matrix((vals, (rows, cols)), shape=shape)
    w.sum_duplicates()
    w.eliminate_zeros()
    return w


def _linear(
    centres: np.ndarray, lo_edge: float, hi_edge: float, targets: np.ndarray, n_src: int,
    order: np.ndarray, periodic: bool,
) -> sp.csr_matrix:
    """1-D linear interpolation matrix from sorted ``centres`` (indices ``order``) to
    ``targets``; ``lo_edge``/``hi_edge`` bound the source cells."""
    n = centres.size
    rows_out, cols_out, vals_out = [], [], []
    idx = np.arange(targets.size)
    if periodic:
        y = centres[0] + (targets - centres[0]) % 360.0
        k = np.searchsorted(centres, y, side="right") - 1
        nxt = np.where(k < n - 1, k + 1, 0)
        right = np.where(k < n - 1, centres[np.minimum(k + 1, n - 1)], centres[0] + 360.0)
        t = _snap((y - centres[k]) / (right - centres[k])) if n > 1 else np.zeros_like(y)
        rows_out += [idx, idx]
        cols_out += [order[k], order[nxt]]
        vals_out += [1.0 - t, t]
    else:
        y = targets
        k = np.searchsorted(centres, y, side="right") - 1
        inner = (k >= 0) & (k < n - 1)
        at_end = (k == n - 1) & (np.abs(y - centres[-1]) <= _TOL_DEG)
        low_rim = (k < 0) & (y >= lo_edge - _TOL_DEG)
        high_rim = (k == n - 1) & ~at_end & (y <= hi_edge + _TOL_DEG)
        ki = k[inner]
        t = _snap((y[inner] - centres[ki]) / (centres[ki + 1] - centres[ki]))
        rows_out += [idx[inner], idx[inner], idx[at_end], idx[low_rim], idx[high_rim]]
        cols_out += [order[ki], order[ki + 1], np.full(at_end.sum(), order[-1]),
                     np.full(low_rim.sum(), order[0]), np.full(high_rim.sum(), order[-1])]
        vals_out += [1.0 - t, t, np.ones(at_end.sum()), np.ones(low_rim.sum()),
                     np.ones(high_rim.sum())]
    return _pairs_to_csr(np.concatenate(rows_out), np.concatenate(cols_out),
                         np.concatenate(vals_out), (targets.size, n_src))


def latitude_factor(src: Grid, dst: Grid) -> sp.csr_matrix:
    """``(ny_dst, ny_src)`` linear interpolation in latitude (degrees)."""
    order = np.argsort(src.lat, kind="stable")
    south, north = src.lat_intervals()
    return _linear(src.lat[order], float(south.min()), float(north.max()), dst.lat,
                   src.lat.size, order, periodic=False)


def longitude_factor(src: Grid, dst: Grid) -> sp.csr_matrix:
    """``(nx_dst, nx_src)`` linear interpolation in longitude, periodic for a global source."""
    lon = src.lon
    unwrapped = lon[0] + np.concatenate([[0.0], np.cumsum(np.diff(lon) % 360.0)])
    order = np.arange(lon.size)
    if src.is_global_lon:
        return _linear(unwrapped, 0.0, 0.0, dst.lon, lon.size, order, periodic=True)
    west, width = src.lon_intervals()
    west0 = unwrapped[0] - (lon[0] - west[0])
    east = unwrapped[-1] + (west[-1] + width[-1] - lon[-1])
    targets = west0 + (dst.lon - west0) % 360.0
    return _linear(unwrapped, west0, east, targets, lon.size, order, periodic=False)


def weights(src: Grid, dst: Grid) -> sp.csr_matrix:
    """Bilinear weights ``(n_dst, n_src)``; rows sum to 1 inside the source grid."""
    w = sp.kron(latitude_factor(src, dst), longitude_factor(src, dst), format="csr")
    w.sort_indices()
    return w
