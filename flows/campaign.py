"""Prefect flows of a CalLMIP global campaign: thin wrappers over :mod:`flows.pipeline`.

The top-level ``campaign`` flow runs one sub-flow per stage (forcing, spin-up, runs, conform,
benchmark), so the Prefect UI shows each stage's state and timing; job ids and states are
published as table artifacts. No Prefect task is created per grid cell, year or job: model runs
are batch jobs tracked by the scheduler layer, which is what survives an orchestrator restart.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

from callmip.config import Campaign, load_campaign
from callmip.conform import ConformedFile
from callmip.report_links import report_url
from callmip.rundir import RunDir
from flows import pipeline
from flows.benchmark_stage import run_benchmark
from flows.progress import say, stage
from flows.runs.execute import Context
from flows.spinup.loop import SpinupOutcome, SpinupResult, spin_up
from flows.spinup.report import write_drift

log = logging.getLogger(__name__)


def _artifact_table(key: str, df: pd.DataFrame, description: str) -> None:
    if len(df):
        create_table_artifact(
            key=key, table=df.astype(object).where(df.notna(), None).to_dict("records"),
            description=description,
        )


def publish_benchmark(result, subject: str, summary_description: str, table_suffix: str) -> None:
    """The benchmark's Prefect artifacts: markdown summary, score tables and the report link.

    ``subject`` names what the report is of (campaign or run directory); a table's description
    is its key followed by ``table_suffix``. Shared by the campaign flow and the benchmark
    deployment, which only describe them differently.
    """
    create_markdown_artifact(key="benchmark-summary", markdown=result.summary_markdown,
                             description=summary_description)
    for key, rows in result.tables.items():
        if rows:
            create_table_artifact(key=key, table=rows,
                                  description=f"{key}{table_suffix}")
    create_link_artifact(key="benchmark-report", link=report_url(result.report),
                         link_text=f"HTML report of {subject}",
                         description=f"HTML report ({result.report})")


@flow(name="forcing", log_prints=True)
def forcing_flow(campaign: Campaign, run_dir: str) -> str:
    """Prepare model-ready forcing at the campaign resolution."""
    rundir = RunDir(campaign)
    with stage("forcing") as info:
        out = pipeline.prepare_forcing(campaign, rundir)
    rundir.record_stage("forcing", info["seconds"], output=str(out))
    return str(out)


@flow(name="spin-up", log_prints=True)
def spinup_flow(campaign: Campaign, forcing_dir: str) -> SpinupOutcome:
    """Spin every model and parameter set up to equilibrium, with drift diagnostics."""
    rundir = RunDir(campaign)
    ctx = _context(campaign, rundir, forcing_dir)
    with stage("models") as info:
        models = pipeline.setup_models(campaign, rundir, Path(forcing_dir))
    rundir.record_stage("models", info["seconds"], models=models)
    with stage("parameters"):
        members = pipeline.prepare_params(campaign, rundir)
    with stage(f"spin-up of {len(members)} members ({campaign.spinup.mode})") as info:
        outcome = SpinupOutcome.of(spin_up(ctx, members))
    csv, png = write_drift(outcome.table, rundir.sub("spinup"))
    for label, s in outcome.spun.items():
        if not s.equilibrium:
            say(f"WARNING: {label} is NOT in equilibrium after {s.cycles} cycles: "
                + "; ".join(s.failing))
    rundir.record_stage("spinup", info["seconds"], members=outcome.summary())
    _artifact_table("spinup-drift", outcome.table.drop(columns=["gates"]),
                    f"Spin-up drift per cycle and criterion ({csv}; plot: {png})")
    return outcome


@flow(name="runs", log_prints=True)
def runs_flow(campaign: Campaign, forcing_dir: str,
              spun: dict[str, SpinupResult]) -> pipeline.RunsOutcome:
    """Transient and historical runs (prior/posterior x S3/CO2only) as batch jobs."""
    rundir = RunDir(campaign)
    ctx = _context(campaign, rundir, forcing_dir)
    what = "transient + historical" + (" + scenario" if campaign.scenarios else "")
    with stage(f"{what} runs") as info:
        runs = pipeline.run_transient_and_historical(ctx, spun, pipeline.co2_series())
    jobs = pipeline.jobs_table(ctx, runs.all_runs())
    rundir.record_stage("runs", info["seconds"], n_jobs=len(jobs))
    _artifact_table("campaign-jobs", jobs.drop(columns=["log_tail"]), "Batch jobs of the runs")
    return runs


@flow(name="conform", log_prints=True)
def conform_flow(campaign: Campaign, forcing_dir: str,
                 runs: pipeline.RunsOutcome) -> list[ConformedFile]:
    """Write and check the CalLMIP global files."""
    rundir = RunDir(campaign)
    ctx = _context(campaign, rundir, forcing_dir)
    with stage("conform to CalLMIP") as info:
        written = pipeline.conform_outputs(ctx, runs)
    rundir.record_stage("conform", info["seconds"], files=[str(w.path) for w in written])
    return written


@flow(name="benchmark", log_prints=True)
def benchmark_flow(campaign: Campaign, written: list[ConformedFile],
                   spinup_table: pd.DataFrame,
                   jobs: pd.DataFrame, notes: dict[str, str] | None = None) -> str:
    """Score the conformed outputs against the reference products and write the report."""
    rundir = RunDir(campaign)
    with stage("benchmark + report") as info:
        result = run_benchmark(campaign, rundir, written, spinup_table, jobs, notes)
    rundir.record_stage("benchmark", info["seconds"], report=str(result.report))
    publish_benchmark(result, campaign.name, f"Benchmark summary; report: {result.report}",
                      f" ({result.report})")
    return str(result.report)


@flow(name="esmvaltool", log_prints=True)
def esmvaltool_flow(campaign: Campaign) -> str | None:
    """ESMValTool recipe for the campaign's outputs, run where the extra is installed."""
    from esmvaltool_bridge.stage import run_stage

    rundir = RunDir(campaign)
    with stage("ESMValTool recipe") as info:
        outcome = run_stage(rundir.path, enabled=campaign.esmvaltool.enabled,
                            scheme=campaign.esmvaltool.scheme,
                            variables=campaign.references.variables)
    if outcome.result is None:
        say(f"ESMValTool evaluation skipped: {outcome.skipped}")
        rundir.record_stage("esmvaltool", info["seconds"], skipped=outcome.skipped)
        return None
    res = outcome.result
    say(f"ESMValTool output: {res.output_dir}")
    rundir.record_stage("esmvaltool", info["seconds"], recipe=str(res.recipe),
                        output=str(res.output_dir), table=str(res.table))
    return str(res.output_dir)


