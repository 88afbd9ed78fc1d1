"""The spin-up loop's decisions, fast: which job is accelerated, when a member stops, and what
happens at max_cycles. Real cycle states and criteria tables (flows.spinup.diagnostics) from
constructed outputs; no model, scheduler or Prefect is involved because none decides anything
here (the whole loop runs end to end in tests/spinup/test_any_driver.py)."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
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


def spin_phase(jobs_totals: list[float], cfg: SpinupConfig, accelerated: bool,
               ends_with_cycle: bool = True):
    """Drive one member under the phase judge: each value is the total carbon of the next
    job's output, a cycle's (its first year included) or a check year's. Returns the member
    and the kinds of job run ('A' accelerated cycle, 'C' normal cycle, 'k' check)."""
    s = _MemberState(member=SimpleNamespace(label="M.v1_prior"), accelerated=accelerated,
                     ends_with_cycle=ends_with_cycle, cycle_years=2)
    kinds, message = [], None
    for total in jobs_totals:
        if s.done:
            break
        if s.awaiting_check:
            kinds.append("k")
            check = cycle_state(s.cycle - 1, cycle_output(total, n_years=1), LANDFRAC)
            table = evaluate(check, s.first_year, cfg.criteria, years_apart=2)
            message = s.advance_check(check, table, cfg)
            continue
        job_accelerated = s.next_job_accelerated(cfg.analytic_cycles)
        kinds.append("A" if job_accelerated else "C")
        out = cycle_output(total)
        state = cycle_state(s.cycle, out, LANDFRAC)
        first = cycle_state(s.cycle, out.isel(time=[0]), LANDFRAC)
        table = evaluate(state, s.previous, cfg.criteria)
        message = s.advance(state, table, job_accelerated, Path(f"restart_c{s.cycle}"), cfg,
                            first_year=first)
    return s, "".join(kinds), message


def test_phase_judge_stops_at_the_first_passing_check_and_keeps_the_cycles_restart():
    cfg = SpinupConfig(mode="brute", judge="phase", consecutive=1)
    # cycle 0, its check drifts by 0.2 kg m-2 over the 2-year cycle; cycle 1, its check holds
    s, kinds, message = spin_phase([10.0, 10.2, 10.2, 10.2, 99.0], cfg, accelerated=False)
    assert kinds == "CkCk" and s.history == [False, True]
    assert s.done and message is None
    # the transient starts at the end of the checked cycle, not after its check year
    assert s.restart == Path("restart_c1")
    assert s.cycle == 2 and s.checks == 2 and s.simulated_years == 2 * 2 + 2


def test_phase_judge_checks_an_accelerated_job_that_ends_with_a_cycle():
    cfg = SpinupConfig(mode="accelerated", judge="phase", consecutive=1, analytic_rtol=3e-4)
    # the accelerated job, its check still 5% away (solve again), then a held state
    s, kinds, _ = spin_phase([10.0, 10.5, 10.5, 10.5], cfg, accelerated=True)
    assert kinds == "AkAk" and s.solves == 2 and s.history == [False, True] and s.done
    # a small change after the solve: normal cycles go on, and are checked
    s, kinds, _ = spin_phase([10.0, 10.001, 10.001, 10.001], SpinupConfig(
        mode="accelerated", judge="phase", consecutive=1, analytic_rtol=0.1), accelerated=True)
    assert kinds == "AkCk" and s.solves == 1 and s.history == [False, True]


def test_an_accelerated_job_ending_with_a_solve_is_never_compared_with_a_run_from_its_restart():
    # CABLE: the outputs are the cycle before CASA's solve, the restart the solved state; the
    # cycle after it equals them exactly here and still does not count
    cfg = SpinupConfig(mode="accelerated", judge="cycle", consecutive=1, analytic_cycles=1)
    s, jobs, _ = spin([10.0, 10.0, 10.0], cfg, accelerated=True)
    assert jobs == [True, False]
    assert s.history == [False, True] and s.cycle == 2  # CELM: compared at once
    s = _MemberState(member=SimpleNamespace(label="M.v1_prior"), accelerated=True,
                     ends_with_cycle=False)
    for c in range(3):
        job_accelerated = s.next_job_accelerated(cfg.analytic_cycles)
        state = cycle_state(c, cycle_output(10.0), LANDFRAC)
        s.advance(state, evaluate(state, s.previous, cfg.criteria), job_accelerated,
                  Path(f"restart_c{c}"), cfg)
    assert s.history == [False, False, True] and s.cycle == 3 and s.done
    # the phase judge runs a normal cycle after it before the first check
    cfg = SpinupConfig(mode="accelerated", judge="phase", consecutive=1, analytic_cycles=1)
    s, kinds, _ = spin_phase([10.0, 10.0, 10.0, 10.0], cfg, accelerated=True,
                             ends_with_cycle=False)
    assert kinds == "ACk" and s.history == [True] and s.restart == Path("restart_c1")


def test_phase_judge_drift_is_the_difference_over_the_cycle_length():
    cfg = SpinupConfig(judge="phase")
    first = cycle_state(0, cycle_output(10.0, n_years=1), LANDFRAC)
    check = cycle_state(0, cycle_output(10.0 + 0.02, n_years=1), LANDFRAC)
    for cycle_years in (2, 20):
        table = evaluate(check, first, cfg.criteria, years_apart=cycle_years)
        row = table[(table["variable"] == "cTotal")
                    & (table["criterion"] == "CTSM global drift")].iloc[0]
        expected = (check.totals["cTotal"] - first.totals["cTotal"]) / cycle_years
        assert row["drift_per_year"] == pytest.approx(expected, rel=1e-12)
        # per cell: 0.02 kg m-2 = 20 gC m-2 over the cycle
        area = table[table["criterion"].str.startswith("CTSM area")].iloc[0]
        assert area["drift_per_year"] == (1.0 if 20.0 / cycle_years > 1.0 else 0.0)


def test_phase_judge_out_of_cycles_names_the_failing_check():
    cfg = SpinupConfig(mode="brute", judge="phase", max_cycles=2, consecutive=1)
    s, kinds, message = spin_phase([10.0, 10.4, 10.4, 10.8], cfg, accelerated=False)
    assert kinds == "CkCk" and s.done and not any(s.history)
    assert "did not reach equilibrium in 2 cycles" in message
    assert any("cTotal" in line for line in s.failing)
