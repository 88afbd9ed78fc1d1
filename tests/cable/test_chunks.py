"""Land chunks of real CABLE runs: a chunked run merges to exactly what one job over the same
cells gives, a chunk that dies is resubmitted alone, and broken inputs fail with a message that
names the file and the problem although CABLE itself may exit 0.

One module-scoped pair of runs (the same dozen cells, 1901, from cold: one job, and three
chunks of which one is killed mid-run) feeds all tests here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import netCDF4
import numpy as np
import psutil
import pytest

from callmip.config import Campaign
from callmip.drivers import YearSpec
from callmip.rundir import RunDir
from flows.runs.execute import Context, RunRequest, execute, model_driver

#: a small box over Europe at 2 degrees: a dozen land cells
BOX = [2.0, 10.0, 44.0, 50.0]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
REPO = Path(__file__).resolve().parents[2]
YEARS = (YearSpec(1901, 1901, 287.42),)


def _campaign(tmp: Path, program: Path) -> Campaign:
    def model(name: str, chunks: int) -> dict:
        return {"name": name, "driver": "cable_pop",
                "options": {"executable": str(program), "chunks": chunks, "domain": BOX}}

    return Campaign.model_validate({
        "name": "chunks", "resolution": 2, "periods": {"historical": [2003, 2003]},
        "models": [model("ONE", 1), model("THREE", 3)], "experiments": ["prior"],
        "scheduler": {"backend": "local", "max_parallel": 2, "retry": {"max_resubmits_failed": 1},
                      "resources": {"walltime_min": 20, "mem_mb": 500}},
        "run_root": str(tmp),
    })


def _kill_first_attempt_of(chunk_dir: Path, program: Path, done: threading.Event) -> None:
    """Kill the CABLE process working in ``chunk_dir`` once (a node losing one job)."""
    while not done.is_set():
        for proc in psutil.process_iter(["exe", "cwd"]):
            try:
                if proc.info["exe"] == str(program) and proc.info["cwd"] == str(chunk_dir):
                    time.sleep(0.5)  # let it get going
                    proc.kill()
                    done.set()
                    return
            except (psutil.Error, TypeError):
                continue
        time.sleep(0.05)


@pytest.fixture(scope="module")
def chunk_runs(tmp_path_factory, cable_program, cable_forcing):
    tmp = tmp_path_factory.mktemp("cable_chunks")
    campaign = _campaign(tmp, cable_program)
    rundir = RunDir(campaign)
    rundir.initialise()
    ctx = Context.create(campaign, rundir, cable_forcing, poll_s=0.2)
    requests = []
    for model in campaign.models:
        driver = model_driver(model, rundir.path)
        driver.setup(cable_forcing)
        prior = rundir.path / "params" / f"{model.key}.json"
        driver.write_prior(prior)
        requests.append(RunRequest(f"{model.key}_cold", model.key, prior, YEARS, None))
    victim = rundir.path / "runs" / "THREE.v1_cold" / "c001"
    killed = threading.Event()
    watcher = threading.Thread(target=_kill_first_attempt_of,
                               args=(victim, cable_program, killed), daemon=True)
    watcher.start()
    t0 = time.monotonic()
    results = execute(ctx, requests)
    killed.set()
    return {"ctx": ctx, "results": results, "rundir": rundir.path, "seconds":
            time.monotonic() - t0, "killed": killed}


def test_merged_chunks_equal_one_job_over_the_same_cells(chunk_runs):
    one, three = (chunk_runs["results"][k] for k in ("ONE.v1_cold", "THREE.v1_cold"))
    assert one.ok and three.ok, (one.outcomes, three.outcomes)
    assert len(three.outcomes) == 3 and len(one.outcomes) == 1
    ctx = chunk_runs["ctx"]
    (a,) = ctx.driver("ONE.v1").output_files(one.segments[0], "monthly")
    (b,) = ctx.driver("THREE.v1").output_files(three.segments[0], "monthly")
    with netCDF4.Dataset(a) as x, netCDF4.Dataset(b) as y:
        names = sorted(v for v in x.variables if x[v].ndim >= 3)
        assert {"GPP", "Qle", "TotSoilCarb", "SoilMoist", "NEE"} <= set(names)
        assert names == sorted(v for v in y.variables if y[v].ndim >= 3)
        land = np.isfinite(x["GPP"][0].filled(np.nan))
        assert land.sum() >= 8  # the box's land cells, on the campaign's global grid
        assert x["GPP"].shape[1:] == (90, 180)
        for name in names:
            u, v = x[name][:].filled(np.nan), y[name][:].filled(np.nan)
            np.testing.assert_array_equal(np.isnan(u), np.isnan(v), err_msg=name)
            np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-12, err_msg=name)


def test_the_killed_chunk_alone_was_resubmitted(chunk_runs):
    assert chunk_runs["killed"].is_set()
    ledger = json.loads((chunk_runs["rundir"] / "jobs.json").read_text())["tasks"]
    attempts = {k: [a["state"] for a in v["attempts"]] for k, v in ledger.items()
                if k.startswith("THREE.v1_cold/")}
    assert attempts["THREE.v1_cold/seg000/c001"] == ["FAILED", "COMPLETED"]
    assert attempts["THREE.v1_cold/seg000/c000"] == ["COMPLETED"]
    assert attempts["THREE.v1_cold/seg000/c002"] == ["COMPLETED"]
    # the three chunks started as one array; the retry was a single job
    first = [ledger[f"THREE.v1_cold/seg000/c{k:03d}"]["attempts"][0]["log_path"]
             for k in range(3)]
    assert all("/_arrays/" in p for p in first)
    retry = ledger["THREE.v1_cold/seg000/c001"]["attempts"][1]["log_path"]
    assert retry.endswith("c001/model.1.log")
    log = (chunk_runs["rundir"] / "runs" / "THREE.v1_cold" / "c001" / "model.1.log").read_text()
    assert "complete" in log


def _launch(chunk_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "callmip.drivers.cable_pop.launch",
                           str(chunk_dir)], capture_output=True, text=True, timeout=600)


def _broken_run(chunk_runs, tmp: Path, **options):
    """A one-chunk run of 1902 from the cold run's end, with its own driver options."""
    from callmip.drivers import ModelRun, get_driver

    rundir = chunk_runs["rundir"]
    base = json.loads((rundir / "models" / "ONE.v1" / "setup.json").read_text())
    driver = get_driver("cable_pop", {"executable": base["executable"], "domain": BOX,
                                      **options}, workspace=tmp / "ws")
    driver.setup(Path(chunk_runs["ctx"].forcing_dir))
    prior = tmp / "prior.json"
    driver.write_prior(prior)
    restart = chunk_runs["results"]["ONE.v1_cold"].restart
    run = ModelRun("broken", prior, Path(chunk_runs["ctx"].forcing_dir),
                   (YearSpec(1902, 1902, 287.42),), tmp / "run", restart_in=restart)
    driver.prepare(run)
    return driver, run, driver.chunk_dir(run, 0)


