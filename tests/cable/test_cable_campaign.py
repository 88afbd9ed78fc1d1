"""The CABLE demo campaign through the CLI, on the local executor and on the real Slurm.

The campaign is ``configs/demo-cable.yaml`` (real CABLE-POP built from source, a 2-degree box
over Europe in 2 land chunks per run, prior and posterior, S3 with land use and CO2-only,
accelerated spin-up), shortened for CI: one-year spin-up cycles, a 2-year transient and 2004-2005 (the
FLUXCOM years), with a 2-member posterior ensemble on the local executor. Both campaigns read
one set of synthetic CRU-JRA files (``forcing.source: crujra``).

Local: CalLMIP files pass ``callmip check``; the posterior (steeper g1, higher Vcmax) has more
GPP and latent heat than the prior; the benchmark scores both; every run ran as 2 chunks and
was merged; the spin-up used CABLE's analytic step and derived total carbon from its pools;
the ensemble's ``_post_unc`` is the spread of real runs; a rerun submits nothing.
Slurm: the orchestrator is killed while chunk jobs run and started again; the campaign
completes with every chunk job submitted exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from callmip.scheduler import JobLedger

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3000)]
REPO = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((REPO / "configs/demo-cable.yaml").read_text())
MODEL = "CABLE-POP.TRENDYv12"
YEARS = (1901, 2004, 2005)


@pytest.fixture(scope="module")
def crujra(tmp_path_factory, cable_program) -> Path:
    from forcing.synthetic import write_crujra_years

    out = tmp_path_factory.mktemp("cable_crujra")
    write_crujra_years(out, YEARS, res_deg=2, seed=42)
    return out


def _campaign(tmp: Path, name: str, crujra: Path, backend: str, campaign_cli,
              ensemble: int = 0, judge: str = "cycle") -> Path:
    model = dict(DEMO["models"][0])
    model["posterior"] = str(REPO / "configs" / model["posterior"])
    model["ensemble_members"] = ensemble
    resources = {"walltime_min": 20, "mem_mb": 600}
    return campaign_cli.write(
        tmp, name,
        forcing={"source": "crujra", "crujra_dir": str(crujra), "seed": 42},
        periods={"spinup_cycle": [1901, 1901], "transient_start": 2002,
                 "historical": [2004, 2005]},
        spinup={"mode": "accelerated", "analytic_cycles": 1, "max_cycles": 2, "judge": judge},
        models=[model],
        simulations=["S3", "CO2only"],
        scheduler={"backend": backend, "max_parallel": 2, "resources": resources,
                   "retry": {"max_resubmits_failed": 1}},
        references={"variables": ["hfls", "hfss"]},
    )  # fmt: skip


@pytest.fixture(scope="module")
def local_campaign(tmp_path_factory, crujra, campaign_cli):
    tmp = tmp_path_factory.mktemp("cable_local")
    path = _campaign(tmp, "cable-local", crujra, "local", campaign_cli, ensemble=2,
                     judge="phase")
    t0 = time.monotonic()
    first = campaign_cli.run(path, tmp, timeout=2400)
    seconds = time.monotonic() - t0
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-6000:]
    run_dir = tmp / "runs" / "cable-local"
    n_first = JobLedger(run_dir / "jobs.json").submissions()
    second = campaign_cli.run(path, tmp, timeout=1200)
    assert second.returncode == 0, second.stderr[-5000:]
    print(f"CABLE local campaign: {seconds:.0f} s (first run)", flush=True)
    return run_dir, n_first


def _files(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "callmip").glob("*/*.nc"))


def test_callmip_files_pass_the_checker(local_campaign):
    run_dir, _ = local_campaign
    files = _files(run_dir)
    assert {f.parent.name for f in files} == {"S3", "CO2only"}
    assert len(files) == 8
    proc = subprocess.run([sys.executable, "-m", "callmip_app.cli", "check", *map(str, files)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.count("PASS") == 8


def test_posterior_has_more_gpp_and_latent_heat_as_its_parameters_imply(local_campaign):
    """The posterior's Medlyn g1 is 40% steeper and its Vcmax 15% higher in every PFT: more
    stomatal conductance and carboxylation, so more GPP and more transpiration (hfls)."""
    run_dir, _ = local_campaign
    for sim in ("S3", "CO2only"):
        means = {}
        for stage in ("Prior", "Posterior"):
            (f,) = (run_dir / "callmip" / sim).glob(f"*_annual_*_{stage}.nc")
            with xr.open_dataset(f) as ds:
                means[stage] = {v: float(ds[v].mean()) for v in ("gpp", "hfls", "tran")}
        for v in ("gpp", "hfls", "tran"):
            assert means["Posterior"][v] > 1.02 * means["Prior"][v], (sim, v, means)


def test_the_benchmark_scores_prior_and_posterior(local_campaign):
    run_dir, _ = local_campaign
    scores = pd.read_csv(run_dir / "benchmark" / "scores.csv")
    overall = scores[(scores["source"] == MODEL) & (scores["type"] == "score")
                     & (scores["product"] == "FLUXCOM") & (scores["region"] == "global")]
    for stage in ("Prior", "Posterior"):
        for variable in ("hfls", "hfss"):
            values = overall[(overall["stage"] == stage) & (overall["variable"] == variable)]
            assert len(values) >= 3, (stage, variable)  # bias, RMSE, seasonal cycle, ...
            assert values["value"].notna().all() and values["value"].between(0, 1).all()
    assert (run_dir / "benchmark" / "index.html").stat().st_size > 10_000


def test_every_run_ran_in_two_chunks_and_was_merged(local_campaign):
    run_dir, n_first = local_campaign
    ledger = JobLedger(run_dir / "jobs.json")
    keys = [t.key for t in ledger.tasks()]
    runs = sorted({k.split("/")[0] for k in keys})
    assert any("_transient_" in r for r in runs) and any("_m001_" in r for r in runs)
    for run in runs:
        assert sorted(k.split("/", 1)[1] for k in keys if k.startswith(run + "/")) == \
            ["seg000/c000", "seg000/c001"], run
        with xr.open_dataset(run_dir / "runs" / run / "out" / "cable_out.nc") as ds:
            assert ds["GPP"].shape[1:] == (90, 180)
            assert int(np.isfinite(ds["GPP"][0]).sum()) == 27  # the box's land cells
        assert json.loads((run_dir / "runs" / run / "restart" / "chunks.json").read_text())
    # the rerun re-used every finished job: not one new submission
    assert ledger.submissions() == n_first


def test_s3_ran_cable_with_land_use_and_co2only_held_it(local_campaign):
    """S3 varies land use for CABLE (POPLUC ``init`` in its own transient, ``restart`` in the
    historical runs); the spin-up and CO2-only hold the tiles (``static``)."""
    run_dir, _ = local_campaign
    types: dict[str, set[str]] = {}
    for record in (run_dir / "runs").glob("*/restart/c*/luc.json"):
        run = record.parents[2].name.removeprefix(f"{MODEL}_")
        kind = "spinup" if "_spinup_" in run else run.split("_", 1)[1]
        types.setdefault(kind, set()).add(json.loads(record.read_text())["run_type"])
    assert types["spinup"] == {"static"}
    assert types["transient_CO2LUCNdep"] == {"init"} and types["transient_CO2"] == {"static"}
    s3 = {k: v for k, v in types.items() if k.endswith("S3")}
    co2 = {k: v for k, v in types.items() if k.endswith("CO2only")}
    assert s3 and all(v == {"restart"} for v in s3.values()), types
    assert co2 and all(v == {"static"} for v in co2.values()), types
    assert list((run_dir / "runs").glob(f"{MODEL}_prior_S3/c000/*_LUC_out.nc"))


def test_spinup_used_cables_analytic_step_and_derived_total_carbon(local_campaign):
    run_dir, _ = local_campaign
    manifest = json.loads((run_dir / "manifest.json").read_text())
    members = manifest["stages"]["spinup"]["members"]
    for stage in ("prior", "posterior"):
        member = members[f"{MODEL}_{stage}"]
        assert member["method"].startswith("accelerated: CASA-only analytic spin-up")
        assert member["total_carbon"] == "cVeg + cLitter + cSoil"
    models = manifest["stages"]["models"]["models"][MODEL]
    assert models["chunks"] == "2" and models["land_cells"] == "27"
    assert Path(models["executable"]).is_file() and models["ran_real_program"]
    # the cycle that ended in the analytic solve ran CASA-only after the normal cycle
    first = run_dir / "runs" / f"{MODEL}_prior_spinup_c0000" / "c000"
    assert "icycle = 12" in (first / "analytic" / "cable.nml").read_text()
    assert not (run_dir / "runs" / f"{MODEL}_prior_spinup_c0001" / "c000" / "analytic").exists()
    drift = pd.read_csv(run_dir / "spinup" / "drift.csv")
    totals = drift[(drift["variable"] == "cTotal") & drift["global_total"].notna()]
    assert len(totals["cycle"].unique()) == 2 and (totals["global_total"] > 0).all()
    # the phase judge: CABLE's accelerated cycle ends with CASA's solve after its outputs, so it
    # is not checked; the normal cycle after it is, by a one-year CABLE run from its restart
    checks = drift[drift["compared"] == "first year, one cycle apart"]
    assert set(checks["cycle"]) == {1}
    for stage in ("prior", "posterior"):
        member = members[f"{MODEL}_{stage}"]
        assert (member["cycles"], member["checks"]) == (2, 1)
        assert member["iterated_years"] is None  # CABLE's driver does not report them
        assert f"{MODEL}_{stage}_spinup_c0001" in member["restart"]
        assert "check" not in member["restart"]
        assert (run_dir / "runs" / f"{MODEL}_{stage}_spinup_c0001_check").is_dir()
        assert not (run_dir / "runs" / f"{MODEL}_{stage}_spinup_c0000_check").exists()


def test_ensemble_post_unc_is_the_spread_of_real_member_runs(local_campaign):
    run_dir, _ = local_campaign
    (f,) = (run_dir / "callmip" / "S3").glob("*_monthly_*_Posterior.nc")
    with xr.open_dataset(f) as ds:
        for v in ("nep", "hfls", "hfss"):
            spread = ds[f"{v}_post_unc"]
            assert float(spread.max()) > 0, v
    m0 = (run_dir / "runs" / f"{MODEL}_posterior_m000_S3" / "shared" / "params" /
          "def_veg_params.txt").read_text()
    m1 = (run_dir / "runs" / f"{MODEL}_posterior_m001_S3" / "shared" / "params" /
          "def_veg_params.txt").read_text()
    assert m0 != m1  # each member ran with its own g1


# ----------------------------------------------------------------------------- Slurm
def _ledger(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "jobs.json").read_text())["tasks"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return {}


def test_slurm_campaign_killed_during_chunk_jobs_resumes_without_duplicates(
        slurm, tmp_path, crujra, campaign_cli):
    path = _campaign(tmp_path, "cable-slurm", crujra, "slurm", campaign_cli)
    real = shutil.which("sbatch")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "sbatch_calls.txt"
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\nexec "{real}" "$@"\n')
    (bin_dir / "sbatch").chmod(0o755)
    env = {**campaign_cli.env(tmp_path), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    run_dir = tmp_path / "runs" / "cable-slurm"
    proc = subprocess.Popen(campaign_cli.command(path), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 1500
        while True:  # kill once a transient chunk job runs (spin-up done, runs started)
            tasks = _ledger(run_dir)
            running = [k for k, t in tasks.items() if "_transient_" in k.split("/")[0] and t["attempts"]
                       and t["attempts"][-1]["state"] == "RUNNING"]
            if running:
                break
            assert proc.poll() is None, "the campaign ended before it could be killed"
            assert time.monotonic() < deadline, "no transient chunk job ever ran"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the orchestrator; Slurm keeps the jobs
        proc.wait()
    before = _ledger(run_dir)
    rerun = subprocess.run(campaign_cli.command(path), env=env, capture_output=True, text=True,
                           timeout=2000)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-6000:]

    after = _ledger(run_dir)
    chunk_tasks = {k: t for k, t in after.items() if "/c00" in k}
    assert chunk_tasks and all(k.endswith(("/c000", "/c001")) for k in chunk_tasks)
    for key, task in chunk_tasks.items():
        assert [a["state"] for a in task["attempts"]] == ["COMPLETED"], (key, task)
        assert task["attempts"][0]["backend"] == "slurm"
    for key in running:  # the jobs running at the kill were re-attached, not resubmitted
        assert after[key]["attempts"][0]["job_id"] == before[key]["attempts"][0]["job_id"]
    # one sbatch per job or job array, never a second one for the same chunk
    array_ids = {a["job_id"].split("_")[0] for t in after.values() for a in t["attempts"]}
    assert len(calls.read_text().splitlines()) == len(array_ids)
    files = _files(run_dir)
    assert len(files) == 8
    check = subprocess.run([sys.executable, "-m", "callmip_app.cli", "check", *map(str, files)],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout
