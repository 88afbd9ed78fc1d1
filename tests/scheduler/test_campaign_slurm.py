"""A whole small campaign through a real single-node Slurm, including the 2015-2100-style SSP runs.

Forcing (CRU-JRA and ISIMIP3b layouts) -> spin-up -> transient -> prior/posterior S3 (with a
restart at the end of 2014) -> ssp126/ssp585 x GFDL-ESM4 runs branching from that restart ->
CalLMIP files -> benchmark. Every model run is an ``sbatch`` job; the test checks Slurm's own
accounting, the branching, the SSP CO2 and that nothing was submitted twice.
"""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from callmip.conform import check_file
from callmip.scheduler import JobLedger
from forcing.co2 import ssp_co2

# forcing (CRU-JRA and ISIMIP3b layouts), ~20 Slurm jobs and a rerun: minutes on a quiet
# 2-core machine, more under load
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def slurm_campaign(slurm, tmp_path_factory, campaign_cli):
    tmp = tmp_path_factory.mktemp("slurm_campaign")
    path = campaign_cli.write(
        tmp, "slurm-ssp",
        forcing={"seed": 5},
        periods={"spinup_cycle": [1901, 1901], "transient_start": 2011,
                 "historical": [2013, 2016], "output_last_years": 2, "scenario_end": 2016},
        spinup={"mode": "accelerated", "analytic_cycles": 1, "max_cycles": 2},
        scenarios=["ssp126", "ssp585"],
        scenario_gcms=["gfdl-esm4"],
        scheduler={"backend": "slurm", "segment_years": 20,
                   "resources": {"mem_mb": 1500, "walltime_min": 20}},
        references={"variables": ["hfls"]},
    )  # fmt: skip
    first = campaign_cli.run(path, tmp, timeout=1500)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-5000:]
    run_dir = tmp / "runs" / "slurm-ssp"
    n_first = JobLedger(run_dir / "jobs.json").submissions()
    second = campaign_cli.run(path, tmp, timeout=900)
    assert second.returncode == 0, second.stderr[-5000:]
    return run_dir, n_first


def _ledger(run_dir: Path) -> dict:
    return json.loads((run_dir / "jobs.json").read_text())


def test_every_model_run_was_a_completed_slurm_job(slurm_campaign):
    run_dir, n_first = slurm_campaign
    ledger = JobLedger(run_dir / "jobs.json")
    attempts = [a for t in ledger.tasks() for a in t.attempts]
    assert attempts and {a.backend for a in attempts} == {"slurm"}
    assert all(a.state == "COMPLETED" for a in (t.last for t in ledger.tasks()))
    ids = sorted({a.job_id.split("_")[0] for a in attempts})
    sacct = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(ids)],
        capture_output=True, text=True, check=False,
    )
    if sacct.returncode != 0 or not sacct.stdout.strip():  # no slurmdbd: the controller's view
        sacct = subprocess.run(
            ["sacct", "-c", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(ids)],
            capture_output=True, text=True, check=False,
        )
    states = dict(line.split("|")[:2] for line in sacct.stdout.split() if "|" in line)
    assert {states.get(i, "?") for i in ids} == {"COMPLETED"}, sacct.stdout
    # each member's scenario matrix went to Slurm as one job array
    for stage in ("prior", "posterior"):
        arrays = {ledger.get(f"CELM-A.v1_{stage}_{ssp}_gfdl-esm4/seg000").attempts[0].job_id
                  for ssp in ("ssp126", "ssp585")}
        assert len({j.split("_")[0] for j in arrays}) == 1 and all("_" in j for j in arrays)
    # the rerun re-used every finished job: not one new submission
    assert ledger.submissions() == n_first


def test_scenarios_branch_from_the_s3_state_at_the_end_of_2014(slurm_campaign):
    run_dir = slurm_campaign[0]
    for stage in ("prior", "posterior"):
        label = f"CELM-A.v1_{stage}"
        s3_segments = sorted((run_dir / "runs" / f"{label}_S3").glob("seg*"))
        assert len(s3_segments) == 2  # 2013-2014 | 2015-2016: a restart exists at end 2014
        first = yaml.safe_load((s3_segments[0] / "namelist.yaml").read_text())
        assert first["years"][-1]["year"] == 2014
        for ssp in ("ssp126", "ssp585"):
            nml = yaml.safe_load(
                (run_dir / "runs" / f"{label}_{ssp}_gfdl-esm4" / "namelist.yaml").read_text()
            )
            assert nml["restart_in"] == first["restart_out"]
            assert [y["year"] for y in nml["years"]] == [2015, 2016]
            co2 = ssp_co2(ssp)
            assert [y["co2_ppm"] for y in nml["years"]] == pytest.approx([co2[2015], co2[2016]])
            assert Path(nml["forcing_dir"]).name == f"model_2deg_{ssp}_gfdl-esm4"
            assert len(list(Path(nml["forcing_dir"]).glob("met_*.nc"))) == 2


def test_scenario_files_are_callmip_conformant_and_differ_by_ssp(slurm_campaign):
    run_dir = slurm_campaign[0]
    gpp = {}
    for ssp in ("ssp126", "ssp585"):
        files = sorted((run_dir / "callmip" / f"{ssp}_gfdl-esm4").glob("*.nc"))
        assert {f.name for f in files} == {
            f"CELM-A.v1_global_2deg_{freq}_2015-2016_{stage}.nc"
            for freq in ("monthly", "annual") for stage in ("Prior", "Posterior")
        }
        for f in files:
            report = check_file(f)
            assert report.ok, report.render()
        with xr.open_dataset(files[0].with_name(
                "CELM-A.v1_global_2deg_annual_2015-2016_Prior.nc")) as ds:
            gpp[ssp] = float(ds["gpp"].mean())
            assert np.isfinite(ds["gpp"]).any()
    assert gpp["ssp126"] != gpp["ssp585"]
    assert (run_dir / "benchmark" / "index.html").is_file()
