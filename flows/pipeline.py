"""The campaign's stages as plain functions (the Prefect flows in :mod:`flows.campaign` wrap them).

Each stage takes the campaign's :class:`~flows.runs.execute.Context` (or what it needs of it),
does its work idempotently inside the run directory, and returns plain data for the next stage.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from callmip.atomic import atomic_path
from callmip.config import Campaign
from callmip.conform import ConformedFile, GlobalAttrs, conform_run
from callmip.constants import SCENARIO_FIRST_YEAR
from callmip.rundir import RunDir, write_json_atomic
from callmip.simulations import CLIMATE, LUC, NDEP, SCENARIO_PARENT, SIMULATIONS, simulation
from flows.progress import say
from flows.runs.execute import Context, RunRequest, RunResult, execute, model_driver
from flows.runs.matrix import (
    Member,
    historical_runs,
    level_year,
    members,
    scenario_branch_year,
    scenario_label,
    scenario_runs,
    transient_runs,
)
from flows.runs.paths import landuse_dir, ndep_dir
from flows.spinup.loop import SpinupResult

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- forcing
def forcing_years(campaign: Campaign) -> list[int]:
    """Forcing years the campaign needs: the spin-up cycle, and the historical period when a
    simulation varies the climate."""
    a, b = campaign.periods.spinup_cycle
    h0, h1 = campaign.periods.historical
    years = set(range(a, b + 1))
    if any(CLIMATE in simulation(s).varying for s in campaign.simulations):
        years |= set(range(h0, h1 + 1))
    return sorted(years)


def crujra_source(campaign: Campaign) -> Path:
    """The CRU-JRA-layout files of the campaign: the real ones, or the synthetic ones from the
    user cache (generated there on first use, see
    :func:`forcing.synthetic.cached_crujra_years`)."""
    fc = campaign.forcing
    if fc.source != "synthetic":
        assert fc.crujra_dir is not None
        return fc.crujra_dir
    from forcing.synthetic import cached_crujra_years

    return cached_crujra_years(forcing_years(campaign), fc.source_resolution, fc.seed,
                               trend_k_per_century=fc.trend_k_per_century)


def any_model_responds(campaign: Campaign, driver_of_change: str) -> bool:
    """Whether any of the campaign's models responds to ``driver_of_change`` (its driver's
    declared capabilities): inputs nobody reads need not be prepared (CELM has no N cycle, so
    the embedded demo skips 156 years of N deposition)."""
    from callmip.drivers import DRIVERS

    return any(driver_of_change in DRIVERS[m.driver].capabilities.drivers_of_change
               for m in campaign.models)


def change_years(campaign: Campaign, driver_of_change: str) -> list[int]:
    """Years of land use (LUC) or N deposition (Ndep) the historical runs need: the spin-up
    level year, and every transient and historical year when a simulation varies it and a
    model responds to it."""
    level = level_year(campaign)
    if any_model_responds(campaign, driver_of_change) and any(
            driver_of_change in simulation(s).varying for s in campaign.simulations):
        return list(range(level, campaign.periods.historical[1] + 1))
    return [level]


def prepare_drivers_of_change(campaign: Campaign, rundir: RunDir) -> dict[str, Path]:
    """Land use and N deposition on the model grid, one file per year (the driver-facing layout
    of :mod:`callmip.drivers.change`), for the history and for each SSP. Sources: LUH2-layout
    states and ISIMIP3-layout N deposition, real (``forcing.luh2_dir``, ``forcing.ndep_dir``)
    or synthetic files in the same layouts generated here."""
    from forcing.change import prepare_landuse_years, prepare_ndep_years
    from forcing.ndep import PREINDUSTRIAL_NDEP_KG_N_HA_YR

    res, weights = float(campaign.resolution), rundir.sub("forcing", "weights")
    lu_years, nd_years = change_years(campaign, LUC), change_years(campaign, NDEP)
    constant = ({level_year(campaign): PREINDUSTRIAL_NDEP_KG_N_HA_YR}
                if campaign.spinup.forcing_levels == "callmip_site" else None)
    out = {"landuse": landuse_dir(campaign, rundir.path), "ndep": ndep_dir(campaign, rundir.path)}
    prepare_landuse_years(_luh2_states(campaign, rundir, lu_years), lu_years, res,
                          out["landuse"], cache_dir=weights)
    prepare_ndep_years(_ndep_source(campaign, rundir, nd_years, "histsoc"), nd_years, res,
                       out["ndep"], cache_dir=weights, constant_ndep=constant)
    years = scenario_years(campaign)
    for ssp in campaign.scenarios:
        if any_model_responds(campaign, LUC):
            prepare_landuse_years(_luh2_states(campaign, rundir, years, ssp), years, res,
                                  landuse_dir(campaign, rundir.path, ssp), cache_dir=weights)
        if any_model_responds(campaign, NDEP):
            prepare_ndep_years(_ndep_source(campaign, rundir, years, f"{ssp}soc"), years, res,
                               ndep_dir(campaign, rundir.path, ssp), scenario=f"{ssp}soc",
                               cache_dir=weights)
    return out


def _synthetic(stamp: Path, wanted: dict, write) -> None:
    """Run ``write()`` unless ``stamp`` records the same parameters (generation is
    deterministic: same stamp, same files)."""
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return
    stamp.unlink(missing_ok=True)
    write()
    write_json_atomic(stamp, wanted)


def _luh2_states(campaign: Campaign, rundir: RunDir, years: list[int],
                 ssp: str | None = None) -> Path:
    """``states.nc`` covering ``years``: the campaign's real LUH2 files or synthetic ones."""
    from forcing.luh2 import write_luh2_states

    fc = campaign.forcing
    if fc.luh2_dir is not None:
        return fc.luh2_dir / (f"{ssp}/states.nc" if ssp else "states.nc")
    source = rundir.sub("forcing", "luh2", ssp or "historical")
    # one more year than needed: the last year's transitions go to the next one
    span = list(range(min(years), max(years) + 2))
    wanted = {"years": [span[0], span[-1]], "res_deg": fc.source_resolution, "seed": fc.seed,
              "ssp": ssp}
    _synthetic(source / ".synthetic.json", wanted, lambda: write_luh2_states(
        source, span, res_deg=fc.source_resolution, seed=fc.seed, ssp=ssp))
    return source / "states.nc"


