"""The spin-up loop: cycle the forcing, measure drift after each cycle, stop by the criteria.

All members (model x parameter set) spin up side by side: each round submits the next cycle of
every member that has not yet met the criteria, so the scheduler's slots stay busy. With
``mode: accelerated`` the first job is the model's own accelerated spin-up (the driver's
``spinup_mode='analytic'``, as CLM's SASU or ORCHIDEE's analytic spin-up; CELM iterates cycles,
semi-analytic solves and Anderson acceleration in one process, then runs the cycle once from
the state it found). Then the judge (``spinup.judge``) decides, ``consecutive`` times in a row:

* ``cycle``: normal cycles run, each compared with the one before (cycle means). A comparison
  counts only between two runs of the model, each starting where the other ended: never an
  accelerated cycle (a model may find its state by a solve), nor the first normal cycle after
  an accelerated job whose outputs precede its solve (CABLE's).
* ``phase`` (CTSM's SpinupStability): after a cycle whose outputs run into its restart (a
  normal one, or CELM's accelerated job, which ends with a normal cycle), a one-year check job
  runs the cycle's first year again from its restart and is compared with that cycle's first
  year: the same forcing one cycle apart, so the difference is the model's own drift. The
  check's restart is discarded: the transient starts at the end of the checked cycle. On a
  20-year cycle this judges with 1 year instead of 20 or 40.

If the first comparison after an accelerated job still moves total carbon by more than
``analytic_rtol`` (relative), the next job is accelerated again (at most ``analytic_cycles``
accelerated jobs). Every cycle's drift against the one before is recorded in the table,
accelerated ones included, with what it compared.

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

from callmip.config import SPINUP_JUDGES, SpinupConfig
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
    #: phase judge: one-year check jobs run (their restarts are discarded)
    checks: int = 0
    #: years the model iterated inside its accelerated jobs (None: its driver does not say)
    iterated_years: int | None = None


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
                        "checks": s.checks, "iterated_years": s.iterated_years,
                        "method": s.method, "total_carbon": s.total_carbon,
                        "restart": str(s.restart)} for label, s in self.spun.items()}

    def notes(self) -> dict[str, str]:
        """Per member, one line for the report: equilibrium (or not), method, total carbon."""
        return {
            f"spin-up {label}": (
                f"equilibrium after {_count(s.cycles, 'cycle')}"
                + (f" and {_count(s.checks, 'one-year check')}" if s.checks else "")
                + f" ({s.simulated_years} simulated years in jobs"
                + _iterated(s) + ")"
                if s.equilibrium
                else f"NOT in equilibrium after {_count(s.cycles, 'cycle')}: "
                + "; ".join(s.failing)
            ) + f"; {s.method}; total carbon = {s.total_carbon}"
            for label, s in self.spun.items()
        }

    def jobs(self) -> dict[str, RunResult]:
        """Every spin-up cycle's run, by run id (for the jobs table)."""
        return {r.run_id: r for s in self.spun.values() for r in s.results}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _iterated(s: SpinupResult) -> str:
    if not s.method.startswith("accelerated"):
        return ""
    if s.iterated_years is None:
        return "; the accelerated job's own iterations are not reported by its driver"
    return f", plus {s.iterated_years} iterated inside the model's accelerated job"


