"""Run :func:`celm.step.cell_step` over a block of days and all land cells.

Contract: :func:`run_block` (numba, compiled once and cached on disk) and :func:`run_block_numpy`
(the same science on whole arrays: the reference the tests and the benchmark compare against)
have the same signature and effect:

- ``p``: :class:`celm.params.KernelParams`
- ``state``: float64 (NSTATE, ncell), C-contiguous, updated in place to the end of the block
- ``forcing``: float32 (ndays, NFORCING, ncell), C-contiguous, variables ordered like
  :data:`FORCING_VARS` (day-major, so a month of a year's array is a contiguous slice)
- ``daylen``: float32 (ndays, ncell) hours of daylight; ``ga_coef``: float64 (ncell,);
  ``co2``: ppm (float)
- ``acc``: float64 (NDIAG, ncell); each day's diagnostics are *added* to it (the caller divides
  by the number of days for period means).

Speed (why the kernel looks the way it does): the cell loop is the model's hot spot, about 5.5
million cell-days per simulated year at 1 degree. Its body is branch-free and free of libm calls
(see :mod:`celm.mathfn`), so LLVM vectorises it, 4 cells per AVX2 instruction, provided that

1. indices are unsigned (numba's negative-index wrap-around on signed indices makes addresses
   non-affine and defeats the vectoriser), and
2. LLVM may emit enough run-time checks that the ~40 rows of ``state``/``acc``/``forcing`` do
   not overlap: numba cannot tell LLVM that its array arguments never alias, and LLVM's default
   budget (8 checks) is far too small. :func:`_allow_alias_checks` raises it before compiling.
   The checks run once per chunk and day, not per cell.

Cells are processed in chunks of :data:`CHUNK` so a chunk's state and accumulators stay in cache
while the days of the block go by.

Caching: the kernel is compiled once (about a minute) and cached on disk by numba
(``celm/__pycache__`` when writable, else numba's user-wide cache dir or ``NUMBA_CACHE_DIR``).
Numba invalidates that cache only when *this* file changes, not when the science modules it
inlines change; :func:`_fresh_kernel_cache` therefore keeps a digest of all inlined sources next
to the cache and flushes it when they differ. ``tests/celm/test_kernel.py`` also compares the
kernel with :func:`run_block_numpy` (which always runs the current source).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from pathlib import Path

import llvmlite.binding as llvm
import numpy as np
from numba import njit
from numba.extending import register_jitable

from celm.step import NDIAG, NSTATE, cell_step

log = logging.getLogger(__name__)

#: order of the forcing rows (model-ready variable names)
FORCING_VARS: tuple[str, ...] = (
    "tas",
    "tasmax",
    "tasmin",
    "pr",
    "rsds",
    "rlds",
    "huss",
    "ps",
    "sfcWind",
)
NFORCING = len(FORCING_VARS)
CHUNK = 512
#: LLVM's run-time alias-check budgets (defaults 8 and 128); see the module docstring
_ALIAS_CHECK_BUDGET = 100_000


@register_jitable(inline="always")
def _cell(p, state, forcing, daylen, ga_coef, co2, acc, d, c):  # pragma: no cover - compiled
    """One cell-day: load the state, step, store the state, accumulate the diagnostics."""
    s0 = (
        state[0, c], state[1, c], state[2, c], state[3, c],
        state[4, c], state[5, c], state[6, c], state[7, c],
        state[8, c], state[9, c], state[10, c],
    )
    new, dg = cell_step(
        p,
        s0,
        np.float64(forcing[d, 0, c]),
        np.float64(forcing[d, 1, c]),
        np.float64(forcing[d, 2, c]),
        np.float64(forcing[d, 3, c]),
        np.float64(forcing[d, 4, c]),
        np.float64(forcing[d, 5, c]),
        np.float64(forcing[d, 6, c]),
        np.float64(forcing[d, 7, c]),
        np.float64(forcing[d, 8, c]),
        np.float64(daylen[d, c]),
        ga_coef[c],
        co2,
    )
    state[0, c] = new[0]
    state[1, c] = new[1]
    state[2, c] = new[2]
    state[3, c] = new[3]
    state[4, c] = new[4]
    state[5, c] = new[5]
    state[6, c] = new[6]
    state[7, c] = new[7]
    state[8, c] = new[8]
    state[9, c] = new[9]
    state[10, c] = new[10]
    acc[0, c] += dg[0]
    acc[1, c] += dg[1]
    acc[2, c] += dg[2]
    acc[3, c] += dg[3]
    acc[4, c] += dg[4]
    acc[5, c] += dg[5]
    acc[6, c] += dg[6]
    acc[7, c] += dg[7]
    acc[8, c] += dg[8]
    acc[9, c] += dg[9]
    acc[10, c] += dg[10]
    acc[11, c] += dg[11]
    acc[12, c] += dg[12]
    acc[13, c] += dg[13]
    acc[14, c] += dg[14]
    acc[15, c] += dg[15]
    acc[16, c] += dg[16]
    acc[17, c] += dg[17]
    acc[18, c] += dg[18]
    acc[19, c] += dg[19]
    acc[20, c] += dg[20]
    acc[21, c] += dg[21]
    acc[22, c] += dg[22]
    acc[23, c] += dg[23]
    acc[24, c] += dg[24]
    acc[25, c] += dg[25]


@njit(cache=True, fastmath=True, error_model="numpy", boundscheck=False)
def _run_block_jit(p, state, forcing, daylen, ga_coef, co2, acc):  # pragma: no cover - compiled
    ndays = forcing.shape[0]
    ncell = state.shape[1]
    for c0 in range(0, ncell, CHUNK):
        c1 = min(c0 + CHUNK, ncell)
        for d in range(ndays):
            for c in range(c0, c1):
                _cell(p, state, forcing, daylen, ga_coef, co2, acc, np.uint64(d), np.uint64(c))


def _allow_alias_checks() -> None:
    """Let LLVM's loop vectoriser emit the run-time alias checks the cell loop needs.

    Process-wide LLVM options; they only enlarge what the vectoriser may do, and must be in
    place before the kernel is compiled (a cached kernel is not recompiled, which is fine).
    """
    llvm.set_option("", f"-runtime-memory-check-threshold={_ALIAS_CHECK_BUDGET}")
    llvm.set_option("", f"-vectorize-memory-check-threshold={_ALIAS_CHECK_BUDGET}")


def _check_block(state, forcing, daylen, ga_coef, acc) -> None:
    ncell = state.shape[1]
    expect = {
        "state": (state, np.float64, (NSTATE, ncell)),
        "forcing": (forcing, np.float32, (forcing.shape[0], NFORCING, ncell)),
        "daylen": (daylen, np.float32, (forcing.shape[0], ncell)),
        "ga_coef": (ga_coef, np.float64, (ncell,)),
        "acc": (acc, np.float64, (NDIAG, ncell)),
    }
    for name, (arr, dtype, shape) in expect.items():
        if arr.dtype != dtype or arr.shape != shape or not arr.flags.c_contiguous:
            raise ValueError(
                f"run_block: {name} must be C-contiguous {np.dtype(dtype).name} {shape}, got "
                f"{arr.dtype} {arr.shape} (contiguous={arr.flags.c_contiguous})"
            )


#: modules whose code numba inlines into the kernel: the on-disk cache must follow all of them
_INLINED_MODULES = (
    "kernel", "step", "carbon", "energy", "hydrology", "mathfn", "phenology", "pmodel",
    "constants", "params",
)  # fmt: skip
_SOURCES_STAMP = "celm_kernel_sources.sha256"


def _sources_digest() -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in _INLINED_MODULES:
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()


def refresh_numba_cache(dispatcher, digest: str) -> bool:
    """Flush ``dispatcher``'s on-disk numba cache unless it was made from sources ``digest``.

    Why: numba keys its cache on the timestamp of the file defining the jitted function only,
    so an edit to a module it inlines (``step.py``, a constant) would otherwise run a stale
    kernel - the old science - silently. A digest of all inlined sources is kept next to the
    cache (``celm_kernel_sources.sha256``); when it differs the cache index is flushed, so the
    kernel is recompiled and re-cached on its next call. If the cache directory is not writable,
    numba uses its user-wide cache dir (or ``NUMBA_CACHE_DIR``) and the stamp follows it; an
    unwritable stamp only costs a recompilation next time. Returns True when it flushed.
    """
    cache = getattr(dispatcher, "_cache", None)
    path = getattr(cache, "cache_path", None)
    if cache is None or path is None:  # caching disabled for this dispatcher
        return False
    stamp = Path(path) / _SOURCES_STAMP
    try:
        current = stamp.read_text().strip()
    except OSError:
        current = ""
    if current == digest:
        return False
    log.info("celm: kernel sources changed since the numba cache was written; recompiling")
    cache.flush()
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
        tmp.write_text(digest + "\n")
        os.replace(tmp, stamp)
    except OSError as exc:
        log.warning("celm: cannot write the kernel cache stamp %s (%s)", stamp, exc)
    return True


@functools.cache
def _fresh_kernel_cache() -> bool:
    """:func:`refresh_numba_cache` for the kernel, once per process (before it is loaded)."""
    return refresh_numba_cache(_run_block_jit, _sources_digest())


def run_block(p, state, forcing, daylen, ga_coef, co2, acc) -> None:
    """Numba kernel; see the module docstring."""
    _check_block(state, forcing, daylen, ga_coef, acc)
    _fresh_kernel_cache()
    _allow_alias_checks()
    _run_block_jit(p, state, forcing, daylen, ga_coef, float(co2), acc)


def run_block_numpy(p, state, forcing, daylen, ga_coef, co2, acc) -> None:
    """Plain-numpy reference of :func:`run_block`: the same ``cell_step`` on arrays of cells."""
    _check_block(state, forcing, daylen, ga_coef, acc)
    f = forcing.astype(np.float64)
    dl = daylen.astype(np.float64)
    for d in range(f.shape[0]):
        new, dg = cell_step(
            p, tuple(state), *(f[d, k] for k in range(NFORCING)), dl[d], ga_coef, float(co2)
        )
        for k in range(NSTATE):
            state[k] = new[k]
        for k in range(NDIAG):
            acc[k] += dg[k]
