"""Benchmark stage: confront the campaign's CalLMIP files with the reference catalog, report.

Plain function over :func:`benchmarks.run.benchmark_campaign`; the Prefect flow in
:mod:`flows.campaign` publishes the returned summary and tables as artifacts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmarks.confront import ModelOutput
from benchmarks.run import BenchmarkResult, TotalsInput, benchmark_campaign
from callmip.config import REPO_ROOT, Campaign
from callmip.conform import ConformedFile
from callmip.rundir import RunDir

SITES_DIR = REPO_ROOT / "data" / "flux-sites"


def model_outputs(written: list[ConformedFile], simulation: str = "S3") -> list[ModelOutput]:
    """The monthly CalLMIP files of one simulation, one per model and stage."""
    return [
        ModelOutput(model=w.model, stage=w.stage, monthly_path=Path(w.path))
        for w in written
        if w.freq == "monthly" and w.simulation == simulation
    ]


def scenario_totals(written: list[ConformedFile]) -> list[TotalsInput]:
    """The SSP runs' files for the reference-free totals (the monthly one per run, else the
    annual one); their experiment is the scenario directory's name (``ssp370_<gcm>``)."""
    chosen: dict[tuple, ConformedFile] = {}
    for w in written:
        if not str(w.simulation).startswith("ssp"):
            continue
        key = (w.model, w.stage, w.simulation)
        if key not in chosen or w.freq == "monthly":
            chosen[key] = w
    return [TotalsInput(Path(w.path), w.model, w.stage, str(w.simulation))
            for w in chosen.values()]


def run_benchmark(
    campaign: Campaign,
    rundir: RunDir,
    written: list[ConformedFile],
    spinup_table: pd.DataFrame | None,
    jobs: pd.DataFrame | None,
    notes: dict[str, str] | None = None,
) -> BenchmarkResult:
    """Score the S3 (or first) simulation's files, compare prior/posterior and models, report."""
    refs = campaign.references
    simulation = "S3" if "S3" in campaign.simulations else campaign.simulations[0]
    info = {
        "name": campaign.name,
        "description": campaign.description.strip(),
        "resolution": f"{campaign.resolution} degrees",
        "simulation scored": simulation,
        "historical": f"{campaign.periods.historical[0]}-{campaign.periods.historical[1]}",
        "spin-up": campaign.spinup.mode,
        "scoring mode": refs.mode,
        "config hash": campaign.config_hash()[:12],
        "code version": rundir.manifest().get("code_version", ""),
        **(notes or {}),
    }
    return benchmark_campaign(
        model_outputs(written, simulation),
        refs.catalog,
        refs.ilamb_root,
        rundir.sub("benchmark"),
        campaign=info,
        spinup=spinup_table,
        jobs=jobs,
        mode=refs.mode,
        sites_dir=SITES_DIR,
        variables=refs.variables,
        extra_totals=scenario_totals(written),
    )