def _ndep_source(campaign: Campaign, rundir: RunDir, years: list[int], scenario: str) -> Path:
    """Directory of N-deposition files covering ``years`` (from 1850, where the products
    start): the campaign's real files or synthetic ones."""
    from forcing.ndep import write_ndep

    fc = campaign.forcing
    if fc.ndep_dir is not None:
        return fc.ndep_dir
    source = rundir.sub("forcing", "ndep", scenario)
    span = list(range(max(min(years), 1850), max(*years, 1850) + 1))
    wanted = {"years": [span[0], span[-1]], "res_deg": fc.source_resolution, "seed": fc.seed}
    _synthetic(source / ".synthetic.json", wanted, lambda: write_ndep(
        source, span, scenario=scenario, res_deg=fc.source_resolution, seed=fc.seed))
    return source


def prepare_forcing(campaign: Campaign, rundir: RunDir) -> Path:
    """CRU-JRA-layout source files (synthetic unless real ones are given) -> model-ready files,
    then the scenarios' weather, land use and N deposition.

    The weather is one task per variable-year on a dask cluster. Land use and N deposition
    (one file per year since the transient starts, e.g. 156 in the demo) share no file with
    it, so they are one more task on the same cluster, started first: one worker prepares them
    while the others prepare the weather, instead of after it, once the weather's inputs have
    passed their pre-flight check (a bad input fails the stage before anything is written).
    With every weather year already prepared no cluster is started.
    """
    from forcing.cluster import dask_client
    from forcing.prepare import plan_years, prepare_planned

    years, res = forcing_years(campaign), float(campaign.resolution)
    source = crujra_source(campaign)
    out = rundir.sub("forcing", f"model_{campaign.resolution:g}deg")
    weights = rundir.sub("forcing", "weights")
    plan = plan_years(source, years, res, out, campaign.forcing.step)  # pre-flight, once
    if not plan.todo:
        prepare_planned(plan, weights)
        prepare_scenario_forcing(campaign, rundir)
        prepare_drivers_of_change(campaign, rundir)
        return out
    with dask_client(_cluster_spec(campaign)) as client:
        change = client.submit(prepare_drivers_of_change, campaign, rundir, pure=False,
                               key=f"drivers-of-change-{uuid.uuid4().hex[:8]}",
                               priority=10**6)
        prepare_planned(plan, weights, client=client)
        prepare_scenario_forcing(campaign, rundir, client=client)
        change.result()  # its ForcingError, if any, is raised here
    return out


