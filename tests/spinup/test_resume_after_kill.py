"""Kill the orchestrator in the middle of a spin-up, run it again: it continues from the last
restart, re-attaching to the running cycle and never rerunning a finished one."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]  # whole campaigns: minutes
CYCLES = 4


def _ledger(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "jobs.json").read_text())["tasks"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return {}


def _completed(tasks: dict, key: str) -> bool:
    rec = tasks.get(key)
    return bool(rec and rec["attempts"] and rec["attempts"][-1]["state"] == "COMPLETED")


def test_spinup_resumes_after_the_orchestrator_is_killed(tmp_path, campaign_cli):
    path = campaign_cli.write(
        tmp_path, "resume",
        forcing={"seed": 11},
        periods={"spinup_cycle": [1901, 1901], "transient_start": 1902,
                 "historical": [1903, 1903], "output_last_years": 1},
        spinup={"mode": "brute", "max_cycles": CYCLES},
        models=[{"name": "CELM-A", "version": "v1"}],
        experiments=["prior"],
        scheduler={"backend": "local", "max_parallel": 1},
        references={"variables": ["hfls"]},
    )  # fmt: skip
    env = campaign_cli.env(tmp_path)
    cmd = campaign_cli.command(path)
    run_dir = tmp_path / "runs" / "resume"
    key = "CELM-A.v1_prior_spinup_c{:04d}/seg000".format

    proc = subprocess.Popen(cmd, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not _completed(_ledger(run_dir), key(1)):
            assert proc.poll() is None, "the campaign ended before it could be killed"
            assert time.monotonic() < deadline, "cycle 1 never completed"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the orchestrator (model jobs run detached)
        proc.wait()
    before = _ledger(run_dir)
    assert key(CYCLES - 1) not in before, "killed too late: the spin-up had already ended"
    assert not (run_dir / "spinup" / "drift.csv").exists()

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-4000:]

    after = _ledger(run_dir)
    for c in range(CYCLES):
        assert _completed(after, key(c)), key(c)
        # never resubmitted: exactly one job per cycle, across the kill
        assert len(after[key(c)]["attempts"]) == 1, after[key(c)]
    for c in (0, 1):
        assert after[key(c)]["attempts"][0]["job_id"] == before[key(c)]["attempts"][0]["job_id"]
    # the chain of restarts is unbroken: every cycle starts from the previous cycle's end state
    cycles = run_dir / "runs"
    for c in range(1, CYCLES):
        nml = yaml.safe_load((cycles / f"CELM-A.v1_prior_spinup_c{c:04d}" / "namelist.yaml")
                             .read_text())
        prev = yaml.safe_load((cycles / f"CELM-A.v1_prior_spinup_c{c - 1:04d}" / "namelist.yaml")
                              .read_text())
        assert nml["restart_in"] == prev["restart_out"]
    drift = pd.read_csv(run_dir / "spinup" / "drift.csv")
    assert sorted(drift["cycle"].unique()) == list(range(CYCLES))
    assert (run_dir / "spinup" / "drift.png").stat().st_size > 10_000
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["spinup"]["members"]["CELM-A.v1_prior"]["cycles"] == CYCLES
