"""Vectorised 1-D interval overlaps: the building block of the separable lat-lon methods.

Contract: pure numpy. Given two sets of non-overlapping intervals (source and destination
cells along one axis), return every overlapping pair with the overlap interval, without a
Python loop over cells: candidates come from ``searchsorted`` on the sorted source edges, so
the cost is O((n_src + n_dst) log n_src + n_pairs). Longitudes are handled on the circle by
tiling the source three times (shifted by -360, 0, +360 degrees), which makes 0..360 and
-180..180 grids, and regional grids across the dateline, just work.
"""

from __future__ import annotations

import numpy as np

SLIVER_DEG = 1e-10
"""Overlaps thinner than this (degrees) are roundoff between coincident edges and dropped."""


def overlaps(
    src_lo: np.ndarray, src_hi: np.ndarray, dst_lo: np.ndarray, dst_hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All overlapping (dst, src) pairs of two interval sets on a line.

    Parameters
    ----------
    src_lo, src_hi
        Source intervals, shape ``(n_src,)``, ``lo < hi``, mutually non-overlapping, any order.
    dst_lo, dst_hi
        Destination intervals, shape ``(n_dst,)``, ``lo < hi``, any order.

    Returns
    -------
    rows, cols, lo, hi
        Destination index, source index and the overlap ``[lo, hi]`` of every pair whose
        overlap is wider than :data:`SLIVER_DEG`.
    """
    order = np.argsort(src_lo, kind="stable")
    s_lo, s_hi = src_lo[order], src_hi[order]
    # non-overlapping intervals sorted by lo are also sorted by hi
    start = np.searchsorted(s_hi, dst_lo, side="right")
    stop = np.searchsorted(s_lo, dst_hi, side="left")
    counts = np.maximum(stop - start, 0)
    rows = np.repeat(np.arange(dst_lo.size), counts)
    offsets = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
    sorted_cols = np.repeat(start, counts) + offsets
    lo = np.maximum(dst_lo[rows], s_lo[sorted_cols])
    hi = np.minimum(dst_hi[rows], s_hi[sorted_cols])
    keep = hi - lo > SLIVER_DEG
    return rows[keep], order[sorted_cols[keep]], lo[keep], hi[keep]


def periodic_overlaps(
    src_west: np.ndarray, src_width: np.ndarray, dst_west: np.ndarray, dst_width: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Overlapping (dst, src) pairs of longitude intervals on the 360-degree circle.

    Returns ``rows, cols, share``: the overlap length divided by the destination cell's
    length, both measured in the same shifted frame so that identical cells give exactly 1.
    A pair that overlaps in two pieces (only possible for cells wider than 180 degrees)
    appears twice; summing duplicates when building the sparse matrix gives the total.
    """
    ref = float(np.min(src_west))
    s_lo = ref + (src_west - ref) % 360.0
    s_hi = s_lo + src_width
    d_lo = ref + (dst_west - ref) % 360.0
    d_hi = d_lo + dst_width
    n = src_west.size
    tiled_lo = np.concatenate([s_lo - 360.0, s_lo, s_lo + 360.0])
    tiled_hi = np.concatenate([s_hi - 360.0, s_hi, s_hi + 360.0])
    rows, cols, lo, hi = overlaps(tiled_lo, tiled_hi, d_lo, d_hi)
    return rows, cols % n, (hi - lo) / (d_hi[rows] - d_lo[rows])
