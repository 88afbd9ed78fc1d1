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
