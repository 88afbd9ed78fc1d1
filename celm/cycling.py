"""In-process forcing cycles and the accelerated spin-up loop, on forcing held in memory.

Contract: :func:`run_cycle` advances a state through the years of a forcing cycle (one
(365, NFORCING, ncell) float32 array per year) and returns what a drift diagnostic and the
analytic solve need; :func:`accelerated_spinup` alternates normal cycles and analytic solves
(:func:`celm.spinup.analytic_spinup`) until the solve changes total carbon by less than a
tolerance. Nothing is read or written: the orchestrator does the same through the command line
(``python -m celm steady-state`` then ``run``, one process per cycle); this module serves the
tests and ``tests/performance/spinup_bench.py``, where a thousand years of brute-force cycling
must not pay for file output.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from celm.forcing import DAYS
from celm.params import KernelParams
from celm.simulate import MONTH_DAYS, simulate_year
from celm.spinup import analytic_spinup, total_carbon
from celm.step import NDIAG

log = logging.getLogger(__name__)


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


def run_cycle(
    p: KernelParams,
    state: np.ndarray,
    forcing: Sequence[np.ndarray],
    daylen: np.ndarray,
    co2: float,
) -> Cycle:
    """Run the cycle's years from ``state`` (not modified) at fixed CO2."""
    if not forcing:
        raise ValueError("run_cycle: the forcing cycle has no years")
    start = state.copy()
    work = state.copy()
    annual = []
    monthly = np.empty((12, NDIAG, state.shape[1]), dtype=np.float64)
    for met in forcing:
        simulate_year(p, work, met, daylen, co2, out=monthly)
        annual.append(np.tensordot(MONTH_DAYS / DAYS, monthly, axes=(0, 0)))
    return Cycle(start, work, np.stack(annual))


@dataclass
class SpinupLog:
    """What :func:`accelerated_spinup` did: simulated years and the solves' carbon changes."""

    years: int = 0
    solves: int = 0
    #: per solve: global-mean |change of total carbon| the solve made, relative to total carbon
    solve_changes: list[float] = field(default_factory=list)


def accelerated_spinup(
    p: KernelParams,
    state: np.ndarray,
    forcing: Sequence[np.ndarray],
    daylen: np.ndarray,
    co2: float,
    area: np.ndarray,
    max_solves: int = 12,
    min_solves: int = 2,
    rtol: float = 3e-4,
) -> tuple[np.ndarray, SpinupLog]:
    """Alternate a normal cycle and an analytic solve until the solve hardly moves carbon.

    ``area`` (ncell,) land area weights of the cells. Stops after ``max_solves`` solves, or
    earlier once at least ``min_solves`` were made and the last one changed the area-weighted
    total carbon by less than ``rtol`` (relative). Returns the solved state (end of the last
    cycle, slow pools at equilibrium) and the log; the caller follows with normal cycles and its
    drift criteria.
    """
    out = SpinupLog()
    for _ in range(max_solves):
        cycle = run_cycle(p, state, forcing, daylen, co2)
        out.years += len(forcing)
        solved = analytic_spinup(cycle.start, cycle.end, cycle.means, cycle.ndays, p)
        before = float(np.sum(total_carbon(cycle.end) * area))
        after = float(np.sum(total_carbon(solved) * area))
        change = abs(after - before) / max(abs(after), 1e-30)
        out.solves += 1
        out.solve_changes.append(change)
        log.info("celm: analytic solve %d changed total carbon by %.3g", out.solves, change)
        state = solved
        if out.solves >= min_solves and change < rtol:
            break
    return state, out
