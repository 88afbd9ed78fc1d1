"""In-process forcing cycles and the accelerated spin-up: the periodic state of a forcing cycle.

Contract: :func:`run_cycle` advances a state through the years of a forcing cycle (a sequence of
(365, NFORCING, ncell) float32 arrays, one per year) and returns what a drift diagnostic and
the analytic solve need. :func:`accelerated_spinup` finds the model's periodic (equilibrium)
state for the cycle: per land cell, the fixed point of G = (one normal cycle, then the semi-
analytic solve of the pools, :func:`celm.spinup.analytic_spinup`), Anderson-accelerated
(:class:`celm.fixedpoint.Anderson`), and returns a genuine model cycle from it. Nothing is read
or written here: ``python -m celm steady-state`` (:mod:`celm.steadystate`) runs the same on the
namelist's forcing, the tests and ``tests/performance/spinup_bench.py`` on forcing in memory.

Why not repeat (cycle, solve) until the solve stops moving carbon: the solve takes NPP as given,
but NPP depends on the pools through leaf area and phenology. In cold and dry cells the 31
December labile store sets next spring's leaf flush (d ln NPP / d ln labile = 0.87 in a boreal
cell), and that loop relaxes like a normal cycle does, over about 13 years, whatever the solve
does to the soil. Repeated solves therefore converge like exp(-T / 13 yr) per T-year cycle:
0.86 per solve on a 2-year cycle, the demo's -0.03 to -0.06 PgC/yr after 12 solves. Anderson
acceleration on the state that feeds back on the fluxes (vegetation, water, snow, GSI; litter
and soil carbon only respire, so the solve sets them) removes that mode in a few cycles.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from celm.constants import SWE_MAX, W1_FC, W1_RES
from celm.fixedpoint import Anderson
from celm.forcing import DAYS
from celm.params import KernelParams
from celm.simulate import MONTH_DAYS, simulate_year
from celm.spinup import CARBON_POOLS, analytic_spinup, total_carbon
from celm.step import DIAG_VARS, NDIAG, NSTATE, STATE_VARS

log = logging.getLogger(__name__)
_S = {name: i for i, name in enumerate(STATE_VARS)}
_FAST = [_S[n] for n in ("C_LABILE", "C_LEAF", "C_ROOT")]
_WOOD = _S["C_WOOD"]
_D_SWE = DIAG_VARS.index("SWE")
_WATER = [_S[n] for n in ("W_TOP", "W_SUB", "SWE")]
#: rows the Anderson iteration extrapolates: all state that feeds back on the fluxes (litter and
#: soil carbon only respire; the solve sets them from the cycle's fluxes)
FEEDBACK_ROWS = [i for i, name in enumerate(STATE_VARS) if name not in ("C_LITTER", "C_SOM")]


@dataclass
class Cycle:
    """One pass through the forcing cycle."""

    start: np.ndarray  # state (NSTATE, ncell) before the first day
    end: np.ndarray  # state after the last day
    annual: np.ndarray  # annual means of the diagnostics (nyears, NDIAG, ncell)

    @property
    def means(self) -> np.ndarray:
        """Cycle means of the daily diagnostics (NDIAG, ncell)."""
        return self.annual.mean(axis=0)

    @property
    def ndays(self) -> int:
        return DAYS * self.annual.shape[0]


def _co2_per_year(co2: float | Sequence[float], nyears: int) -> list[float]:
    values = [float(co2)] * nyears if np.ndim(co2) == 0 else [float(c) for c in co2]
    if len(values) != nyears:
        raise ValueError(f"{nyears} forcing years but {len(values)} CO2 values")
    return values


def run_cycle(
    p: KernelParams,
    state: np.ndarray,
    forcing: Sequence[np.ndarray],
    daylen: np.ndarray,
    co2: float | Sequence[float],
) -> Cycle:
    """Run the cycle's years from ``state`` (not modified) at fixed CO2 (ppm), or at one value
    per year."""
    if len(forcing) == 0:
        raise ValueError("run_cycle: the forcing cycle has no years")
    start = state.copy()
    work = state.copy()
    annual = []
    monthly = np.empty((12, NDIAG, state.shape[1]), dtype=np.float64)
    for met, ppm in zip(forcing, _co2_per_year(co2, len(forcing)), strict=True):
        simulate_year(p, work, met, daylen, ppm, out=monthly)
        annual.append(np.tensordot(MONTH_DAYS / DAYS, monthly, axes=(0, 0)))
    return Cycle(start, work, np.stack(annual))


def cell_drift(cycle: Cycle) -> np.ndarray:
    """Drift of total carbon over the cycle per land cell, gC m-2 yr-1 (end minus start)."""
    return (total_carbon(cycle.end) - total_carbon(cycle.start)) / cycle.annual.shape[0]


def state_bounds(p: KernelParams) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper physical bounds (NSTATE, 1) of the state, for extrapolated iterates:
    pools non-negative; top soil between air-dry and field capacity; root zone between wilting
    point and field capacity (only roots take from it, down to wilting point); snow up to its
    cap; GSI in [0, 1]; soil temperature unbounded."""
    lower = np.full((NSTATE, 1), -np.inf)
    upper = np.full((NSTATE, 1), np.inf)
    for name in CARBON_POOLS:
        lower[_S[name]] = 0.0
    lower[_S["W_TOP"]], upper[_S["W_TOP"]] = W1_RES, W1_FC
    lower[_S["W_SUB"]], upper[_S["W_SUB"]] = p.w2_wp, p.w2_fc
    lower[_S["SWE"]], upper[_S["SWE"]] = 0.0, SWE_MAX
    lower[_S["GSI"]], upper[_S["GSI"]] = 0.0, 1.0
    return lower, upper