#: The Context of each run directory made in this process. Stage flows receive plain,
#: serialisable parameters (the campaign, the forcing folder: Prefect records them), and each
#: needs the same scheduler, job ledger and drivers; they take them from here, so a campaign
#: builds its Context once. Keyed by run directory, forcing folder and the configuration, so
#: a changed campaign file gets a new one.
_CONTEXTS: dict[tuple[str, str, str], Context] = {}


def _context(campaign: Campaign, rundir: RunDir, forcing_dir: str) -> Context:
    key = (str(rundir.path), str(forcing_dir), campaign.model_dump_json())
    if key not in _CONTEXTS:
        def on_change(task: str, state, job_id: str) -> None:
            say(f"  job {job_id} {task}: {state}")

        _CONTEXTS[key] = Context.create(campaign, rundir, Path(forcing_dir),
                                        on_change=on_change)
    return _CONTEXTS[key]


@dataclass
class Simulated:
    """What the simulation stages hand on to the benchmark (campaign flow) or to the event that
    starts one (global-simulation deployment)."""

    forcing_dir: str
    spin: SpinupOutcome
    runs: pipeline.RunsOutcome
    written: list[ConformedFile]


def simulate(campaign: Campaign, rundir: RunDir) -> Simulated:
    """The one sequence of the simulation stages - forcing, spin-up, runs, conform - shared by
    the campaign flow and the global-simulation deployment (each a subflow of the caller)."""
    forcing_dir = forcing_flow(campaign, str(rundir.path))
    spin = spinup_flow(campaign, forcing_dir)
    runs = runs_flow(campaign, forcing_dir, spin.spun)
    written = conform_flow(campaign, forcing_dir, runs)
    return Simulated(forcing_dir, spin, runs, written)


@flow(name="campaign", log_prints=True)
def campaign_flow(campaign_file: str) -> str:
    """Run a whole CalLMIP global campaign from its YAML file; return the report path."""
    logger = get_run_logger()
    campaign = load_campaign(campaign_file)
    rundir = RunDir(campaign)
    rundir.initialise()
    t0 = time.monotonic()
    logger.info("campaign %s in %s", campaign.name, rundir.path)
    sim = simulate(campaign, rundir)
    forcing_dir, spin, runs, written = sim.forcing_dir, sim.spin, sim.runs, sim.written
    ctx = _context(campaign, rundir, forcing_dir)
    jobs = pipeline.jobs_table(ctx, [spin.jobs(), *runs.all_runs()])
    report = benchmark_flow(campaign, written, spin.table, jobs, spin.notes())
    if campaign.esmvaltool.enabled:
        esmvaltool_flow(campaign)
    rundir.record_stage("campaign", time.monotonic() - t0, report=report)
    return report
