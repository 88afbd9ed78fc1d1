"""Benchmark: CELM spin-up at 2 degrees, brute-force cycling vs the accelerated (analytic) spin-up.

Both start cold on the same synthetic forcing cycle (``--cycle-years`` years of
``tests/celm/climate.py``, fixed pre-industrial CO2) and stop by the same rule: the spin-up
flow's drift criteria (``flows/spinup/diagnostics.py``: CTSM global drift of total, soil and
vegetation carbon and GPP below 0.02 PgC/yr, CTSM 3 %-of-area test, C4MIP 10 PgC/century) pass
for ``--consecutive`` cycles in a row, or a cap on simulated years is hit.

* peer = brute force: normal cycles from the cold start.
* ours = accelerated: normal cycle + analytic solve, repeated until a solve moves total carbon
  by < 0.1 % (:func:`celm.cycling.accelerated_spinup`), then normal cycles until the criteria
  pass.

Printed: simulated years and wall time of each, final global total carbon, their relative
difference, and the drift of the last cycle. ratio = brute years / accelerated years (the
figure of issue 6: >= 10 with carbon within 1 %); time_ratio is given too. Runs in-process on
forcing held in memory (no NetCDF), so the times are model time. The brute force takes a while
(cold soils need >1000 years): ``--brute-cap`` bounds it; if it stops at the cap without passing,
this is printed and ``brute_converged=0`` is in the RESULT line.

Usage: ``uv run python tests/performance/spinup_bench.py [--res 2] [--cycle-years 5]``
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from callmip.config import SpinupCriteria  # noqa: E402
from celm.cycling import accelerated_spinup, run_cycle  # noqa: E402
from celm.grid import LandGrid  # noqa: E402
from celm.params import defaults, kernel_params  # noqa: E402
from celm.simulate import cell_day_length  # noqa: E402
from celm.spinup import total_carbon  # noqa: E402
from celm.state import cold_start  # noqa: E402
from celm.step import DIAG_VARS  # noqa: E402
from flows.spinup.diagnostics import (  # noqa: E402
    CycleState,
    cell_area,
    cycle_passes,
    evaluate,
    failed_criteria,
)

CO2_1850 = 284.7
G_TO_PG = 1e-15
_D = {n: i for i, n in enumerate(DIAG_VARS)}
_VEG = [_D[n] for n in ("C_LABILE", "C_LEAF", "C_ROOT", "C_WOOD")]


def _climate():
    spec = importlib.util.spec_from_file_location("climate", ROOT / "tests/celm/climate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cycle_state(k: int, annual: np.ndarray, grid: LandGrid, area: np.ndarray) -> CycleState:
    """The flows' cycle summary from a cycle's annual means (nyears, NDIAG, ncell)."""
    m = annual.mean(axis=0)
    ctotal = np.sum(m[[_D[n] for n in ("C_LABILE", "C_LEAF", "C_ROOT", "C_WOOD", "C_LITTER",
                                        "C_SOM")]], axis=0)  # fmt: skip
    totals = {
        "cTotal": float(np.sum(ctotal * area) * G_TO_PG),
        "cSoil": float(np.sum(m[_D["C_SOM"]] * area) * G_TO_PG),
        "cVeg": float(np.sum(m[_VEG].sum(axis=0) * area) * G_TO_PG),
        "gpp": float(np.sum(m[_D["GPP"]] * area) * 365.0 * G_TO_PG),
        "mrso": float(np.sum(m[_D["SOILW"]] * area) / np.sum(area) / 1000.0),
    }
    return CycleState(k, annual.shape[0], totals, ctotal, area)


def cycle_until_equilibrium(p, state, forcing, daylen, area, grid, crit, consecutive, cap):
    """Normal cycles until the criteria pass ``consecutive`` times; (state, years, passed, last)."""
    prev, history, years, table = None, [], 0, None
    k = 0
    while years + len(forcing) <= cap:
        cycle = run_cycle(p, state, forcing, daylen, CO2_1850)
        state = cycle.end
        years += len(forcing)
        k += 1
        cur = cycle_state(k, cycle.annual, grid, area)
        table = evaluate(cur, prev, crit)
        history.append(cycle_passes(table))
        prev = cur
        drift = table.loc[table["criterion"] == "CTSM global drift", "drift_per_year"].iloc[0]
        if k % 20 == 1 or history[-1]:
            print(f"  cycle {k:4d} ({years:5d} y): cTotal {cur.totals['cTotal']:9.2f} PgC, "
                  f"drift {drift:+.4f} PgC/yr, passed={history[-1]}", flush=True)  # fmt: skip
        if len(history) >= consecutive and all(history[-consecutive:]):
            return state, years, True, table
    return state, years, False, table


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--res", type=float, default=2.0)
    ap.add_argument("--cycle-years", type=int, default=5)
    ap.add_argument("--consecutive", type=int, default=2)
    ap.add_argument("--brute-cap", type=int, default=4000, help="max brute-force years")
    ap.add_argument("--accel-cap", type=int, default=400, help="max accelerated normal years")
    args = ap.parse_args()

    climate = _climate()
    g = climate.make_grid(args.res)
    grid = LandGrid(
        g.lat,
        g.lon,
        np.stack([g.lat - args.res / 2, g.lat + args.res / 2], 1),
        np.stack([g.lon - args.res / 2, g.lon + args.res / 2], 1),
        g.landfrac,
    )
    forcing = [climate.land_climate(g, 1901 + i) for i in range(args.cycle_years)]
    area = (cell_area(g.lat, g.lon).ravel() * g.landfrac.ravel())[grid.land_index]
    p = kernel_params(defaults())
    daylen = cell_day_length(grid)
    crit = SpinupCriteria()
    state0 = cold_start(grid, p, forcing[0][:, 0].mean(axis=0, dtype=np.float64))
    run_cycle(p, state0, forcing[:1], daylen, CO2_1850)  # load or compile the kernel
    print(f"{grid.ncell} land cells at {args.res} degree, cycle of {args.cycle_years} years")

    print("accelerated:")
    t0 = time.perf_counter()
    solved, slog = accelerated_spinup(p, state0, forcing, daylen, CO2_1850, area)
    print(f"  {slog.solves} analytic solves in {slog.years} years, changes "
          + ", ".join(f"{c:.2e}" for c in slog.solve_changes))  # fmt: skip
    acc_state, acc_years, acc_ok, acc_table = cycle_until_equilibrium(
        p, solved, forcing, daylen, area, grid, crit, args.consecutive, args.accel_cap
    )
    acc_years += slog.years
    acc_s = time.perf_counter() - t0
    print(f"  {acc_years} simulated years, {acc_s:.1f} s, criteria passed={acc_ok}")
    if not acc_ok:
        print("  failed: " + "; ".join(failed_criteria(acc_table)))

    print("brute force:")
    t0 = time.perf_counter()
    br_state, br_years, br_ok, br_table = cycle_until_equilibrium(
        p, state0, forcing, daylen, area, grid, crit, args.consecutive, args.brute_cap
    )
    br_s = time.perf_counter() - t0
    print(f"  {br_years} simulated years, {br_s:.1f} s, criteria passed={br_ok}")
    if not br_ok:
        print("  failed: " + "; ".join(failed_criteria(br_table)))

    c_acc = float(np.sum(total_carbon(acc_state) * area) * G_TO_PG)
    c_br = float(np.sum(total_carbon(br_state) * area) * G_TO_PG)
    rel = abs(c_acc - c_br) / abs(c_br)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"final total carbon: accelerated {c_acc:.2f} PgC, brute force {c_br:.2f} PgC, "
          f"relative difference {rel:.4%}")  # fmt: skip
    print(
        f"RESULT name=spinup ours_s={acc_s:.2f} peer=brute-force peer_s={br_s:.2f} "
        f"ratio={br_years / acc_years:.2f} peak_mb={peak_mb:.0f} sim_years_brute={br_years} "
        f"sim_years_accel={acc_years} carbon_rel_diff={rel:.5f} time_ratio={br_s / acc_s:.2f} "
        f"brute_converged={int(br_ok)} accel_converged={int(acc_ok)} ncell={grid.ncell}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
