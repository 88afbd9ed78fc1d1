"""The spin-up loop's decisions, fast: which job is accelerated, when a member stops, and what
happens at max_cycles. Real cycle states and criteria tables (flows.spinup.diagnostics) from
constructed outputs; no model, scheduler or Prefect is involved because none decides anything
here (the whole loop runs end to end in tests/spinup/test_any_driver.py)."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import xarray as xr

from callmip.config import SpinupConfig
from flows.spinup.diagnostics import cycle_state, evaluate
from flows.spinup.loop import _MemberState

LAT = np.arange(-59.0, 60.0, 6.0)
LON = np.arange(-177.0, 180.0, 6.0)
LANDFRAC = xr.DataArray(np.ones((LAT.size, LON.size)), dims=("lat", "lon"))


def cycle_output(ctotal_kg_m2: float, n_years: int = 2) -> xr.Dataset:
    field = np.full((n_years, LAT.size, LON.size), ctotal_kg_m2)

    def da(x):
        return (("time", "lat", "lon"), x)

    return xr.Dataset(
        {"cTotal": da(field), "cSoil": da(0.7 * field), "cVeg": da(0.3 * field),
         "gpp": da(np.full_like(field, 3e-8)), "mrso": da(np.full_like(field, 300.0))},
        coords={"time": np.arange(n_years), "lat": LAT, "lon": LON},
    )


def spin(totals: list[float], cfg: SpinupConfig, accelerated: bool):
    """Drive one member through cycles whose cycle-mean total carbon is ``totals``; returns
    the member, which jobs were accelerated, and the max-cycles message (if any)."""
    s = _MemberState(member=SimpleNamespace(label="M.v1_prior"), accelerated=accelerated)
    jobs, message = [], None
    for c, total in enumerate(totals):
        if s.done:
            break
        job_accelerated = s.next_job_accelerated(cfg.analytic_cycles)
        jobs.append(job_accelerated)
        state = cycle_state(c, cycle_output(total), LANDFRAC)
        table = evaluate(state, s.previous, cfg.criteria)
        message = s.advance(state, table, job_accelerated, Path(f"restart_c{c}"), cfg)
    return s, jobs, message


def test_brute_mode_stops_after_consecutive_passing_cycles():
    cfg = SpinupConfig(mode="brute", consecutive=2)
    s, jobs, message = spin([10.0] * 10, cfg, accelerated=False)
    # the first cycle has no predecessor, so cannot pass; the next two pass
    assert s.history == [False, True, True]
    assert s.done and message is None and s.cycle == 3
    assert jobs == [False, False, False]
    assert s.restart == Path("restart_c2")


def test_an_accelerated_cycle_never_counts_and_a_large_change_solves_again():
    cfg = SpinupConfig(mode="accelerated", analytic_cycles=3, analytic_rtol=3e-4, consecutive=2)
    # solve, then a normal cycle still 5% away (solve again), then steady
    s, jobs, message = spin([10.0, 10.5, 10.5, 10.5, 10.5, 10.5], cfg, accelerated=True)
    assert jobs == [True, False, True, False, False]
    assert s.history == [False, False, False, True, True]
    assert s.solves == 2 and s.done and message is None


def test_a_small_change_after_a_solve_goes_on_with_normal_cycles():
    cfg = SpinupConfig(mode="accelerated", analytic_cycles=3, analytic_rtol=0.1, consecutive=1)
    s, jobs, _ = spin([10.0, 10.5, 10.5], cfg, accelerated=True)
    # 5% < rtol 10%: no second solve; the cycle after the first normal one passes
    assert jobs == [True, False, False]
    assert s.solves == 1 and s.history == [False, False, True] and s.done


def test_accelerated_jobs_are_bounded_by_analytic_cycles():
    cfg = SpinupConfig(mode="accelerated", analytic_cycles=2, max_cycles=8,
                       on_max_cycles="continue")
    s, jobs, message = spin([10.0 + 0.5 * c for c in range(8)], cfg, accelerated=True)
    assert sum(jobs) == 2 and jobs[:3] == [True, False, True]
    assert message is not None and s.done


def test_max_cycles_without_equilibrium_names_the_failing_criteria():
    cfg = SpinupConfig(mode="brute", max_cycles=4, consecutive=2)
    s, jobs, message = spin([10.0, 10.2, 10.4, 10.6, 10.8], cfg, accelerated=False)
    assert len(jobs) == 4 and s.cycle == 4 and s.done
    assert not any(s.history)
    assert "did not reach equilibrium in 4 cycles" in message
    assert s.failing and all(line in message for line in s.failing)
    assert any("cTotal" in line for line in s.failing)
