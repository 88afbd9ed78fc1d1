"""A whole small campaign through the real CLI, Prefect, the local executor and the model process.

Forcing -> spin-up (accelerated, 2-year cycle, failing the campaign unless every criterion
passes twice in a row within 4 cycles) -> transient -> prior/posterior S3 runs -> CalLMIP files
-> benchmark report. Then the same command again must re-use everything (no new job
submissions). The campaign (``campaign_run`` in ``tests/flows/conftest.py``) also runs S2 and
CO2only, which ``test_experiments_e2e.py`` reads.
"""

import json

import netCDF4
import pandas as pd
import pytest

from callmip.conform import TABLE, check_file
from callmip.scheduler import JobLedger

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]  # whole campaigns: minutes


def test_report_is_written_and_announced(campaign_run):
    run_dir, first, _, _ = campaign_run
    report = run_dir / "benchmark" / "index.html"
    assert report.is_file()
    assert f"report: {report}" in first.stdout
    html = report.read_text()
    for word in ("hfls", "hfss", "Prior", "Posterior"):
        assert word in html


def test_callmip_files_have_table_names_units_and_pass_checker(campaign_run):
    run_dir = campaign_run[0]
    files = sorted((run_dir / "callmip" / "S3").glob("*.nc"))
    names = {f.name for f in files}
    assert names == {
        f"CELM-A.v1_global_2deg_{freq}_2004-2005_{stage}.nc"
        for freq in ("monthly", "annual") for stage in ("Prior", "Posterior")
    }
    for f in files:
        report = check_file(f)
        assert report.ok, report.render()
        with netCDF4.Dataset(f) as ds:
            for name, spec in TABLE.items():
                assert ds.variables[name].units == spec.units


def test_manifest_and_ledger(campaign_run):
    run_dir, _, _, n_jobs = campaign_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert {"forcing", "spinup", "runs", "conform", "benchmark"} <= set(manifest["stages"])
    assert len(manifest["config_hash"]) == 64
    assert manifest["code_version"]
    ledger = JobLedger(run_dir / "jobs.json")
    assert all(t.last.state == "COMPLETED" for t in ledger.tasks())
    drift = (run_dir / "spinup" / "drift.csv").read_text()
    assert "CTSM global drift" in drift and "C4MIP" in drift
    assert n_jobs >= 12  # 2 members x (>=1 spin-up cycle + 2 transients + S2, S3, CO2only)


def test_accelerated_spinup_passes_every_criterion(campaign_run):
    """On a 2-year cycle, judged by the phase judge twice in a row: the accelerated job and its
    one-year check, a normal cycle and its check, every gating criterion (CTSM global and area,
    C4MIP) passing in both checks and in the normal cycle's comparison with the accelerated
    one. The transient starts from the checked cycle's restart, not the check year's."""
    run_dir = campaign_run[0]
    table = pd.read_csv(run_dir / "spinup" / "drift.csv")
    for (_, stage), member in table.groupby(["model", "stage"]):
        checks = member[member["compared"] == "first year, one cycle apart"]
        cycles = member[member["compared"] == "consecutive cycle means"]
        assert sorted(set(checks["cycle"])) == [0, 1] and cycles["cycle"].max() == 1, stage
        for judged in (checks, cycles[cycles["cycle"] == 1]):
            gating = judged[judged["gates"]]
            assert len(gating) and gating["passed"].all(), gating.to_string()
            assert {"CTSM global drift", "C4MIP drift per century"} <= set(gating["criterion"])
    members = json.loads((run_dir / "manifest.json").read_text())["stages"]["spinup"]["members"]
    for label, m in members.items():
        assert (m["cycles"], m["checks"], m["simulated_years"]) == (2, 2, 2 * 2 + 2), label
        # and what CELM iterated inside its accelerated job (its steady_state.json): whole
        # 2-year cycles, the cold one and at least one more
        assert m["iterated_years"] >= 4 and m["iterated_years"] % 2 == 0, m
        assert f"{label}_spinup_c0001" in m["restart"] and "check" not in m["restart"], m


def test_rerun_reuses_everything(campaign_run):
    run_dir, _, second, n_jobs = campaign_run
    assert JobLedger(run_dir / "jobs.json").submissions() == n_jobs
    assert "report:" in second.stdout


def test_prior_and_posterior_differ(campaign_run):
    import xarray as xr

    run_dir = campaign_run[0]
    d = run_dir / "callmip" / "S3"
    prior = xr.open_dataset(d / "CELM-A.v1_global_2deg_annual_2004-2005_Prior.nc")
    post = xr.open_dataset(d / "CELM-A.v1_global_2deg_annual_2004-2005_Posterior.nc")
    diff = float(abs(prior.gpp - post.gpp).mean()) / float(abs(prior.gpp).mean())
    assert diff > 0.01
