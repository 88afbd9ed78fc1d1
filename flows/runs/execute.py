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

from callmip.config import Campaign, ModelConfigBase
from callmip.drivers import (
    ModelDriver,
    ModelRun,
    NativeOutputError,
    RenderError,
    YearSpec,
    get_driver,
)
from callmip.rundir import RunDir
from callmip.scheduler import JobLedger, JobSpec, JobState, Scheduler
from callmip.scheduler.array_launch import write_member
from callmip.scheduler.registry import make_scheduler
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
    _drivers: dict[str, ModelDriver] = field(default_factory=dict, repr=False)

    @classmethod
    def create(cls, campaign: Campaign, rundir: RunDir, forcing_dir: Path, **kw) -> Context:
        scheduler = make_scheduler(campaign.scheduler.backend, rundir.path,
                                   campaign.scheduler.max_parallel)
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

    def driver(self, key: str) -> ModelDriver:
        """The configured driver of the campaign's model ``key`` (``<name>.<version>``); a bare
        registered driver name gives that driver with default options."""
        if key not in self._drivers:
            model = next((m for m in self.campaign.models if m.key == key), None)
            self._drivers[key] = (get_driver(key) if model is None
                                  else model_driver(model, self.rundir.path))
        return self._drivers[key]


def model_driver(model: ModelConfigBase, run_dir: Path) -> ModelDriver:
    """A model's driver with the campaign's options; its workspace is
    ``<run_dir>/models/<name>.<version>/``."""
    return get_driver(model.driver, model.options, workspace=run_dir / "models" / model.key)


@dataclass
class RunRequest:
    """A run to execute: id, model, parameters, years, and the restart it starts from.

    ``driver`` names the campaign's model (``<name>.<version>``, see :meth:`Context.driver`).
    """

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


def task_key(run_id: str, segment: int, chunk: int | None = None) -> str:
    """Ledger key of one job: ``<run>/segNNN`` or, for a land chunk, ``<run>/segNNN/cNNN``."""
    key = f"{run_id}/seg{segment:03d}"
    return key if chunk is None else f"{key}/c{chunk:03d}"


def _job_spec(ctx: Context, run: ModelRun, i: int, attempt: int, driver: ModelDriver) -> JobSpec:
    argv = tuple(driver.prepare(run))
    where = driver.job_dir(run)
    chunk = "" if run.chunk is None else f".c{run.chunk:03d}"
    return JobSpec(
        name=f"{run.run_id}.seg{i:03d}{chunk}",
        argv=argv,
        workdir=where,
        log_path=where / f"model.{attempt}.log",
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
            write_member(adir, index, driver.prepare(run), driver.job_dir(run))
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

    A segment is one job, or one job per land chunk for a driver that splits runs
    (:meth:`~callmip.drivers.ModelDriver.chunk_runs`); chunk k of a segment depends only on
    chunk k of the previous one, and the chunks of a segment start as one job array. When all
    jobs of a segment completed, the driver finishes it (merges the chunks' outputs).
    Requests sharing an ``array_group`` (two or more) have their first segments submitted as
    one job array, as HPC centres expect for ensembles; later segments chain as single jobs.
    """
    factories = {}
    depends: dict[str, list[str]] = {}
    seg_runs: dict[str, list[ModelRun]] = {}
    seg_keys: dict[str, list[list[str]]] = {}
    group_size: dict[str, int] = {}
    for req in requests:
        if req.array_group is not None:
            group_size[req.array_group] = group_size.get(req.array_group, 0) + 1
    grouped: dict[str, list[tuple[str, ModelRun, ModelDriver]]] = {}
    for req in requests:
        driver = ctx.driver(req.driver)
        runs = _segment_runs(ctx, req)
        seg_runs[req.run_id] = runs
        seg_keys[req.run_id] = []
        for i, run in enumerate(runs):
            jobs = driver.chunk_runs(run)
            keys = [task_key(req.run_id, i, job.chunk) for job in jobs]
            seg_keys[req.run_id].append(keys)
            ensemble = i == 0 and group_size.get(req.array_group or "", 0) > 1
            for n, (key, job) in enumerate(zip(keys, jobs, strict=True)):
                if ensemble:
                    grouped.setdefault(req.array_group or "", []).append((key, job, driver))
                elif len(jobs) > 1:
                    grouped.setdefault(f"{req.run_id}.seg{i:03d}", []).append((key, job, driver))
                else:
                    factories[key] = partial(_job_spec, ctx, job, i, driver=driver)
                if i:  # chunk k continues from chunk k's restart of the previous segment
                    previous = seg_keys[req.run_id][i - 1]
                    depends[key] = [previous[n]] if len(previous) == len(keys) else previous
    arrays = [_array(ctx, group, firsts) for group, firsts in grouped.items()]
    outcomes = ctx.supervisor().run(factories, depends, arrays=arrays)
    results = {}
    for req in requests:
        driver = ctx.driver(req.driver)
        runs = seg_runs[req.run_id]
        outs = [outcomes[key] for keys in seg_keys[req.run_id] for key in keys]
        bad = [o for o in outs if o.state != JobState.COMPLETED]
        if not bad:
            bad = _finish(driver, req.run_id, runs)
            outs += bad
        state = bad[0].state if bad else JobState.COMPLETED
        restart = driver.restart_out(runs[-1]) if not bad else None
        results[req.run_id] = RunResult(req.run_id, state, restart, runs, outs)
        if bad:
            log.error("run %s ended %s: %s\n%s", req.run_id, state, bad[0].reason, bad[0].log_tail)
    return results


def _finish(driver: ModelDriver, run_id: str, runs: list[ModelRun]) -> list[TaskOutcome]:
    """Let the driver finish every segment (merge chunks); a failure becomes a FAILED outcome."""
    for i, run in enumerate(runs):
        try:
            driver.finish(run)
        except (NativeOutputError, RenderError, OSError, ValueError) as exc:
            log.exception("%s: finishing segment %d failed", run_id, i)
            return [TaskOutcome(f"{task_key(run_id, i)}/finish", JobState.FAILED,
                                reason=f"{type(exc).__name__}: {exc}", log_tail=str(exc))]
    return []