def _cluster_spec(campaign: Campaign):  # -> forcing.cluster.ClusterSpec
    """The dask cluster of the forcing tasks, from the campaign's forcing and HPC profile."""
    from forcing.cluster import ClusterSpec

    fc, res = campaign.forcing, campaign.scheduler.resources
    profile: dict = {"cluster": fc.cluster, "n_workers": fc.workers}
    if fc.cluster == "slurm":
        profile["slurm"] = {"queue": res.partition, "account": res.account,
                            "memory": f"{res.mem_mb}MB",
                            "walltime": f"{res.walltime_min // 60:02d}:"
                                        f"{res.walltime_min % 60:02d}:00"}
    return ClusterSpec.from_profile(profile)


def scenario_years(campaign: Campaign) -> list[int]:
    return list(range(SCENARIO_FIRST_YEAR, campaign.periods.scenario_end + 1))


def scenario_forcing_dir(campaign: Campaign, rundir: RunDir, ssp: str, gcm: str) -> Path:
    """Model-ready forcing of one SSP x GCM (same ``met_<YYYY>.nc`` layout as the history)."""
    return rundir.path / "forcing" / f"model_{campaign.resolution:g}deg_{scenario_label(ssp, gcm)}"


def prepare_scenario_forcing(
    campaign: Campaign, rundir: RunDir, client: Any = None
) -> dict[str, Path]:
    """ISIMIP3b files (synthetic unless real ones are given) -> model-ready, per SSP and GCM
    (on ``client``'s dask cluster when given, else on one started per SSP and GCM)."""
    from forcing.scenario import prepare_isimip_years
    from forcing.synthetic import write_isimip3b

    fc, years, out = campaign.forcing, scenario_years(campaign), {}
    for ssp in campaign.scenarios:
        for gcm in campaign.scenario_gcms:
            if fc.isimip_dir is None:
                source = rundir.sub("forcing", "isimip3b")
                wanted = {"years": years, "res_deg": fc.source_resolution, "seed": fc.seed}
                _synthetic(source / f".synthetic_{scenario_label(ssp, gcm)}.json", wanted,
                           lambda s=source, g=gcm, p=ssp: write_isimip3b(
                               s, g, p, years, res_deg=fc.source_resolution, seed=fc.seed))
            else:
                source = fc.isimip_dir
            target = scenario_forcing_dir(campaign, rundir, ssp, gcm)
            prepare_isimip_years(
                source, gcm, ssp, years, float(campaign.resolution), target,
                cache_dir=rundir.sub("forcing", "weights"), cluster=_cluster_spec(campaign),
                client=client,
            )
            out[scenario_label(ssp, gcm)] = target
    return out


def co2_series() -> dict[int, float]:
    from forcing.co2 import read_trendy_co2

    return read_trendy_co2()


# ----------------------------------------------------------------------------- models
def setup_models(campaign: Campaign, rundir: RunDir, forcing_dir: Path) -> dict[str, dict]:
    """Once per campaign and model, before any run: what the driver needs beyond one run
    (CABLE: build the program, fix the domain and its land chunks, write the gridinfo).
    Returns per model its driver's facts and capabilities, for the manifest."""
    out = {}
    for model in campaign.models:
        driver = model_driver(model, rundir.path)
        facts = driver.setup(forcing_dir, log=say)
        caps = driver.capabilities
        out[model.key] = {"driver": model.driver, **facts,
                          "accelerated_spinup": caps.accelerated_spinup or "none",
                          "chunked": caps.chunked, "ran_real_program": caps.ran_real_program}
    return out


# ----------------------------------------------------------------------------- parameters
def prepare_params(campaign: Campaign, rundir: RunDir) -> list[Member]:
    """Copy (or write, for the driver's default prior) every parameter file into the run dir."""
    params_dir = rundir.sub("params")
    out = members(campaign, params_dir)
    for m in out:
        source = m.model.prior if m.experiment == "prior" else m.model.posterior
        if source is None:
            model_driver(m.model, rundir.path).write_prior(m.params_file)
        else:
            with atomic_path(m.params_file) as tmp:
                shutil.copyfile(source, tmp)
    rundir.record_inputs({f"params:{m.label}": m.params_file for m in out})
    return out


# ----------------------------------------------------------------------------- runs
@dataclass
class RunsOutcome:
    transient: dict[str, RunResult]
    historical: dict[str, RunResult]
    plans: dict[str, tuple[Member, str, int | None]]  # run_id -> (member, simulation, ens member)
    scenario: dict[str, RunResult] = field(default_factory=dict)

    def all_runs(self) -> list[dict[str, RunResult]]:
        return [self.transient, self.historical, self.scenario]


