"""The Prefect deployments a coordinator and modelling groups use from the UI, and their automation.

Deployments (all on the process work pool that ``callmip server up`` creates):

``campaign``           a whole campaign: a config from ``configs/`` or uploaded campaign YAML
``global-simulation``  one model, one parameter set (prior | posterior), one experiment, run end to
                       end through the campaign stages (forcing, spin-up, runs, conform) as
                       sub-flows; emits ``callmip.simulation.completed`` with its run directory
``benchmark``          scores a finished run directory together with the other finished runs of
                       its collection (prior vs posterior, all models) and publishes the report
``intercomparison``    the coordinators' benchmark of uploaded CalLMIP files (paths in the data
                       root), checker first; the report is served over HTTP

The automation ``benchmark-after-simulation`` reacts to ``callmip.simulation.completed`` and runs
the ``benchmark`` deployment with the event's run directory.

Every flow validates its parameters first (:mod:`flows.deploy_params`) and fails with the
validation message before any directory is created or job submitted.

``python -m flows.deployments register --pool NAME`` (run by ``callmip server up`` with the
server's client environment) creates the pool, deployments and automation idempotently.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Annotated, Literal

from prefect import flow, get_run_logger
from prefect.events import emit_event
from pydantic import Field

from callmip.config import REPO_ROOT, load_campaign
from callmip.rundir import RunDir
from flows.deploy_params import (
    REL_PATH,
    CalibrationScenarioName,
    CalValName,
    CheckPolicy,
    Collection,
    Contact,
    Driver,
    DriverOptionsForm,
    ExperimentName,
    FirstYear,
    GcmName,
    Institution,
    LastYear,
    Mode,
    ModelName,
    ModelVersion,
    OptionalDataPath,
    ParameterSet,
    ParamFile,
    Phase,
    ReportName,
    Resolution,
    Roots,
    ScenarioEnd,
    ScenarioName,
    SpinupCycles,
    TransientStart,
    UploadPaths,
    campaign_config_names,
    collection_runs,
    validate_campaign,
    validate_intercomparison,
    validate_run_dir,
    validate_simulation,
)

log = logging.getLogger(__name__)

SIMULATION_EVENT = "callmip.simulation.completed"
AUTOMATION_NAME = "benchmark-after-simulation"
DEPLOYMENTS = {  # deployment name -> (entrypoint function, flow name)
    "campaign": "callmip_campaign",
    "global-simulation": "global_simulation",
    "benchmark": "benchmark_run",
    "intercomparison": "intercomparison",
}

CampaignConfig = Literal[campaign_config_names()]  # type: ignore[valid-type]


# ----------------------------------------------------------------------------- flows
@flow(name="callmip-campaign", log_prints=True)
def callmip_campaign(
    config: CampaignConfig = "demo",
    campaign_yaml: str = "",
) -> str:
    """Run a whole CalLMIP global campaign; the stages show as sub-flows. Returns the report.

    Args:
        config: A campaign file from configs/, or 'uploaded-yaml' to run the campaign pasted
            below.
        campaign_yaml: With config 'uploaded-yaml': the text of a campaign file (see
            configs/demo.yaml). Relative paths are taken inside the data root; outputs go
            inside the run root. Otherwise leave empty.
    """
    from flows.campaign import campaign_flow

    path = validate_campaign(config, campaign_yaml, Roots.from_env())
    get_run_logger().info("campaign file %s", path)
    return campaign_flow(str(path))


@flow(name="global-simulation", log_prints=True)
def global_simulation(
    model: ModelName = "CELM-A",
    version: ModelVersion = "v1",
    driver: Driver = "celm",
    parameter_set: ParameterSet = "prior",
    param_file: ParamFile = "",
    resolution: Resolution = 2,
    experiment: ExperimentName = "S3",
    scenario: ScenarioName = "historical",
    scenario_gcm: GcmName = "gfdl-esm4",
    scenario_end: ScenarioEnd = 2100,
    historical_first: FirstYear = 2004,
    historical_last: LastYear = 2005,
    transient_start: TransientStart = 1995,
    spinup_max_cycles: SpinupCycles = 4,
    phase: Phase = "Phase1b",
    calibration_scenario: CalibrationScenarioName = "Scen1",
    cal_val: CalValName = "Validation",
    contact: Contact = "",
    institution: Institution = "",
    options: DriverOptionsForm = None,
    collection: Collection = "",
) -> str:
    """One model with one parameter set, end to end: forcing, spin-up, runs, CalLMIP files.

    The benchmark follows automatically (automation on the completion event), together with
    the other finished runs of the same collection. Returns the run directory, relative to the
    run root.

    Args:
        model: Model name as in CalLMIP file names, e.g. CELM-A (letters, digits, '.', '_', '-').
        version: Model version, e.g. v1.
        driver: Model driver that renders the inputs and runs the model: celm (the embedded
            model), cable_pop (CABLE-POP TRENDY, built and run here), orchidee, clm, classic
            (templates never run against their real programs).
        parameter_set: prior (before calibration) or posterior (calibrated; needs a parameter
            file).
        param_file: Parameter file relative to the data root, e.g.
            params/CELM-A_posterior.json. Empty: the driver's default prior.
        resolution: Model grid in degrees: 0.5, 1 or 2.
        experiment: S3 (CO2, climate, land use, N deposition vary), TRENDY's S0-S2, or the
            CO2-only-equivalent CO2only (only CO2 varies) and its variants CO2LUC, CO2Ndep,
            CO2LUCNdep.
        scenario: historical only, or also a 2015-2100 SSP run from the S3 state at the end of
            2014 (needs experiment S3 and a historical period including 2014).
        scenario_gcm: ISIMIP3b GCM whose climate drives the SSP run.
        scenario_end: Last year of the SSP run (CalLMIP: 2100).
        historical_first: First year of the historical run.
        historical_last: Last year of the historical run.
        transient_start: First year of the transient from the spun-up state (TRENDY: 1701;
            CalLMIP site protocol: 1851).
        spinup_max_cycles: Spin-up stops after this many forcing cycles and carries on, flagged,
            if the equilibrium criteria still fail.
        phase: Global attribute CalLMIP_Phase (Phase1a or Phase1b).
        calibration_scenario: Global attribute Calibration_Scenario (Scen1 to Scen6).
        cal_val: Global attribute Cal_Val (Calibration or Validation).
        contact: 'Name <email>' or an e-mail address, written into every file.
        institution: The modelling group's institution, written into every file.
        options: Options of the chosen driver (e.g. for cable_pop: chunks, domain, executable,
            source_dir, gridinfo); paths inside the data root. Empty: the driver's defaults.
        collection: Runs of one collection (e.g. a campaign name shared by prior and posterior
            runs) are benchmarked together when each finishes; empty: the run root itself.
    """
    from flows.campaign import simulate

    logger = get_run_logger()
    roots = Roots.from_env()
    campaign = validate_simulation(
        model=model, version=version, driver=driver, parameter_set=parameter_set,
        param_file=param_file, resolution=resolution, experiment=experiment, scenario=scenario,
        scenario_gcm=scenario_gcm, scenario_end=scenario_end,
        historical_first=historical_first, historical_last=historical_last,
        transient_start=transient_start, spinup_max_cycles=spinup_max_cycles, roots=roots,
        phase=phase, calibration_scenario=calibration_scenario, cal_val=cal_val,
        contact=contact, institution=institution,
        options=options,
        collection=collection,
    )
    rundir = RunDir(campaign)
    rundir.initialise()
    logger.info("global simulation %s in %s", campaign.name, rundir.path)
    if not simulate(campaign, rundir).written:
        raise RuntimeError(f"no CalLMIP files were written for {campaign.name}: see the jobs "
                           "table artifact and the run logs")
    rel = str(rundir.path.relative_to(roots.runs))
    emit_event(
        SIMULATION_EVENT,
        resource={"prefect.resource.id": f"callmip.run-dir.{campaign.name}",
                  "prefect.resource.name": campaign.name},
        payload={"run_dir": rel, "model": f"{model}.{version}",
                 "parameter_set": parameter_set, "experiment": experiment},
    )
    return rel


@flow(name="benchmark-run", log_prints=True)
def benchmark_run(
    run_dir: Annotated[str, Field(
        pattern=REL_PATH, title="Run directory",
        description="A finished run directory, relative to the run root "
        "(e.g. sim_CELM-A.v1_prior_S3_2deg)")],
) -> str:
    """Score a finished run with the other finished runs of its collection; publish the report.

    Args:
        run_dir: A finished run directory relative to the run root, e.g.
            sim_CELM-A.v1_prior_S3_2deg.
    """
    import pandas as pd

    from benchmarks.run import benchmark_uploads
    from flows.campaign import publish_benchmark

    logger = get_run_logger()
    roots = Roots.from_env()
    path = validate_run_dir(run_dir, roots)
    campaign = load_campaign(path / "campaign.yaml")
    runs = collection_runs(path)
    drift = path / "spinup" / "drift.csv"
    refs = campaign.references
    logger.info("benchmarking %s with %d finished runs of its collection", path.name,
                len(runs) - 1)
    result = benchmark_uploads(
        [r / "callmip" for r in runs], refs.catalog, refs.ilamb_root, path / "benchmark",
        mode=refs.mode, variables=refs.variables, title=f"collection {path.parent.name}",
        campaign={"triggered by": str(path),
                  "runs": ", ".join(r.name for r in runs)},
        spinup=pd.read_csv(drift) if drift.is_file() else None,
    )
    logger.info("report %s", result.report)
    publish_benchmark(result, run_dir, f"Benchmark summary of {run_dir} and its collection",
                      f" of {run_dir}")
    return str(result.report)


@flow(name="intercomparison", log_prints=True)
def intercomparison(
    paths: UploadPaths,
    name: ReportName = "latest",
    mode: Mode = "ilamb27",
    on_check_error: CheckPolicy = "flag",
    references: OptionalDataPath = "",
    ilamb_root: OptionalDataPath = "",
) -> str:
    """Benchmark the CalLMIP global files groups uploaded, on any grid; publish the report.

    Args:
        paths: CalLMIP global files, or directories searched for *.nc, relative to the data
            root, e.g. uploads/CLM5.
        name: The report goes to <run root>/intercomparison/<name>/.
        mode: ilamb27 (ILAMB 2.7.3 compatible scores) or ilamb3.
        on_check_error: flag: score what the CalLMIP checker accepts and flag the file; skip:
            do not score a file with any checker error.
        references: Reference catalog YAML in the data root; empty: configs/references.yaml.
        ilamb_root: ILAMB_ROOT directory in the data root; empty: the shipped data/ILAMB_ROOT.
    """
    from benchmarks.run import benchmark_uploads
    from flows.campaign import publish_benchmark

    logger = get_run_logger()
    inputs = validate_intercomparison(paths, references, ilamb_root, name, Roots.from_env())
    result = benchmark_uploads(
        inputs.paths, inputs.references, inputs.ilamb_root, inputs.out, mode=mode,
        policy=on_check_error, title=f"intercomparison {name}",
    )
    logger.info("report %s", result.report)
    publish_benchmark(result, f"intercomparison {name}",
                      f"Intercomparison summary ({name})", f" of intercomparison {name}")
    return str(result.report)


# ----------------------------------------------------------------------------- registration
def _env_for_runs() -> dict[str, str]:
    import os

    return {k: os.environ[k] for k in ("CALLMIP_DATA_ROOT", "CALLMIP_RUN_ROOT",
                                       "CALLMIP_REPORT_URL")
            if k in os.environ}


async def _ensure_pool(pool: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    async with get_client() as client:
        try:
            await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        except ObjectAlreadyExists:
            log.info("work pool %s exists", pool)


def register(pool: str) -> dict[str, str]:
    """Create the pool, the three deployments and the automation; return deployment ids."""
    import asyncio

    from prefect import Flow

    asyncio.run(_ensure_pool(pool))
    ids = {}
    for name, func in DEPLOYMENTS.items():
        source = Flow.from_source(source=str(REPO_ROOT), entrypoint=f"flows/deployments.py:{func}")
        ids[name] = str(source.deploy(
            name=name, work_pool_name=pool, build=False, push=False,
            job_variables={"env": _env_for_runs(), "working_dir": str(REPO_ROOT)},
            description=(sys.modules[__name__].__dict__[func].__doc__ or "").split("\n")[0],
            tags=["callmip"], print_next_steps=False, ignore_warnings=True,
        ))
    ids["automation"] = str(_ensure_automation(ids["benchmark"]))
    return ids


async def _delete_automations(name: str) -> None:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        for automation in await client.read_automations_by_name(name):
            await client.delete_automation(automation.id)


def _ensure_automation(benchmark_deployment_id: str):
    """Automation: simulation-completed event -> run the benchmark deployment on its run dir."""
    import asyncio
    from uuid import UUID

    from prefect.automations import Automation
    from prefect.events.actions import RunDeployment
    from prefect.events.schemas.automations import EventTrigger, Posture

    asyncio.run(_delete_automations(AUTOMATION_NAME))  # re-registering replaces it
    automation = Automation(
        name=AUTOMATION_NAME,
        description="When a global simulation has written its CalLMIP files, benchmark them",
        trigger=EventTrigger(
            expect={SIMULATION_EVENT}, match={"prefect.resource.id": "callmip.run-dir.*"},
            posture=Posture.Reactive, threshold=1, within=0,
        ),
        actions=[RunDeployment(
            source="selected", deployment_id=UUID(benchmark_deployment_id),
            parameters={"run_dir": {"__prefect_kind": "jinja",
                                    "template": "{{ event.payload.run_dir }}"}},
        )],
    )
    return automation.create().id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.deployments")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("register", help="create work pool, deployments and automation")
    p.add_argument("--pool", default="callmip-process")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    ids = register(args.pool)
    sys.stdout.write(json.dumps(ids) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