@dataclass
class _MemberState:
    member: Member
    cycle: int = 0  # cycle jobs run (normal or accelerated)
    restart: Path | None = None  # the last cycle job's restart: where the transient starts
    previous: CycleState | None = None
    #: phase judge: the first year of the last cycle, awaiting the check run from its restart
    first_year: CycleState | None = None
    history: list[bool] = field(default_factory=list)
    checks: int = 0  # phase judge: one-year check jobs run
    iterated_years: int | None = 0  # inside accelerated jobs (None: a driver did not say)
    solves: int = 0  # accelerated jobs run
    solve_next: bool = True  # accelerated mode: the next job is an accelerated one
    last_solved: bool = False  # the last cycle job was an accelerated one
    #: the driver's accelerated job writes a normal cycle ending at its restart
    #: (:attr:`Capabilities.accelerated_ends_with_cycle`)
    ends_with_cycle: bool = True
    #: the last cycle job's outputs run into its restart, so a run from that restart may be
    #: compared with them
    continuous: bool = True
    tables: list[pd.DataFrame] = field(default_factory=list)
    results: list[RunResult] = field(default_factory=list)
    done: bool = False
    failing: list[str] = field(default_factory=list)
    accelerated: bool = False
    method: str = ""
    total_carbon: str = ""
    cycle_years: int = 0

    def next_job_accelerated(self, analytic_cycles: int) -> bool:
        """Whether the member's next job is the model's accelerated spin-up: accelerated mode,
        a solve is wanted, and fewer than ``analytic_cycles`` have run."""
        return self.accelerated and self.solve_next and self.solves < analytic_cycles

    def add_iterated(self, years: list[int | None]) -> None:
        """Count the years an accelerated job's model iterated (unknown once any is)."""
        if self.iterated_years is None or None in years:
            self.iterated_years = None
        else:
            self.iterated_years += sum(y for y in years if y is not None)

    @property
    def awaiting_check(self) -> bool:
        """Phase judge: the next job is the one-year check of the last cycle."""
        return self.first_year is not None

    def advance(self, state: CycleState, table: pd.DataFrame, accelerated_job: bool,
                restart: Path, cfg: SpinupConfig,
                first_year: CycleState | None = None) -> str | None:
        """Record one finished cycle job and, for the cycle judge, apply the stop rules.

        Cycle judge: a cycle passes only when it compares two runs of the model, each from
        the other's end: never an accelerated cycle (a model may find its state by a solve),
        and not the first normal cycle after an accelerated job whose outputs precede its solve
        (``ends_with_cycle`` False). After the first normal cycle that follows a solve,
        :func:`solve_again` decides whether another is worth it.

        Phase judge: a cycle whose outputs run into its restart keeps its first year
        (``first_year``) for the check that follows; the check decides
        (:meth:`advance_check`). A cycle that cannot be checked (an accelerated job ending with
        a solve) is followed by a normal cycle.

        Returns the message naming the failing criteria when ``max_cycles`` ran out without
        equilibrium (the caller fails or continues, per ``on_max_cycles``), else None."""
        compared = self.continuous and not accelerated_job
        self.continuous = self.ends_with_cycle or not accelerated_job
        if accelerated_job:
            self.solves += 1
            self.solve_next = False
        elif self.last_solved and self.previous is not None:
            self.solve_next = solve_again(self.previous, state, cfg.analytic_rtol)
        self.previous, self.restart = state, restart
        self.cycle += 1
        if cfg.judge == "phase":
            if self.continuous:
                if first_year is None:
                    raise ValueError("the phase judge needs the cycle's first year")
                self.first_year = first_year
                self.last_solved = accelerated_job  # the check decides whether to solve again
                return None
            self.last_solved = accelerated_job
            return self._out_of_cycles(table, cfg)
        self.last_solved = accelerated_job
        self.history.append(cycle_passes(table) and compared)
        return self._stop(table, cfg)

    def advance_check(self, state: CycleState, table: pd.DataFrame,
                      cfg: SpinupConfig) -> str | None:
        """Record the phase judge's check of the last cycle (``table`` compares its year with
        the cycle's first year) and apply the stop rules; the member's restart stays the
        cycle's. After an accelerated cycle the same comparison decides whether to solve
        again."""
        if self.first_year is None:
            raise ValueError("no cycle awaits a check")
        self.checks += 1
        if self.last_solved:
            self.solve_next = solve_again(self.first_year, state, cfg.analytic_rtol)
            self.last_solved = False
        self.first_year = None
        self.history.append(cycle_passes(table))
        return self._stop(table, cfg)

    def _stop(self, table: pd.DataFrame, cfg: SpinupConfig) -> str | None:
        if should_stop(self.history, cfg.consecutive):
            self.done = True
            return None
        return self._out_of_cycles(table, cfg)

    def _out_of_cycles(self, table: pd.DataFrame, cfg: SpinupConfig) -> str | None:
        if self.cycle < cfg.max_cycles:
            return None
        self.failing = failed_criteria(table)
        self.done = True
        return (
            f"spin-up of {self.member.label} did not reach equilibrium in {cfg.max_cycles} "
            "cycles; failing criteria in the last cycle:\n  " + "\n  ".join(self.failing)
        )

    @property
    def simulated_years(self) -> int:
        """Years the member's jobs ran, as the orchestrator sees them (an accelerated job
        counts as one cycle; the model's log says how many it iterated inside)."""
        return self.cycle * self.cycle_years + self.checks


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
    states = {m.label: _MemberState(m, cycle_years=len(years)) for m in members}
    for s in states.values():
        driver = ctx.driver(s.member.model.key)
        s.accelerated, s.method = spinup_method(cfg.mode, driver.capabilities.accelerated_spinup,
                                                driver.name)
        s.ends_with_cycle = driver.capabilities.accelerated_ends_with_cycle
        log.info("spin-up of %s: %s; judged by %s", s.member.label, s.method,
                 SPINUP_JUDGES[cfg.judge])
    start = time.monotonic()
    while active := [s for s in states.values() if not s.done]:
        requests = [_next_request(s, cfg, years) for s in active]
        results = execute(ctx, requests)
        for s, req in zip(active, requests, strict=True):
            res = results[req.run_id]
            s.results.append(res)
            if not res.ok:
                bad = next((o for o in res.outcomes if o.state != "COMPLETED"), None)
                why = f"{bad.key}: {bad.reason}\n{bad.log_tail}" if bad else ""
                raise SpinupError(
                    f"spin-up of {s.member.label} failed in {req.run_id} ({res.state}): {why}"
                )
            annual, s.total_carbon = cycle_outputs(ctx, res, s.member.model.key)
            if req.spinup_mode:
                s.add_iterated([ctx.driver(req.driver).iterated_years(run)
                                for run in res.segments])
            if s.awaiting_check:
                message = _record_check(s, annual, landfrac, cfg, len(years))
            else:
                message = _record_cycle(s, annual, landfrac, cfg, bool(req.spinup_mode),
                                        res.restart, len(years))
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
            s.member, s.restart, s.cycle, s.simulated_years,
            pd.concat(s.tables, ignore_index=True), wall, s.results,
            equilibrium=not s.failing, failing=s.failing, method=s.method,
            total_carbon=s.total_carbon, checks=s.checks,
            iterated_years=s.iterated_years if s.solves else None,
        )
    return out


