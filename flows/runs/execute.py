"""Run model runs as batch jobs: segments chained by restarts, through the Supervisor.

Everything here is plain Python over the scheduler contract, so it runs the same on the local
executor and on Slurm, and it is safe to call again after the orchestrator was killed: tasks the
ledger knows are re-attached or skipped, never submitted twice.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from callmip.config import Campaign
from callmip.drivers import ModelDriver, ModelRun, YearSpec, get_driver
from callmip.rundir import RunDir
from callmip.scheduler import JobLedger, JobSpec, JobState, LocalScheduler, Scheduler
from callmip.scheduler.array_launch import write_member
from callmip.scheduler.supervisor import ArrayTasks, Supervisor, TaskOutcome
from flows.runs.matrix import segments
from flows.runs.paths import landuse_dir, ndep_dir

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What every run needs: the campaign, its directory, scheduler, ledger and forcing."""

    campaign: Campaign
    rundir: RunDir
    scheduler: Scheduler
    ledger: JobLedger
    forcing_dir: Path
    on_change: Callable[[str, JobState, str], None] | None = None
    poll_s: float = 0.5
    #: the campaign's historical land use and N deposition (callmip.drivers.change layout)
    landuse_dir: Path | None = None
    ndep_dir: Path | None = None

    @classmethod
    def create(cls, campaign: Campaign, rundir: RunDir, forcing_dir: Path, **kw) -> Context:
        backend = campaign.scheduler.backend
        if backend == "local":
            scheduler: Scheduler = LocalScheduler(rundir.path, campaign.scheduler.max_parallel)
        else:
            from callmip.scheduler.slurm import SlurmScheduler  # needs a Slurm installation

            scheduler = SlurmScheduler(rundir.path)
        ledger = JobLedger(rundir.path / "jobs.json")
        # prepared by the forcing stage; a context made without it (unit tests) has none
        for key, path in (("landuse_dir", landuse_dir(campaign, rundir.path)),
                          ("ndep_dir", ndep_dir(campaign, rundir.path))):
            kw.setdefault(key, path if path.is_dir() else None)
        return cls(campaign, rundir, scheduler, ledger, forcing_dir, **kw)

    def supervisor(self) -> Supervisor:
        return Supervisor(
            self.scheduler, self.ledger, self.campaign.scheduler.retry, self.poll_s, self.on_change
        )

    def driver(self, name: str) -> ModelDriver:
        return get_driver(name)


@dataclass
class RunRequest:
    """A run to execute: id, driver, parameters, years, and the restart it starts from."""

    run_id: str
    driver: str
    params_file: Path
    years: tuple[YearSpec, ...]
    restart_in: Path | None
    ensemble_member: int | None = None
    spinup_mode: str | None = None
    daily_output: bool = False
    monthly_output: bool = True
    forcing_dir: Path | None = None  # default: the campaign's historical model-ready forcing
    landuse_dir: Path | None = None  # default: the campaign's historical land use
    ndep_dir: Path | None = None  # default: the campaign's historical N deposition
    #: requests with the same group (an ensemble, a scenario matrix) start as one job array
    array_group: str | None = None
    break_after: tuple[int, ...] = ()  # years after which a segment (and a restart) must end


