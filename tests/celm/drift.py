"""The spin-up flow's drift criteria applied to in-process CELM cycles (tests and the spin-up
benchmark): a cycle's annual diagnostics reduced to the flow's :class:`CycleState`, and normal
cycles judged by :func:`flows.spinup.diagnostics.evaluate` until they pass.

Two ways to judge, both with the flow's criteria and thresholds unchanged:

* ``judge="cycle"`` (the flow's): cycle k's means against cycle k-1's, ``consecutive`` times in a
  row.
* ``judge="phase"`` (CTSM's ``SpinupStability`` scripts): the annual means of the cycle's *first
  year* against those of the same forcing year one cycle earlier, divided by the cycle length
  (the scripts subsample one year every ``subper`` = cycle years and difference successive
  samples; the equilibrium year is where the last differences pass). Both years see the same
  forcing, so their difference is the model's own drift over exactly one cycle, not the
  forcing's year-to-year variability; it is the consecutive-cycle test's quantity at one phase
  of the cycle instead of averaged over all of them. It costs one year after a cycle, where the
  cycle test costs a whole second cycle; so a genuine cycle that starts from the accelerated
  spin-up's result can be judged on its own, plus the next cycle's first year.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from celm.cycling import Cycle, run_cycle
from celm.step import DIAG_VARS
from flows.spinup.diagnostics import CycleState, cycle_passes, evaluate

G_TO_PG = 1e-15
_D = {n: i for i, n in enumerate(DIAG_VARS)}
_VEG = [_D[n] for n in ("C_LABILE", "C_LEAF", "C_ROOT", "C_WOOD")]
_SOIL = [_D[n] for n in ("C_LITTER", "C_SOM")]
JUDGES = ("cycle", "phase")


def annual_state(k: int, annual: np.ndarray, area: np.ndarray, n_years: int) -> CycleState:
    """The flow's summary of the mean of ``annual`` (years, NDIAG, ncell) annual means;
    ``area`` (ncell,) land area, m2; ``n_years``: the years a drift against it spans. As CELM's
    driver maps them: cVeg = labile + foliage + roots + wood, cSoil = SOM (litter counts in
    cTotal only), mrso = soil water."""
    m = annual.mean(axis=0)
    veg = m[_VEG].sum(axis=0)
    ctotal = veg + m[_SOIL].sum(axis=0)
    totals = {
        "cTotal": float(np.sum(ctotal * area) * G_TO_PG),
        "cSoil": float(np.sum(m[_D["C_SOM"]] * area) * G_TO_PG),
        "cVeg": float(np.sum(veg * area) * G_TO_PG),
        "gpp": float(np.sum(m[_D["GPP"]] * area) * 365.0 * G_TO_PG),
        "mrso": float(np.sum(m[_D["SOILW"]] * area) / np.sum(area) / 1000.0),
    }
    return CycleState(k, n_years, totals, ctotal, area)


def cycle_state(k: int, cycle: Cycle, area: np.ndarray) -> CycleState:
    """The flow's summary of a whole cycle (see :func:`annual_state`)."""
    return annual_state(k, cycle.annual, area, cycle.annual.shape[0])


def cycle_until_equilibrium(p, start, forcing, daylen, co2, area, crit, consecutive, cap,
                            previous: Cycle | None = None, report=None, judge: str = "cycle"):  # fmt: skip
    """Normal cycles from ``start`` until the criteria pass ``consecutive`` times in a row or
    ``cap`` simulated years. ``previous``: the cycle that ended at ``start`` (its drift is then
    judged against the first new cycle, or, with ``judge="phase"``, its first year against the
    first new year). Returns (last cycle, years, passed, last table); with ``judge="phase"``
    the last cycle is the last ``len(forcing)`` years run (it ends one year into a cycle)."""
    if judge == "phase":
        return _phase_until_equilibrium(p, start, forcing, daylen, co2, area, crit, consecutive,
                                        cap, previous, report)  # fmt: skip
    if judge != "cycle":
        raise ValueError(f"judge must be one of {JUDGES}, got {judge!r}")
    prev = cycle_state(0, previous, area) if previous is not None else None
    state, history, years, table, cycle = start, [], 0, None, previous
    k = 0
    while years + len(forcing) <= cap:
        cycle = run_cycle(p, state, forcing, daylen, co2)
        state = cycle.end
        years += len(forcing)
        k += 1
        cur = cycle_state(k, cycle, area)
        table = evaluate(cur, prev, crit)
        history.append(cycle_passes(table))
        prev = cur
        if report is not None:
            report(k, years, cur, table, history[-1])
        if len(history) >= consecutive and all(history[-consecutive:]):
            return cycle, years, True, table
    return cycle, years, False, table


def _phase_until_equilibrium(p, start, forcing, daylen, co2, area, crit, consecutive, cap,
                             previous, report):  # fmt: skip
    """``judge="phase"`` of :func:`cycle_until_equilibrium`: the model runs year by year (the
    same computation as whole cycles); each time the cycle's first forcing year comes round, its
    annual means are judged against that year's one cycle earlier."""
    n = len(forcing)
    co2s = [float(co2)] * n if np.ndim(co2) == 0 else [float(c) for c in co2]
    anchor = annual_state(0, previous.annual[:1], area, n) if previous is not None else None
    last = deque(maxlen=n)  # (start state, annual means) of the latest years
    state, history, years, table, k = start, [], 0, None, 0
    while years < cap:
        phase = years % n
        year = run_cycle(p, state, forcing[phase : phase + 1], daylen, co2s[phase])
        last.append((state, year.annual[0]))
        state = year.end
        years += 1
        if phase != 0:
            continue
        cur = annual_state(k + 1, year.annual, area, n)
        if anchor is not None:
            k += 1
            table = evaluate(cur, anchor, crit)
            history.append(cycle_passes(table))
            if report is not None:
                report(k, years, cur, table, history[-1])
            if len(history) >= consecutive and all(history[-consecutive:]):
                return _window(last, state), years, True, table
        anchor = cur
    return _window(last, state), years, False, table


def _window(last: deque, end: np.ndarray) -> Cycle:
    """The latest years run, as a :class:`Cycle` (start state, end state, annual means)."""
    return Cycle(last[0][0], end, np.stack([annual for _, annual in last]))
