"""First-order conservative weights between rectilinear lat-lon grids, exact on the sphere.

Contract: pure numpy -> ``scipy.sparse.csr_matrix`` of shape ``(n_dst, n_src)``.

A lat-lon cell is bounded by two meridians and two parallels, so the overlap of two cells is
again such a cell and its area is exactly::

    R^2 * dlon_overlap[rad] * |sin(lat_north) - sin(lat_south)|_overlap

The weight (share of destination cell ``i`` covered by source cell ``j``) therefore factorises
into a latitude part and a longitude part::

    W[i, j] = (dsin_overlap / dsin_dst) * (dlon_overlap / dlon_dst)

We build the two 1-D factors with vectorised interval overlaps and take their Kronecker
product, which is exact (no polygon clipping, no great-circle approximation of parallels) and
costs O(n_src + n_dst) rather than a loop over cell pairs. This matches CDO's ``gencon`` (YAC
clipping, which treats lat-lon cell edges as parallels/meridians) to roundoff; CDO writes the
same numbers with ``normalization = "fracarea"``, i.e. divided by the destination coverage,
which :mod:`regrid.weights` converts on read.
"""

from __future__ import annotations

import scipy.sparse as sp

from regrid.grid import Grid, sin_difference
from regrid.methods.intervals import overlaps, periodic_overlaps


def latitude_factor(src: Grid, dst: Grid) -> sp.csr_matrix:
    """``(ny_dst, ny_src)``: share of each destination latitude band (in sin(lat), i.e. in
    area) covered by each source band."""
    s_south, s_north = src.lat_intervals()
    d_south, d_north = dst.lat_intervals()
    rows, cols, lo, hi = overlaps(s_south, s_north, d_south, d_north)
    share = sin_difference(lo, hi) / sin_difference(d_south[rows], d_north[rows])
    return sp.csr_matrix((share, (rows, cols)), shape=(dst.lat.size, src.lat.size))


def longitude_factor(src: Grid, dst: Grid) -> sp.csr_matrix:
    """``(nx_dst, nx_src)``: share of each destination longitude interval covered by each
    source interval, on the circle (0..360 vs -180..180 and the dateline are handled)."""
    s_west, s_width = src.lon_intervals()
    d_west, d_width = dst.lon_intervals()
    rows, cols, share = periodic_overlaps(s_west, s_width, d_west, d_width)
    return sp.csr_matrix((share, (rows, cols)), shape=(dst.lon.size, src.lon.size))


def weights(src: Grid, dst: Grid) -> sp.csr_matrix:
    """Exact first-order conservative weights, destination-area normalised.

    Row ``i`` sums to the fraction of destination cell ``i`` covered by the source grid.
    """
    w = sp.kron(latitude_factor(src, dst), longitude_factor(src, dst), format="csr")
    w.sum_duplicates()
    w.sort_indices()
    return w