def run_transient_and_historical(
    ctx: Context, spun: dict[str, SpinupResult], co2: dict[int, float]
) -> RunsOutcome:
    """Transients from each member's equilibrium (one per set of varying drivers of change the
    model responds to), historical runs from their transient, then the SSP x GCM scenario runs
    from each member's S3 state at the end of 2014."""
    campaign = ctx.campaign
    branch = scenario_branch_year(campaign)
    requests, transient_of = [], {}
    for label, s in spun.items():
        responds = frozenset(ctx.driver(s.member.model.key).capabilities.drivers_of_change)
        for t in transient_runs(campaign, s.member, co2, responds):
            for sim in t.simulations:
                transient_of[(label, sim)] = t.run_id
            if t.years:
                requests.append(RunRequest(t.run_id, s.member.model.key,
                                           s.member.params_file, t.years, s.restart,
                                           monthly_output=False))
    transient = execute(ctx, requests) if requests else {}
    hist_requests, plans = [], {}
    for label, s in spun.items():
        for plan in historical_runs(campaign, s.member, co2):
            t = transient.get(transient_of[(label, plan.simulation)])
            if t is not None and not t.ok:
                continue  # reported in the jobs table; the other runs carry on
            restart = t.restart if t is not None else s.restart
            breaks = (branch,) if branch is not None and plan.simulation == SCENARIO_PARENT \
                else ()
            hist_requests.append(
                RunRequest(plan.run_id, s.member.model.key, s.member.params_file, plan.years,
                           restart, ensemble_member=plan.ensemble_member, break_after=breaks,
                           array_group=(f"{label}_{plan.simulation}_ensemble"
                                        if plan.ensemble_member is not None else None))
            )
            plans[plan.run_id] = (s.member, plan.simulation, plan.ensemble_member)
    historical = execute(ctx, hist_requests)
    scenario = run_scenarios(ctx, spun, historical, plans) if branch is not None else {}
    return RunsOutcome(transient, historical, plans, scenario)


def run_scenarios(
    ctx: Context,
    spun: dict[str, SpinupResult],
    historical: dict[str, RunResult],
    plans: dict[str, tuple[Member, str, int | None]],
) -> dict[str, RunResult]:
    """The 2015-2100 runs per SSP and GCM, each from its member's S3 restart at the end of 2014.

    A member whose S3 run failed gets no scenario runs (its failure is in the jobs table).
    """
    from forcing.co2 import ssp_co2

    campaign = ctx.campaign
    co2_by_ssp = {ssp: ssp_co2(ssp) for ssp in campaign.scenarios}
    requests = []
    for label, s in spun.items():
        s3 = historical.get(f"{label}_{SCENARIO_PARENT}")
        driver = ctx.driver(s.member.model.key)
        restart = s3.restart_after(driver, SCENARIO_FIRST_YEAR - 1) if s3 is not None else None
        if restart is None:
            log.error("no S3 state at the end of %d for %s: its scenario runs are skipped",
                      SCENARIO_FIRST_YEAR - 1, label)
            continue
        for plan in scenario_runs(campaign, s.member, co2_by_ssp):
            assert plan.scenario is not None
            ssp, gcm = plan.scenario
            requests.append(
                RunRequest(plan.run_id, s.member.model.key, s.member.params_file, plan.years,
                           restart, forcing_dir=scenario_forcing_dir(campaign, ctx.rundir, ssp,
                                                                     gcm),
                           landuse_dir=landuse_dir(campaign, ctx.rundir.path, ssp),
                           ndep_dir=ndep_dir(campaign, ctx.rundir.path, ssp),
                           array_group=f"{label}_scenarios")
            )
            plans[plan.run_id] = (s.member, plan.simulation, None)
    return execute(ctx, requests) if requests else {}


# ----------------------------------------------------------------------------- conform
def output_years(campaign: Campaign, simulation_name: str, freq: str) -> int:
    """How many final years a CalLMIP file of ``simulation_name`` holds: the historical
    ``periods.output_last_years``; for SSP runs the whole 2015-scenario_end period in annual
    files and the last ``scenario_monthly_last_years`` in monthly ones (configurable)."""
    p = campaign.periods
    if simulation_name in SIMULATIONS:
        return p.output_last_years
    if freq == "annual":
        return p.scenario_annual_last_years or p.scenario_end - SCENARIO_FIRST_YEAR + 1
    return p.scenario_monthly_last_years


