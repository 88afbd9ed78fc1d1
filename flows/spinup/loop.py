"""The spin-up loop: cycle the forcing, measure drift after each cycle, stop by the criteria.

All members (model x parameter set) spin up side by side: each round submits the next cycle of
every member that has not yet met the criteria, so the scheduler's slots stay busy. With
``mode: accelerated`` the first job is the model's own accelerated spin-up (the driver's
``spinup_mode='analytic'``, as CLM's SASU or ORCHIDEE's analytic spin-up; CELM iterates cycles,
semi-analytic solves and Anderson acceleration in one process, then runs the cycle once from
the state it found). Then normal cycles run until the criteria hold for ``consecutive`` cycles.
If the first normal cycle after an accelerated job still moves the cycle-mean total carbon by
more than ``analytic_rtol`` (relative), the next job is accelerated again (at most
``analytic_cycles`` accelerated jobs). Drift is evaluated after every cycle, accelerated ones
included, but an accelerated cycle never counts as passing: a model may end it with a solve,
so its comparison with the cycle before it says nothing about the model's own drift.

The loop is resumable: cycles the job ledger records as completed are not rerun; their
diagnostics are recomputed from their outputs, so a killed spin-up continues from the last
restart.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr

from callmip.config import SpinupConfig
from callmip.conform.conform import native_to_callmip
from flows.runs.execute import Context, RunRequest, RunResult, execute
from flows.runs.matrix import Member, spinup_years
from flows.spinup.diagnostics import (
    SPINUP_VARIABLES,
    CycleState,
    cycle_passes,
    cycle_state,
    evaluate,
    failed_criteria,
    should_stop,
    with_total_carbon,
)

log = logging.getLogger(__name__)


class SpinupError(RuntimeError):
    """Spin-up failed: a cycle's job failed, or the criteria were not met in max_cycles."""


@dataclass
class SpinupResult:
    member: Member
    restart: Path
    cycles: int
    simulated_years: int
    table: pd.DataFrame
    wall_s: float
    results: list[RunResult] = field(default_factory=list)
    equilibrium: bool = True
    failing: list[str] = field(default_factory=list)
    #: how the spin-up ran (the driver's accelerator, or plain cycles and why)
    method: str = ""
    #: how total ecosystem carbon was obtained from the model's output
    total_carbon: str = ""


@dataclass
class SpinupOutcome:
    """What the spin-up stage hands on: each member's result and the drift table of all."""

    spun: dict[str, SpinupResult]
    table: pd.DataFrame

    @classmethod
    def of(cls, spun: dict[str, SpinupResult]) -> SpinupOutcome:
        return cls(spun, pd.concat([s.table for s in spun.values()], ignore_index=True))

    def summary(self) -> dict[str, dict]:
        """Per member, what the manifest records."""
        return {label: {"cycles": s.cycles, "simulated_years": s.simulated_years,
                        "equilibrium": s.equilibrium, "failing_criteria": s.failing,
                        "method": s.method, "total_carbon": s.total_carbon,
                        "restart": str(s.restart)} for label, s in self.spun.items()}

    def notes(self) -> dict[str, str]:
        """Per member, one line for the report: equilibrium (or not), method, total carbon."""
        return {
            f"spin-up {label}": (
                f"equilibrium after {s.cycles} cycles ({s.simulated_years} simulated years)"
                if s.equilibrium
                else f"NOT in equilibrium after {s.cycles} cycles: " + "; ".join(s.failing)
            ) + f"; {s.method}; total carbon = {s.total_carbon}"
            for label, s in self.spun.items()
        }

    def jobs(self) -> dict[str, RunResult]:
        """Every spin-up cycle's run, by run id (for the jobs table)."""
        return {r.run_id: r for s in self.spun.values() for r in s.results}


@dataclass
class _MemberState:
    member: Member
    cycle: int = 0
    restart: Path | None = None
    previous: CycleState | None = None
    history: list[bool] = field(default_factory=list)
    solves: int = 0  # accelerated jobs run
    solve_next: bool = True  # accelerated mode: the next job is an accelerated one
    last_solved: bool = False  # the last job was an accelerated one
    tables: list[pd.DataFrame] = field(default_factory=list)
    results: list[RunResult] = field(default_factory=list)
    done: bool = False
    failing: list[str] = field(default_factory=list)
    accelerated: bool = False
    method: str = ""
    total_carbon: str = ""

    def next_job_accelerated(self, analytic_cycles: int) -> bool:
        """Whether the member's next job is the model's accelerated spin-up: accelerated mode,
        a solve is wanted, and fewer than ``analytic_cycles`` have run."""
        return self.accelerated and self.solve_next and self.solves < analytic_cycles

    def advance(self, state: CycleState, table: pd.DataFrame, accelerated_job: bool,
                restart: Path, cfg: SpinupConfig) -> str | None:
        """Record one finished cycle and apply the stop rules.

        An accelerated cycle never counts as passing; after the first normal cycle that follows
        one, :func:`solve_again` decides whether another is worth it. The member is done when
        the last ``consecutive`` cycles passed, or when ``max_cycles`` ran out: then the
        message naming the failing criteria is returned (the caller fails or continues, per
        ``on_max_cycles``)."""
        self.history.append(cycle_passes(table) and not accelerated_job)
        if accelerated_job:
            self.solves += 1
            self.solve_next = False
        elif self.last_solved and self.previous is not None:
            self.solve_next = solve_again(self.previous, state, cfg.analytic_rtol)
        self.last_solved = accelerated_job
        self.previous, self.restart = state, restart
        self.cycle += 1
        if should_stop(self.history, cfg.consecutive):
            self.done = True
            return None
        if self.cycle >= cfg.max_cycles:
            self.failing = failed_criteria(table)
            self.done = True
            return (
                f"spin-up of {self.member.label} did not reach equilibrium in {cfg.max_cycles} "
                "cycles; failing criteria in the last cycle:\n  " + "\n  ".join(self.failing)
            )
        return None