def _next_request(s: _MemberState, cfg: SpinupConfig, years: list) -> RunRequest:
    """The member's next job: the phase judge's one-year check of its last cycle (from that
    cycle's restart, which stays the member's), or its next cycle (accelerated or normal)."""
    check = s.awaiting_check
    analytic = not check and s.next_job_accelerated(cfg.analytic_cycles)
    return RunRequest(
        run_id=(f"{s.member.label}_spinup_c{s.cycle - 1:04d}_check" if check
                else f"{s.member.label}_spinup_c{s.cycle:04d}"),
        driver=s.member.model.key,
        params_file=s.member.params_file,
        years=years[:1] if check else years,
        restart_in=s.restart,
        spinup_mode="analytic" if analytic else None,
        monthly_output=False,
    )


def _labelled(s: _MemberState, table: pd.DataFrame, compared: str) -> pd.DataFrame:
    table.insert(0, "model", f"{s.member.model.name}.{s.member.model.version}")
    table.insert(1, "stage", s.member.stage)
    table["compared"] = compared
    s.tables.append(table)
    return table


def _record_cycle(s: _MemberState, annual: xr.Dataset, landfrac: xr.DataArray,
                  cfg: SpinupConfig, accelerated_job: bool, restart: Path,
                  n_years: int) -> str | None:
    """Evaluate a finished cycle job against the cycle before it and advance the member."""
    last = annual.isel(time=slice(annual.sizes["time"] - n_years, None))
    state = cycle_state(s.cycle, last, landfrac)
    table = _labelled(s, evaluate(state, s.previous, cfg.criteria), SPINUP_JUDGES["cycle"])
    first = cycle_state(s.cycle, last.isel(time=[0]), landfrac) if cfg.judge == "phase" else None
    cycle = s.cycle
    message = s.advance(state, table, accelerated_job, restart, cfg, first_year=first)
    log.info(
        "spin-up %s cycle %d%s: cTotal %.2f PgC (cycle mean), %s",
        s.member.label, cycle, " (accelerated)" if accelerated_job else "",
        state.totals["cTotal"],
        f"passes={s.history[-1]}" if cfg.judge == "cycle"
        else "its check follows" if s.awaiting_check else "not checkable: a normal cycle follows",
    )
    return message


def _record_check(s: _MemberState, annual: xr.Dataset, landfrac: xr.DataArray,
                  cfg: SpinupConfig, cycle_years: int) -> str | None:
    """Evaluate the phase judge's check year against its cycle's first year (drift = their
    difference over the cycle's length) and advance the member."""
    assert s.first_year is not None
    state = cycle_state(s.cycle - 1, annual.isel(time=[0]), landfrac)
    table = _labelled(s, evaluate(state, s.first_year, cfg.criteria, years_apart=cycle_years),
                      SPINUP_JUDGES["phase"])
    log.info("spin-up %s check of cycle %d: cTotal %.2f PgC (its first year again), passes=%s",
             s.member.label, s.cycle - 1, state.totals["cTotal"], cycle_passes(table))
    return s.advance_check(state, table, cfg)