def experiment_description(campaign: Campaign, simulation_name: str) -> str:
    """What a simulation (or an SSP x GCM run) is, in one line for files and READMEs."""
    if simulation_name in SIMULATIONS:
        return simulation(simulation_name).summary()
    ssp, gcm = simulation_name.split("_", 1)
    return (f"{simulation_name}: {ssp.upper()} {SCENARIO_FIRST_YEAR}-"
            f"{campaign.periods.scenario_end} from the {SCENARIO_PARENT} state at the end of "
            f"{SCENARIO_FIRST_YEAR - 1}; ISIMIP3b {gcm} climate, {ssp} CO2, land use and N "
            "deposition")


def global_attrs(campaign: Campaign, member: Member, simulation_name: str,
                 run_id: str) -> GlobalAttrs:
    """The global attributes of a CalLMIP file: the campaign's protocol metadata (section 6.3)
    and what the simulation is."""
    proto = campaign.protocol
    return GlobalAttrs(
        model=member.model.name, version=member.model.version, stage=member.stage,
        phase=proto.phase, scenario=proto.calibration_scenario, cal_val=proto.cal_val,
        simulation=simulation_name, campaign=campaign.name,
        source=f"callmip-global run {run_id}", contact=proto.contact,
        institution=proto.institution,
        simulation_description=experiment_description(campaign, simulation_name),
    )


@dataclass(frozen=True)
class ConformTarget:
    """One run the conform stage writes CalLMIP files for."""

    run_id: str
    member: Member
    simulation: str
    result: RunResult
    #: completed ensemble members of the same member and simulation, whose spread becomes
    #: ``<var>_post_unc``; empty unless there are at least two
    ensemble: list[RunResult]


def conform_targets(runs: RunsOutcome) -> list[ConformTarget]:
    """Every completed historical or scenario run that is not itself an ensemble member, with
    its completed ensemble members (a failed run or a failed member is left out)."""
    targets = []
    for run_id, result in {**runs.historical, **runs.scenario}.items():
        member, simulation, ens = runs.plans[run_id]
        if not result.ok or ens is not None:
            continue
        ens_runs = [r for rid, r in runs.historical.items() if r.ok and runs.plans[rid][2]
                    is not None and runs.plans[rid][:2] == (member, simulation)]
        targets.append(ConformTarget(run_id, member, simulation, result,
                                     ens_runs if len(ens_runs) >= 2 else []))
    return targets


def conform_outputs(ctx: Context, runs: RunsOutcome) -> list[ConformedFile]:
    """CalLMIP monthly and annual files for every completed historical (non-ensemble) and
    scenario run; scenario files go to ``callmip/<ssp>_<gcm>/``.

    A posterior run with at least two completed ensemble members also gets ``<var>_post_unc``.
    """
    campaign = ctx.campaign
    written = []
    for t in conform_targets(runs):
        run_id, member, simulation, result = t.run_id, t.member, t.simulation, t.result
        driver = ctx.driver(member.model.key)
        attrs = global_attrs(campaign, member, simulation, run_id)
        out_dir = ctx.rundir.sub("callmip", simulation)
        for freq in ("monthly", "annual"):
            files = [f for run in result.segments for f in driver.output_files(run, freq)]
            # posterior ensemble members of this run -> <var>_post_unc in its file
            ens_files = [[f for run in r.segments for f in driver.output_files(run, freq)]
                         for r in t.ensemble]
            path = conform_run(driver, files, out_dir, attrs, campaign.resolution, freq,
                               output_years(campaign, simulation, freq), members=ens_files)
            model = f"{member.model.name}.{member.model.version}"
            written.append(ConformedFile(run_id, model, member.stage, simulation, freq, path))
    return written


# ----------------------------------------------------------------------------- reports
def jobs_table(ctx: Context, runs: list[dict[str, RunResult]]) -> pd.DataFrame:
    """Every job of the campaign with its outcome (for Prefect and the report)."""
    rows = []
    for group in runs:
        for run_id, res in group.items():
            for out in res.outcomes:
                rows.append({
                    "run_id": run_id, "task": out.key, "job_id": ",".join(out.job_ids),
                    "attempts": len(out.job_ids), "state": str(out.state),
                    "wall_s": round(out.wall_s, 1) if out.wall_s else None,
                    "log_tail": out.log_tail[-2000:],
                })
    return pd.DataFrame(rows)
