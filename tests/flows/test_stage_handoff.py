"""The typed handoff from the conform stage to the benchmark stage, fast: which files the
benchmark scores and which the reference-free scenario totals read, and that Prefect accepts
the typed list as a flow parameter."""

from pathlib import Path

import pandas as pd

from callmip.config import REPO_ROOT, load_campaign
from callmip.conform import ConformedFile
from flows.benchmark_stage import model_outputs, scenario_totals
from flows.campaign import benchmark_flow


def _file(model, stage, simulation, freq):
    return ConformedFile(f"{model}_{stage}_{simulation}", model, stage, simulation, freq,
                         Path(f"/runs/c/callmip/{simulation}/{model}_{stage}_{freq}.nc"))


WRITTEN = [
    _file("CELM.v1", "Prior", "S3", "monthly"),
    _file("CELM.v1", "Prior", "S3", "annual"),
    _file("CELM.v1", "Posterior", "S3", "monthly"),
    _file("CELM.v1", "Prior", "CO2only", "monthly"),
    _file("CELM.v1", "Prior", "ssp370_gfdl-esm4", "annual"),
    _file("CELM.v1", "Prior", "ssp370_gfdl-esm4", "monthly"),
    _file("CELM.v1", "Posterior", "ssp585_gfdl-esm4", "annual"),
]


def test_benchmark_scores_the_monthly_files_of_one_simulation():
    outs = model_outputs(WRITTEN, "S3")
    assert [(o.model, o.stage) for o in outs] == [("CELM.v1", "Prior"), ("CELM.v1", "Posterior")]
    assert all(o.monthly_path.name.endswith("_monthly.nc") for o in outs)
    assert [o.stage for o in model_outputs(WRITTEN, "CO2only")] == ["Prior"]


def test_scenario_totals_prefer_monthly_and_fall_back_to_annual():
    totals = {(t.source, t.stage, t.experiment): t.path.name for t in scenario_totals(WRITTEN)}
    assert totals == {
        ("CELM.v1", "Prior", "ssp370_gfdl-esm4"): "CELM.v1_Prior_monthly.nc",
        ("CELM.v1", "Posterior", "ssp585_gfdl-esm4"): "CELM.v1_Posterior_annual.nc",
    }


def test_prefect_accepts_the_typed_list_as_a_flow_parameter():
    params = benchmark_flow.validate_parameters({
        "campaign": load_campaign(REPO_ROOT / "configs" / "demo.yaml"), "written": WRITTEN, "spinup_table": pd.DataFrame(),
        "jobs": pd.DataFrame(),
    })
    assert params["written"] == WRITTEN
    assert all(isinstance(w, ConformedFile) for w in params["written"])


# --- which runs the conform stage writes (ensemble filtering) -------------------------------
def _result(run_id, ok=True):
    from callmip.scheduler import JobState
    from flows.runs.execute import RunResult

    return RunResult(run_id, JobState.COMPLETED if ok else JobState.FAILED, None)


def test_conform_writes_completed_central_runs_with_their_completed_members():
    from flows.pipeline import RunsOutcome, conform_targets

    post, prior = "CELM.v1_posterior", "CELM.v1_prior"  # members (compared by equality)
    historical = {
        "post_S3": _result("post_S3"),
        "post_S3_e1": _result("post_S3_e1"),
        "post_S3_e2": _result("post_S3_e2"),
        "post_S3_e3": _result("post_S3_e3", ok=False),  # a failed member is left out
        "post_CO2only": _result("post_CO2only"),
        "post_CO2only_e1": _result("post_CO2only_e1"),  # one member alone: no spread
        "prior_S3": _result("prior_S3", ok=False),  # a failed run writes nothing
    }
    plans = {
        "post_S3": (post, "S3", None), "post_S3_e1": (post, "S3", 1),
        "post_S3_e2": (post, "S3", 2), "post_S3_e3": (post, "S3", 3),
        "post_CO2only": (post, "CO2only", None), "post_CO2only_e1": (post, "CO2only", 1),
        "prior_S3": (prior, "S3", None), "prior_ssp370": (prior, "ssp370_gfdl-esm4", None),
    }
    scenario = {"prior_ssp370": _result("prior_ssp370")}
    targets = conform_targets(RunsOutcome({}, historical, plans, scenario))
    got = {t.run_id: sorted(r.run_id for r in t.ensemble) for t in targets}
    assert got == {"post_S3": ["post_S3_e1", "post_S3_e2"], "post_CO2only": [],
                   "prior_ssp370": []}
