"""Optional weight generators behind the same interface as our own methods.

Contract: a backend is a function ``weights(src: Grid, dst: Grid, method: str) ->
csr_matrix (n_dst, n_src)`` in the destination-area convention of :mod:`regrid.methods`.
``native`` is ours (always available); ``cdo`` runs Debian's ``cdo gencon/genbil/gennn``;
``xesmf`` runs ESMF through xESMF where ``esmpy`` imports. Unavailable backends raise
:class:`~regrid.errors.BackendUnavailableError` with the reason, never fall back silently.
Applying weights is always ours (:mod:`regrid.apply`), whichever backend made them.
"""

from __future__ import annotations

from collections.abc import Callable

import scipy.sparse as sp

from regrid.errors import RegridError
from regrid.grid import Grid
from regrid.methods import build_weights

BACKENDS: tuple[str, ...] = ("native", "cdo", "xesmf")

WeightsBuilder = Callable[[Grid, Grid, str], sp.csr_matrix]


def get_backend(name: str) -> WeightsBuilder:
    """The weights builder called ``name`` (imports optional backends lazily)."""
    if name == "native":
        return build_weights
    if name == "cdo":
        from regrid.backends import cdo

        return cdo.weights
    if name == "xesmf":
        from regrid.backends import xesmf

        return xesmf.weights
    raise RegridError(f"unknown regrid backend {name!r}; choose one of {BACKENDS}")
