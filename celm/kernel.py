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

Speed (why the kernel looks the way it does): the cell loop is the model's hot spot, about 8.6
million cell-days per simulated year at 1 degree. Its body is branch-free and free of libm calls
(see :mod:`celm.mathfn`), so LLVM vectorises it. The body is long (over a thousand instructions)
and its dependency chains are long, so the out-of-order core cannot overlap consecutive
iterations much: the loop is bound by latency, and what pays is more cells per instruction.
The physics is float32 (see :mod:`celm.step`), so the loop is vectorised 8 cells wide
(:data:`VECTOR_WIDTH`; one AVX2 register of float32, two of float64 for the budgets), which LLVM
would not choose by itself (it sizes vectors by the widest type in the loop). That needs

1. indices are unsigned (numba's negative-index wrap-around on signed indices makes addresses
   non-affine and defeats the vectoriser), and
2. LLVM may emit the run-time checks that the arrays the loop reads and writes do not overlap:
   numba cannot tell LLVM that its array arguments never alias, and LLVM's default budget
   (8 checks) is too small. :func:`_allow_alias_checks` raises it before compiling. Most checks
   are avoided altogether by the chunk's scratch block (see :func:`_run_block_jit`);
3. the vector width is forced while (and only while) the kernel is compiled
   (:func:`_compile_options`).

Cells are processed in chunks of :data:`CHUNK`; a chunk's state and accumulators live in a
scratch block (rows padded to :data:`ROW`) that stays in cache while the days of the block go by.

With 16 vector registers and a body this long, a third of the loop's instructions were spills to
the stack (a float64 value of 8 cells takes two registers). What is cheap to hold matters, so
:func:`_cell` calls the physics and the carbon update as two halves (``cell_physics`` and
``cell_carbon``), reads the carbon pools only before the second, stores the water state and
sums the physics diagnostics between them, and three diagnostics are not summed day by day at
all but derived at the end of the block (:data:`DERIVED_VARS`). Together about 2% faster,
measured in one process alternating with the previous kernel (llvm-mca: 6% fewer cycles).
Latency, not instruction count, is what to shorten: one iteration alone takes about as long
as an iteration in the steady state, since the body is far longer than the reorder buffer.
So every reciprocal is its own division (see :mod:`celm.mathfn`), 12% faster than batching.