def state_scale(state: np.ndarray) -> np.ndarray:
    """Per-cell units (NSTATE, ncell) in which the fixed-point residual is measured, so that the
    least squares weigh comparable errors: labile, foliage and roots in the cell's fast carbon
    (+1 g), wood in its own size (+10 g), litter and soil in the cell's total carbon, water and
    snow in 10 mm, soil temperature in 1 K, GSI in 0.1."""
    scale = np.empty_like(state)
    scale[[_S[n] for n in CARBON_POOLS]] = total_carbon(state) + 10.0
    scale[_FAST] = np.sum(state[_FAST], axis=0) + 1.0
    scale[_WOOD] = state[_WOOD] + 10.0
    scale[_WATER] = 10.0
    scale[_S["T_SOIL"]] = 1.0
    scale[_S["GSI"]] = 0.1
    return scale


def trust_region(
    solved: np.ndarray, lower: np.ndarray, upper: np.ndarray, wood: float, fast: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds (NSTATE, ncell) for an extrapolated iterate: the physical bounds, wood within a
    factor ``wood`` and labile, foliage and roots within a factor ``fast`` of their values
    after the solve. Extrapolation from a few residuals is only trusted near G(x): in marginal
    tundra and dry cells, where the vegetation is dying or the model has two equilibria
    (vegetated and bare), unbounded steps jumped between them and sent soil carbon to 20 times
    its equilibrium. The wider factor for the fast pools lets a cell whose vegetation cannot
    persist reach the bare state in a few cycles."""
    lo = np.broadcast_to(lower, solved.shape).copy()
    hi = np.broadcast_to(upper, solved.shape).copy()
    for rows, factor in (([_WOOD], wood), (_FAST, fast)):
        lo[rows] = np.maximum(lo[rows], solved[rows] / factor)
        hi[rows] = np.minimum(hi[rows], solved[rows] * factor)
    return lo, hi


def perennial_snow(state: np.ndarray, cycle: Cycle) -> None:
    """Put snowpacks that grew through the whole cycle at their cap (in place).

    A snowpack that grows by more than 10 mm per year over a cycle and never fell below 100 mm
    in any year's mean (ice sheets, glaciated tundra) is perennial: it grows until the cap,
    where the excess runs off, and its periodic state is there. Growing linearly, it is what
    extrapolation cannot predict (the residual does not shrink) and what plain cycles take
    decades to reach. If a year's melt would have removed it, the next cycle brings it down.
    """
    swe = _S["SWE"]
    nyears = cycle.annual.shape[0]
    growing = cycle.end[swe] - cycle.start[swe] > 10.0 * nyears
    lasting = np.min(cycle.annual[:, _D_SWE], axis=0) > 100.0
    state[swe] = np.where(growing & lasting, SWE_MAX, state[swe])


class _CellCycles:
    """Per land cell, its latest genuine cycle (start, end, annual means), its drift of total
    carbon and its fixed-point residual. Cells are independent, so these cycles together are
    exactly what a run of the whole grid from their start states gives."""

    def __init__(self, ncell: int, nyears: int) -> None:
        self.start = np.zeros((NSTATE, ncell))
        self.end = np.zeros((NSTATE, ncell))
        self.annual = np.zeros((nyears, NDIAG, ncell))
        self.drift = np.full(ncell, np.inf)
        self.residual = np.full(ncell, np.inf)

    def update(self, cells: np.ndarray, cycle: Cycle) -> np.ndarray:
        """Record the cycle of ``cells``; return its drift (cells,)."""
        drift = cell_drift(cycle)
        self.start[:, cells] = cycle.start
        self.end[:, cells] = cycle.end
        self.annual[:, :, cells] = cycle.annual
        self.drift[cells] = drift
        return drift

    def failing(self, weights: np.ndarray, opt: SpinupOptions) -> tuple[float, float]:
        """Land-area fraction not settled (drift above the tolerance, or residual above its
        bound) and the area-weighted mean drift (gC m-2 yr-1)."""
        settled = (np.abs(self.drift) <= opt.tolerance) & (self.residual <= opt.residual)
        total = float(np.sum(weights))
        drift = np.where(np.isfinite(self.drift), self.drift, 0.0)
        return float(np.sum(weights[~settled]) / total), float(np.sum(drift * weights) / total)

    def cycle(self) -> Cycle:
        return Cycle(self.start.copy(), self.end.copy(), self.annual.copy())


@dataclass
class SpinupLog:
    """What :func:`accelerated_spinup` did, one list entry per forcing cycle it ran."""

    #: simulated years: every cycle counts in full, even when only some cells ran it
    years: int = 0
    #: land-cell years actually simulated (the cost)
    cell_years: int = 0
    cycles: int = 0
    #: whether the tolerance was met (else each cell's least drifting cycle is returned)
    converged: bool = False
    #: per cycle: cells that ran it
    active: list[int] = field(default_factory=list)
    #: per cycle: area-weighted mean drift of total carbon over all cells, gC m-2 yr-1
    mean_drift: list[float] = field(default_factory=list)
    #: per cycle: land-area fraction whose |drift of total carbon| exceeds the tolerance
    area_failing: list[float] = field(default_factory=list)
    #: per cycle: cells whose Anderson history was reset
    restarts: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SpinupOptions:
    """Tolerances and limits of :func:`accelerated_spinup` (gC m-2 yr-1 for drifts).

    The defaults sit well inside the published criteria the orchestrator then applies to normal
    cycles: a cell drifts less than ``tolerance`` = 0.5 (CTSM and ORCHIDEE's per-cell test: 1)
    on all but ``area_fraction`` = 1 % of the land (CTSM: 3 %), and the land-mean drift is below
    ``mean_tolerance`` = 0.03 (CTSM's 0.02 PgC/yr is about 0.15 over the 1.3e14 m2 of land).
    """

    tolerance: float = 0.5
    area_fraction: float = 0.01
    mean_tolerance: float = 0.03
    #: a cell is settled when G moves its labile, foliage and root carbon by less than this
    #: fraction of their sum (+10 gC m-2: a dying tundra cell's last grams need not settle)
    residual: float = 1e-3
    max_cycles: int = 40
    depth: int = 5
    trust_wood: float = 2.0
    trust_fast: float = 10.0


def _iterate(
    p: KernelParams,
    state: np.ndarray,
    forcing: Sequence[np.ndarray],
    daylen: np.ndarray,
    co2: list[float],
    weights: np.ndarray,
    opt: SpinupOptions,
    out: SpinupLog,
    cold: bool,
) -> Cycle:
    """The Anderson iteration on one forcing cycle; see :func:`accelerated_spinup`."""
    ncell, nyears = state.shape[1], len(forcing)
    lower, upper = state_bounds(p)
    accel = Anderson(opt.depth)
    cells = _CellCycles(ncell, nyears)
    x = state.copy()
    active = np.arange(ncell)
    for k in range(opt.max_cycles):
        every = active.size == ncell
        met = forcing if every else [np.ascontiguousarray(f[:, :, active]) for f in forcing]
        days = daylen if every else np.ascontiguousarray(daylen[:, active])
        cycle = run_cycle(p, x[:, active], met, days, co2)
        out.years += nyears
        out.cell_years += nyears * active.size
        out.cycles += 1
        out.active.append(int(active.size))
        drift = cells.update(active, cycle)
        solved = analytic_spinup(cycle.start, cycle.end, cycle.means, cycle.ndays, p)
        if cold and k == 0:
            # a cycle from a cold start is never the answer, and far from the fixed point:
            # a plain solve (extrapolating from it would mislead)
            x[:, active] = solved
            out.restarts.append(0)
            continue
        rows = FEEDBACK_ROWS
        scale = state_scale(solved)
        fast = np.sum(solved[_FAST], axis=0) + 10.0
        residual = np.max(np.abs(solved[_FAST] - cycle.start[_FAST]), axis=0) / fast
        cells.residual[active] = residual
        failing, mean_drift = cells.failing(weights, opt)
        out.mean_drift.append(mean_drift)
        out.area_failing.append(failing)
        log.info(
            "celm: spin-up cycle %d (%d cells): mean drift %+.3g gC m-2 yr-1, land area not "
            "settled: %.2f%%",
            out.cycles, active.size, mean_drift, 100 * failing,
        )  # fmt: skip
        if failing <= opt.area_fraction and abs(mean_drift) < opt.mean_tolerance:
            out.converged = True
            break
        # a cell is done when its cycle hardly drifted and G hardly moves labile, foliage and
        # roots (a small drift alone is not enough: a labile store still relaxing shows in the
        # soil only cycles later, through NPP): it leaves the iteration, its last cycle is kept
        done = (np.abs(drift) < opt.tolerance / 2) & (residual < opt.residual)
        lo, hi = trust_region(solved, lower, upper, opt.trust_wood, opt.trust_fast)
        new = solved.copy()
        new[rows] = accel.step(cycle.start[rows], solved[rows], scale[rows], lo[rows], hi[rows])
        perennial_snow(new, cycle)
        out.restarts.append(accel.restarts[-1])
        keep = ~done
        x[:, active[keep]] = new[:, keep]
        active = active[keep]
        accel.select(keep)
        if active.size == 0:  # every cell done, yet not settled: nothing more to iterate
            break
    return cells.cycle()


def accelerated_spinup(
    p: KernelParams,
    state: np.ndarray,
    forcing: Sequence[np.ndarray],
    daylen: np.ndarray,
    co2: float | Sequence[float],
    weights: np.ndarray,
    options: SpinupOptions | None = None,
    cold: bool = True,
) -> tuple[Cycle, SpinupLog]:
    """The periodic steady state of the forcing cycle, and a genuine model cycle from it.

    Solves x = G(x) per land cell, where G is one normal forcing cycle from x followed by the
    semi-analytic solve of the pools (:func:`celm.spinup.analytic_spinup`); G's fixed points are
    the model's periodic states (after a cycle without drift the solve changes nothing). The
    solve removes the slow soil and wood modes that make brute-force cycling take centuries;
    Anderson acceleration of the state that feeds back on the fluxes removes what the linear
    solve cannot (see the module docstring), for any cycle length. Extrapolated iterates are
    kept within physical bounds and a trust region (:func:`trust_region`).

    Cells are independent: a cell whose last cycle drifted by less than half the tolerance,
    whose water and snow changed by less than 0.1 mm yr-1 and whose pools the solve moved by
    less than one cycle's tolerated drift leaves the iteration, so later cycles run only the
    cells still moving. ``weights`` (ncell,): land area weights. Stops when over all cells the
    drift of total carbon is within ``options`` (:class:`SpinupOptions`), else after
    ``max_cycles`` cycles. ``cold``: ``state`` is a cold start (its first cycle is followed by
    a plain solve and is never the answer). Warm-ups on the cycle's first year or two (run to
    convergence, or only the first two cold cycles) were tried and did not pay: the first whole
    cycles after them still drifted (86-90 % of the land above 0.5 gC m-2 yr-1 on a 20-year
    cycle) and the simulated years stayed within a few percent (2-year cycle 22 against 24,
    5-year 42-54 against 45, 20-year 102-124 against 120).

    Returns, per cell, the genuine cycle with the smallest drift seen (a run of the model from
    its start state; ``end`` is the model's own state, no solve applied, so a restart from it
    continues the model) and the log.
    """
    opt = options or SpinupOptions()
    if opt.max_cycles < 1:
        raise ValueError(f"accelerated_spinup: max_cycles must be at least 1, got {opt.max_cycles}")
    nyears = len(forcing)
    if nyears == 0:
        raise ValueError("accelerated_spinup: the forcing cycle has no years")
    out = SpinupLog()
    cycle = _iterate(p, state, forcing, daylen, _co2_per_year(co2, nyears), weights, opt, out, cold)
    return cycle, out