def spinup_method(mode: str, accelerator: str | None, driver_name: str) -> tuple[bool, str]:
    """Whether a member's cycles may use the driver's accelerator, and the sentence saying how
    its spin-up runs (for the log, the manifest and the report)."""
    if mode != "accelerated":
        return False, "plain cycles (spinup.mode: brute)"
    if accelerator is None:
        return False, (f"plain cycles: the {driver_name} driver declares no accelerated "
                       "spin-up, so spinup.mode 'accelerated' cannot apply")
    return True, f"accelerated: {accelerator}, then plain cycles"


def _landfrac(forcing_dir: Path, year: int) -> xr.DataArray:
    with xr.open_dataset(forcing_dir / f"met_{year:04d}.nc") as ds:
        return ds["landfrac"].load()


def cycle_outputs(ctx: Context, result: RunResult, model_key: str) -> tuple[xr.Dataset, str]:
    """Annual means of a cycle's pools, GPP and soil water, read from the model's own output
    through its driver's mapping and the conform stage (monthly or annual native files), with
    total ecosystem carbon derived where the model writes none; and how it was derived."""
    driver = ctx.driver(model_key)
    files = [f for run in result.segments for f in driver.output_files(run, "annual")]
    years = sum(len(run.years) for run in result.segments)
    mapped = native_to_callmip(driver, files, "annual", years, variables=SPINUP_VARIABLES)
    mapped, how = with_total_carbon(mapped)
    return mapped[["cTotal", "cSoil", "cVeg", "gpp", "mrso"]], how


def solve_again(previous: CycleState, current: CycleState, rtol: float) -> bool:
    """Whether another accelerated job is worth it: the first normal cycle after one still moved
    the cycle-mean global total carbon by more than ``rtol`` (relative)."""
    change = abs(current.totals["cTotal"] - previous.totals["cTotal"])
    return bool(change > rtol * abs(current.totals["cTotal"]))


def spin_up(ctx: Context, members: list[Member]) -> dict[str, SpinupResult]:
    """Spin every member up to equilibrium; raise :class:`SpinupError` when one cannot."""
    cfg = ctx.campaign.spinup
    years = spinup_years(ctx.campaign)
    landfrac = _landfrac(ctx.forcing_dir, years[0].forcing_year)
    states = {m.label: _MemberState(m) for m in members}
    for s in states.values():
        driver = ctx.driver(s.member.model.key)
        s.accelerated, s.method = spinup_method(cfg.mode, driver.capabilities.accelerated_spinup,
                                                driver.name)
        log.info("spin-up of %s: %s", s.member.label, s.method)
    start = time.monotonic()
    while active := [s for s in states.values() if not s.done]:
        requests = []
        for s in active:
            analytic = s.next_job_accelerated(cfg.analytic_cycles)
            requests.append(
                RunRequest(
                    run_id=f"{s.member.label}_spinup_c{s.cycle:04d}",
                    driver=s.member.model.key,
                    params_file=s.member.params_file,
                    years=years,
                    restart_in=s.restart,
                    spinup_mode="analytic" if analytic else None,
                    monthly_output=False,
                )
            )
        results = execute(ctx, requests)
        for s, req in zip(active, requests, strict=True):
            res = results[req.run_id]
            s.results.append(res)
            if not res.ok:
                bad = next((o for o in res.outcomes if o.state != "COMPLETED"), None)
                why = f"{bad.key}: {bad.reason}\n{bad.log_tail}" if bad else ""
                raise SpinupError(
                    f"spin-up of {s.member.label} failed in cycle {s.cycle} ({res.state}): {why}"
                )
            annual, s.total_carbon = cycle_outputs(ctx, res, s.member.model.key)
            state = cycle_state(s.cycle, annual, landfrac)
            table = evaluate(state, s.previous, cfg.criteria)
            table.insert(0, "model", f"{s.member.model.name}.{s.member.model.version}")
            table.insert(1, "stage", s.member.stage)
            s.tables.append(table)
            log.info(
                "spin-up %s cycle %d: cTotal %.2f PgC, passes=%s",
                s.member.label, s.cycle, state.totals["cTotal"],
                cycle_passes(table) and not req.spinup_mode,
            )
            message = s.advance(state, table, bool(req.spinup_mode), res.restart, cfg)
            if message is not None:
                if cfg.on_max_cycles == "fail":
                    raise SpinupError(message)
                log.warning("%s\ncontinuing from the last cycle (on_max_cycles: continue)",
                            message)
    wall = time.monotonic() - start
    out = {}
    for label, s in states.items():
        assert s.restart is not None
        out[label] = SpinupResult(
            s.member, s.restart, s.cycle, s.cycle * len(years),
            pd.concat(s.tables, ignore_index=True), wall, s.results,
            equilibrium=not s.failing, failing=s.failing, method=s.method,
            total_carbon=s.total_carbon,
        )
    return out