Caching: the kernel is compiled once (about a minute) and cached on disk by numba
(``celm/__pycache__`` when writable, else numba's user-wide cache dir or ``NUMBA_CACHE_DIR``).
Numba invalidates that cache only when *this* file changes, not when the science modules it
inlines change; :func:`_fresh_kernel_cache` therefore keeps a digest of all inlined sources next
to the cache and flushes it when they differ. ``tests/celm/test_kernel.py`` also compares the
kernel with :func:`run_block_numpy` (which always runs the current source).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
from pathlib import Path

import llvmlite.binding as llvm
import numpy as np
from numba import njit
from numba.extending import register_jitable

from celm.carbon import autotrophic_respiration
from celm.hydrology import daily_precipitation
from celm.mathfn import f64
from celm.step import DIAG_VARS, NDIAG, NSTATE, STATE_VARS, cell_carbon, cell_physics, cell_step

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
#: cells per chunk (see :func:`_run_block_jit`)
CHUNK = 256
#: row stride of the chunk's scratch block: one cache line more than CHUNK, because rows a power
#: of two apart map to the same few L1 cache sets and evict each other
ROW = CHUNK + 8
#: LLVM's run-time alias-check budgets (defaults 8 and 128); see the module docstring
_ALIAS_CHECK_BUDGET = 100_000
#: cells per vector iteration on AVX2 hosts (0: LLVM's own choice elsewhere)
VECTOR_WIDTH = 8


_S = {name: k for k, name in enumerate(STATE_VARS)}
_D = {name: k for k, name in enumerate(DIAG_VARS)}
#: diagnostics the kernel does not sum day by day: derived at the end of a block from other sums
#: (RA = f_auto GPP, RNET = QLE + QH + QG since the partition closes) and from the forcing
#: (PRECIP), see :func:`_derived_sums`
DERIVED_VARS = ("RA", "RNET", "PRECIP")
_PR = FORCING_VARS.index("pr")
# offsets of the state rows (S_) and accumulators (A_) in the scratch block (constants for numba)
_S_C_LABILE = _S["C_LABILE"] * ROW
_S_C_LEAF = _S["C_LEAF"] * ROW
_S_C_ROOT = _S["C_ROOT"] * ROW
_S_C_WOOD = _S["C_WOOD"] * ROW
_S_C_LITTER = _S["C_LITTER"] * ROW
_S_C_SOM = _S["C_SOM"] * ROW
_S_W_TOP = _S["W_TOP"] * ROW
_S_W_SUB = _S["W_SUB"] * ROW
_S_SWE = _S["SWE"] * ROW
_S_T_SOIL = _S["T_SOIL"] * ROW
_S_GSI = _S["GSI"] * ROW
_A_GPP = (NSTATE + _D["GPP"]) * ROW
_A_RA = (NSTATE + _D["RA"]) * ROW
_A_RH = (NSTATE + _D["RH"]) * ROW
_A_QLE = (NSTATE + _D["QLE"]) * ROW
_A_QH = (NSTATE + _D["QH"]) * ROW
_A_QG = (NSTATE + _D["QG"]) * ROW
_A_RNET = (NSTATE + _D["RNET"]) * ROW
_A_TRANSP = (NSTATE + _D["TRANSP"]) * ROW
_A_ESOIL = (NSTATE + _D["ESOIL"]) * ROW
_A_EINT = (NSTATE + _D["EINT"]) * ROW
_A_RUNOFF = (NSTATE + _D["RUNOFF"]) * ROW
_A_PRECIP = (NSTATE + _D["PRECIP"]) * ROW
_A_TSURF = (NSTATE + _D["TSURF"]) * ROW
_A_TSOIL = (NSTATE + _D["TSOIL"]) * ROW
_A_SWE = (NSTATE + _D["SWE"]) * ROW
_A_SOILW = (NSTATE + _D["SOILW"]) * ROW
_A_SOILW_TOP = (NSTATE + _D["SOILW_TOP"]) * ROW
_A_C_LABILE = (NSTATE + _D["C_LABILE"]) * ROW
_A_C_LEAF = (NSTATE + _D["C_LEAF"]) * ROW
_A_C_ROOT = (NSTATE + _D["C_ROOT"]) * ROW
_A_C_WOOD = (NSTATE + _D["C_WOOD"]) * ROW
_A_C_LITTER = (NSTATE + _D["C_LITTER"]) * ROW
_A_C_SOM = (NSTATE + _D["C_SOM"]) * ROW
_A_F_LABREL = (NSTATE + _D["F_LABREL"]) * ROW
_A_F_LEAF = (NSTATE + _D["F_LEAF"]) * ROW
_A_DECOMP = (NSTATE + _D["DECOMP"]) * ROW


@register_jitable(inline="always")
def _cell(p, work, forcing, daylen, ga_coef, co2, d, c0, i):  # pragma: no cover - compiled
    """One cell-day of cell ``c0 + i``: :func:`cell_physics`, then :func:`cell_carbon`.

    ``work`` is the chunk's scratch block (see :func:`_run_block_jit`): state row ``k`` at
    ``k * ROW``, accumulator ``k`` at ``(NSTATE + k) * ROW``. The order of the statements is
    the point: the carbon pools are read only when the carbon update needs them, and the water
    state and physics diagnostics are stored before it, so neither is held in registers (and
    spilled to the stack) through the long physics (see the module docstring).
    """
    c = c0 + i
    water, gpp, raw_gsi, decomp, fluxes = cell_physics(
        p,
        work[_S_C_LEAF + i],
        work[_S_W_TOP + i],
        work[_S_W_SUB + i],
        work[_S_SWE + i],
        work[_S_T_SOIL + i],
        forcing[d, 0, c],
        forcing[d, 1, c],
        forcing[d, 2, c],
        forcing[d, 3, c],
        forcing[d, 4, c],
        forcing[d, 5, c],
        forcing[d, 6, c],
        forcing[d, 7, c],
        forcing[d, 8, c],
        daylen[d, c],
        ga_coef[c],
        co2,
    )
    w1n, w2n, swe_n, tsoil_n = water
    le, qh, qg, _rnet, transp, esoil, e_int, runoff, _precip, ts = fluxes
    work[_S_W_TOP + i] = w1n
    work[_S_W_SUB + i] = w2n
    work[_S_SWE + i] = swe_n
    work[_S_T_SOIL + i] = tsoil_n
    work[_A_QLE + i] += le
    work[_A_QH + i] += qh
    work[_A_QG + i] += qg
    work[_A_TRANSP + i] += transp
    work[_A_ESOIL + i] += esoil
    work[_A_EINT + i] += e_int
    work[_A_RUNOFF + i] += runoff
    work[_A_TSURF + i] += ts
    work[_A_TSOIL + i] += tsoil_n
    work[_A_SWE + i] += swe_n
    work[_A_SOILW + i] += w1n + w2n
    work[_A_SOILW_TOP + i] += w1n
    pools, cflux = cell_carbon(
        p,
        work[_S_C_LABILE + i],
        work[_S_C_LEAF + i],
        work[_S_C_ROOT + i],
        work[_S_C_WOOD + i],
        work[_S_C_LITTER + i],
        work[_S_C_SOM + i],
        work[_S_GSI + i],
        gpp,
        raw_gsi,
        decomp,
    )
    clab, cleaf, croot, cwood, clit, csom, gsi = pools
    _ra, rh, f_labrel, f_leaf = cflux
    work[_S_C_LABILE + i] = clab
    work[_S_C_LEAF + i] = cleaf
    work[_S_C_ROOT + i] = croot
    work[_S_C_WOOD + i] = cwood
    work[_S_C_LITTER + i] = clit
    work[_S_C_SOM + i] = csom
    work[_S_GSI + i] = gsi
    work[_A_GPP + i] += gpp
    work[_A_RH + i] += rh
    work[_A_C_LABILE + i] += clab
    work[_A_C_LEAF + i] += cleaf
    work[_A_C_ROOT + i] += croot
    work[_A_C_WOOD + i] += cwood
    work[_A_C_LITTER + i] += clit
    work[_A_C_SOM + i] += csom
    work[_A_F_LABREL + i] += f_labrel
    work[_A_F_LEAF + i] += f_leaf
    work[_A_DECOMP + i] += f64(decomp)


@register_jitable(inline="always")
def _derived_sums(p, work, forcing, c0, n):  # pragma: no cover - compiled
    """Fill the block sums of :data:`DERIVED_VARS` (the cell loop does not add them up).

    RA and RNET from the other sums (exactly what the daily values would sum to, up to
    round-off); PRECIP from the forcing, by the same functions ``cell_step`` uses.
    """
    for i in range(n):
        work[_A_RA + i] = autotrophic_respiration(work[_A_GPP + i], p)
        work[_A_RNET + i] = (work[_A_QLE + i] + work[_A_QH + i]) + work[_A_QG + i]
    for d in range(forcing.shape[0]):
        for i in range(n):
            work[_A_PRECIP + i] += daily_precipitation(forcing[d, _PR, c0 + i])


@njit(cache=True, fastmath=True, error_model="numpy", boundscheck=False)
def _run_block_jit(p, state, forcing, daylen, ga_coef, co2, acc):  # pragma: no cover - compiled
    """Chunks of cells; per chunk, state and accumulators live in one scratch block.

    Why the scratch block: its rows sit at compile-time-constant offsets (multiples of ROW) of
    one array, so LLVM can prove that the ~37 rows the cell loop writes never overlap, and needs
    no run-time alias checks among them (with rows of ``state`` and ``acc`` at a run-time stride
    it must check every pair on every entry to the loop, which dominated small chunks). The block
    (37 x ROW float64) also stays in the L1/L2 cache while the days of the block go by.
    """
    ndays = forcing.shape[0]
    ncell = state.shape[1]
    work = np.empty((NSTATE + NDIAG) * ROW, dtype=np.float64)
    for c0 in range(0, ncell, CHUNK):
        n = min(CHUNK, ncell - c0)
        for k in range(NSTATE):
            for i in range(n):
                work[k * ROW + i] = state[k, c0 + i]
        for k in range(NDIAG):
            for i in range(n):
                work[(NSTATE + k) * ROW + i] = 0.0
        for d in range(ndays):
            for i in range(np.uint64(n)):
                _cell(p, work, forcing, daylen, ga_coef, co2, np.uint64(d), np.uint64(c0), i)
        _derived_sums(p, work, forcing, c0, n)
        for k in range(NSTATE):
            for i in range(n):
                state[k, c0 + i] = work[k * ROW + i]
        for k in range(NDIAG):
            for i in range(n):
                acc[k, c0 + i] += work[(NSTATE + k) * ROW + i]


def _allow_alias_checks() -> None:
    """Let LLVM's loop vectoriser emit the run-time alias checks the cell loop needs.

    Process-wide LLVM options; they only enlarge what the vectoriser may do, and must be in
    place before the kernel is compiled (a cached kernel is not recompiled, which is fine).
    """
    llvm.set_option("", f"-runtime-memory-check-threshold={_ALIAS_CHECK_BUDGET}")
    llvm.set_option("", f"-vectorize-memory-check-threshold={_ALIAS_CHECK_BUDGET}")


def _host_vector_width() -> int:
    """8 where the host has AVX2 (8 float32 per register), else LLVM's own choice (0)."""
    return VECTOR_WIDTH if "+avx2" in llvm.get_host_cpu_features().flatten() else 0


@contextlib.contextmanager
def _compile_options():
    """LLVM options for compiling the kernel; the forced vector width is reset afterwards.

    The alias-check budgets only enlarge what the vectoriser may do and stay set. The vector
    width is process-wide in LLVM, so it is set just around the kernel's first call (when numba
    compiles it or loads it from the cache) and put back, so other numba code in the same
    process (e.g. the regridder) keeps LLVM's own choice.
    """
    _allow_alias_checks()
    if _run_block_jit.signatures:
        yield
        return
    llvm.set_option("", f"-force-vector-width={_host_vector_width()}")
    try:
        yield
    finally:
        llvm.set_option("", "-force-vector-width=0")


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
    with _compile_options():
        _run_block_jit(p, state, forcing, daylen, ga_coef, float(co2), acc)


def compile_kernel() -> float:
    """Compile the kernel (or load it from numba's cache) now; return the seconds it took.

    The first compilation takes about a minute of CPU; ``callmip warm-up`` (run by
    ``scripts/setup.sh``) pays it once, so that model processes, which load it from the cache
    in about a second, never do, and two processes started together never compile it twice.
    """
    import time

    from celm.params import defaults, kernel_params

    t0 = time.perf_counter()
    p = kernel_params(defaults())
    state = np.zeros((NSTATE, 1))
    state[STATE_VARS.index("T_SOIL")] = 285.0
    forcing = np.zeros((1, NFORCING, 1), dtype=np.float32)
    plausible = {"tas": 285.0, "tasmax": 290.0, "tasmin": 280.0, "rsds": 200.0, "rlds": 300.0,
                 "huss": 0.005, "ps": 1.0e5, "sfcWind": 3.0}  # fmt: skip
    for name, value in plausible.items():
        forcing[0, FORCING_VARS.index(name)] = value
    run_block(p, state, forcing, np.full((1, 1), 12.0, np.float32), np.ones(1), 285.0,
              np.zeros((NDIAG, 1)))  # fmt: skip
    return time.perf_counter() - t0


def run_block_numpy(p, state, forcing, daylen, ga_coef, co2, acc) -> None:
    """Plain-numpy reference of :func:`run_block`: the same ``cell_step`` on arrays of cells."""
    _check_block(state, forcing, daylen, ga_coef, acc)
    f, dl = forcing, daylen  # float32, as the kernel reads them
    for d in range(f.shape[0]):
        new, dg = cell_step(
            p, tuple(state), *(f[d, k] for k in range(NFORCING)), dl[d], ga_coef, float(co2)
        )
        for k in range(NSTATE):
            state[k] = new[k]
        for k in range(NDIAG):
            acc[k] += dg[k]