@dataclass
class RunResult:
    """Outcome of a run: its final state, restart, segment run specs and job outcomes."""

    run_id: str
    state: JobState
    restart: Path | None
    segments: list[ModelRun] = field(default_factory=list)
    outcomes: list[TaskOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == JobState.COMPLETED

    def restart_after(self, driver: ModelDriver, year: int) -> Path | None:
        """Restart written at the end of ``year`` (a segment boundary), if the run reached it."""
        if not self.ok:
            return None
        for run in self.segments:
            if run.years[-1].year == year:
                return driver.restart_out(run)
        return None


def _segment_runs(ctx: Context, req: RunRequest) -> list[ModelRun]:
    chunks = segments(req.years, ctx.campaign.scheduler.segment_years, req.break_after)
    driver = ctx.driver(req.driver)
    runs: list[ModelRun] = []
    restart = req.restart_in
    base = ctx.rundir.path / "runs" / req.run_id
    for i, years in enumerate(chunks):
        work = base if len(chunks) == 1 else base / f"seg{i:03d}"
        run = ModelRun(
            run_id=req.run_id,
            params_file=req.params_file,
            forcing_dir=req.forcing_dir or ctx.forcing_dir,
            years=tuple(years),
            work_dir=work,
            restart_in=restart,
            ensemble_member=req.ensemble_member,
            daily_output=req.daily_output,
            monthly_output=req.monthly_output,
            spinup_mode=req.spinup_mode if i == 0 else None,
            landuse_dir=req.landuse_dir or ctx.landuse_dir,
            ndep_dir=req.ndep_dir or ctx.ndep_dir,
        )
        runs.append(run)
        restart = driver.restart_out(run)
    return runs


def _job_spec(ctx: Context, run: ModelRun, i: int, attempt: int, driver: ModelDriver) -> JobSpec:
    return JobSpec(
        name=f"{run.run_id}.seg{i:03d}",
        argv=tuple(driver.prepare(run)),
        workdir=run.work_dir,
        log_path=run.work_dir / f"model.{attempt}.log",
        resources=ctx.campaign.scheduler.resources,
        env=_JOB_ENV,
    )


_JOB_ENV = {"PYTHONUNBUFFERED": "1", "NUMBA_NUM_THREADS": "1"}


def _array(ctx: Context, group: str, firsts: list[tuple[str, ModelRun, ModelDriver]]) -> ArrayTasks:
    """The first segments of a group of runs as one job array (members launched through
    :mod:`callmip.scheduler.array_launch`); a member resubmitted alone is a plain single job."""
    adir = ctx.rundir.path / "runs" / "_arrays" / group

    def template(attempt: int) -> JobSpec:
        for index, (_, run, driver) in enumerate(firsts):
            write_member(adir, index, driver.prepare(run), run.work_dir)
        return JobSpec(
            name=f"{group}.array",
            argv=(sys.executable, "-m", "callmip.scheduler.array_launch", str(adir),
                  "{array_index}"),
            workdir=adir,
            log_path=adir / f"member_{{array_index}}.{attempt}.log",
            resources=ctx.campaign.scheduler.resources,
            env=_JOB_ENV,
        )

    def member(index: int, attempt: int) -> JobSpec:
        _, run, driver = firsts[index]
        return _job_spec(ctx, run, 0, attempt, driver)

    return ArrayTasks(keys=[key for key, _, _ in firsts], template=template, member=member)


def execute(ctx: Context, requests: Sequence[RunRequest]) -> dict[str, RunResult]:
    """Run every request (all segments, dependencies chained) and wait for all of them.

    Requests sharing an ``array_group`` (two or more) have their first segments submitted as
    one job array, as HPC centres expect for ensembles; later segments chain as single jobs.
    """
    factories = {}
    depends: dict[str, list[str]] = {}
    seg_runs: dict[str, list[ModelRun]] = {}
    group_size: dict[str, int] = {}
    for req in requests:
        if req.array_group is not None:
            group_size[req.array_group] = group_size.get(req.array_group, 0) + 1
    grouped: dict[str, list[tuple[str, ModelRun, ModelDriver]]] = {}
    for req in requests:
        driver = ctx.driver(req.driver)
        runs = _segment_runs(ctx, req)
        seg_runs[req.run_id] = runs
        for i, run in enumerate(runs):
            key = f"{req.run_id}/seg{i:03d}"
            if i == 0 and group_size.get(req.array_group or "", 0) > 1:
                grouped.setdefault(req.array_group or "", []).append((key, run, driver))
            else:
                factories[key] = partial(_job_spec, ctx, run, i, driver=driver)
            if i:
                depends[key] = [f"{req.run_id}/seg{i - 1:03d}"]
    arrays = [_array(ctx, group, firsts) for group, firsts in grouped.items()]
    outcomes = ctx.supervisor().run(factories, depends, arrays=arrays)
    results = {}
    for req in requests:
        runs = seg_runs[req.run_id]
        outs = [outcomes[f"{req.run_id}/seg{i:03d}"] for i in range(len(runs))]
        bad = [o for o in outs if o.state != JobState.COMPLETED]
        state = bad[0].state if bad else JobState.COMPLETED
        restart = ctx.driver(req.driver).restart_out(runs[-1]) if not bad else None
        results[req.run_id] = RunResult(req.run_id, state, restart, runs, outs)
        if bad:
            log.error("run %s ended %s: %s\n%s", req.run_id, state, bad[0].reason, bad[0].log_tail)
    return results
