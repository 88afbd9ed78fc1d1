"""The spin-up flow's drift criteria applied to in-process CELM cycles (tests and the spin-up
benchmark): a cycle's annual diagnostics reduced to the flow's :class:`CycleState`, and normal
cycles judged by :func:`flows.spinup.diagnostics.evaluate` until they pass."""

from __future__ import annotations

import numpy as np

from celm.cycling import Cycle, run_cycle
from celm.step import DIAG_VARS
from flows.spinup.diagnostics import CycleState, cycle_passes, evaluate

G_TO_PG = 1e-15
_D = {n: i for i, n in enumerate(DIAG_VARS)}
_VEG = [_D[n] for n in ("C_LABILE", "C_LEAF", "C_ROOT", "C_WOOD")]
_SOIL = [_D[n] for n in ("C_LITTER", "C_SOM")]


def cycle_state(k: int, cycle: Cycle, area: np.ndarray) -> CycleState:
    """The flow's summary of a cycle from its annual means; ``area`` (ncell,) land area, m2.
    As CELM's driver maps them: cVeg = labile + foliage + roots + wood, cSoil = SOM (litter
    counts in cTotal only), mrso = soil water."""
    m = cycle.annual.mean(axis=0)
    veg = m[_VEG].sum(axis=0)
    ctotal = veg + m[_SOIL].sum(axis=0)
    totals = {
        "cTotal": float(np.sum(ctotal * area) * G_TO_PG),
        "cSoil": float(np.sum(m[_D["C_SOM"]] * area) * G_TO_PG),
        "cVeg": float(np.sum(veg * area) * G_TO_PG),
        "gpp": float(np.sum(m[_D["GPP"]] * area) * 365.0 * G_TO_PG),
        "mrso": float(np.sum(m[_D["SOILW"]] * area) / np.sum(area) / 1000.0),
    }
    return CycleState(k, cycle.annual.shape[0], totals, ctotal, area)


def cycle_until_equilibrium(p, start, forcing, daylen, co2, area, crit, consecutive, cap,
                            previous: Cycle | None = None, report=None):  # fmt: skip
    """Normal cycles from ``start`` until the criteria pass ``consecutive`` times in a row or
    ``cap`` simulated years. ``previous``: the cycle that ended at ``start`` (its drift is then
    judged against the first new cycle). Returns (last cycle, years, passed, last table)."""
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