def test_a_met_file_without_its_variable_fails_naming_the_file(chunk_runs, tmp_path):
    _, _, chunk = _broken_run(chunk_runs, tmp_path)
    met = (chunk / "met" / "tmax" / "tmax_19020101_19021231.nc").resolve()
    subprocess.run(["ncks", "-O", "-x", "-v", "tmax", str(met), str(met)], check=True)
    proc = _launch(chunk)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert str(met) in proc.stderr and "Variable not found" in proc.stderr


def test_a_namelist_key_cable_rejects_fails_although_cable_exits_0(chunk_runs, tmp_path):
    _, _, chunk = _broken_run(chunk_runs, tmp_path,
                              cable_nml={"cable_user%CO2_file": "co2.txt"})
    proc = _launch(chunk)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "exit status 0" in proc.stdout  # CABLE's own verdict
    assert f"{chunk / 'cable.nml'} (entry 'cable_user%CO2_file'): CABLE rejected the " \
           "namelist: Cannot match namelist object name" in proc.stderr


def test_a_truncated_restart_fails_before_cable_would_run_on_garbage(chunk_runs, tmp_path):
    restart = chunk_runs["results"]["ONE.v1_cold"].restart
    copy = tmp_path / "restart_copy"
    shutil.copytree(restart, copy)
    target = copy / "c000" / "cru_cable_rst.nc"
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    chunk_runs_copy = dict(chunk_runs)
    chunk_runs_copy["results"] = {"ONE.v1_cold": type("R", (), {"restart": copy})()}
    _, _, chunk = _broken_run(chunk_runs_copy, tmp_path / "b")
    proc = _launch(chunk)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert str(target.resolve()) in proc.stderr and "truncated" in proc.stderr
    assert not (chunk / "cable_stdout.txt").exists()  # CABLE never started
    # the trap this guards against: CABLE itself reads the truncated file and "finishes"
    direct = subprocess.run([json.loads((chunk / "job.json").read_text())["executable"]],
                            cwd=chunk, capture_output=True, text=True, timeout=600)
    assert direct.returncode == 0 and "seconds needed for total run" in direct.stdout
