"""Weight generators: one method per module, each ``weights(src, dst) -> csr (n_dst, n_src)``.

Contract: pure numpy/scipy, no xarray and no I/O. Cell index ``k`` of a grid is
``k = i_lat * n_lon + i_lon`` in the grid's own storage order (C order of a ``(lat, lon)``
field), which is also the order of ESMF/SCRIP weight files (1-based there). Weights follow
the *destination-area* convention: ``W[i, j]`` is the share of destination cell ``i``
attributed to source cell ``j``, so a row sums to the fraction of the destination cell that
the source grid covers (1 inside, <1 on a regional source's edge, empty outside).
"""

from __future__ import annotations

from typing import Literal

import scipy.sparse as sp

from regrid.errors import RegridError
from regrid.grid import Grid
from regrid.methods import bilinear, conservative, nearest

Method = Literal["conservative", "bilinear", "nearest"]
METHODS: tuple[str, ...] = ("conservative", "bilinear", "nearest")


def build_weights(src: Grid, dst: Grid, method: str) -> sp.csr_matrix:
    """Weights from ``src`` to ``dst`` for ``method`` (one of :data:`METHODS`)."""
    if method == "conservative":
        return conservative.weights(src, dst)
    if method == "bilinear":
        return bilinear.weights(src, dst)
    if method == "nearest":
        return nearest.weights(src, dst)
    raise RegridError(f"unknown regridding method {method!r}; choose one of {METHODS}")
