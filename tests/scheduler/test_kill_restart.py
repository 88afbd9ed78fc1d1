"""An orchestrator killed mid-campaign (SIGKILL, twice) and restarted re-attaches to its jobs and
finishes without a single duplicate submission.

The orchestrator is a real separate process (``orchestrator_proc.py``). On Slurm, every
``sbatch`` call is counted through a wrapper placed first on its PATH, and the jobs Slurm knows
under the campaign's names are counted with ``squeue``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from callmip.scheduler import JobLedger, JobState

HERE = Path(__file__).resolve().parent
N_TASKS = 6  # a, b, seg0, seg1, ens0, ens1
N_SBATCH = 5  # the two ensemble members share one array submission


def _sbatch_counter(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A PATH entry whose ``sbatch`` logs each call, then runs the real one."""
    real = shutil.which("sbatch")
    assert real
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "sbatch_calls.txt"
    wrapper = bin_dir / "sbatch"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return env, calls


def _start(kind: str, root: Path, prefix: str, out: Path, env: dict, log: Path):
    fh = open(log, "ab")  # noqa: SIM115 - closed by the caller through the process
    return subprocess.Popen(
        [
            sys.executable,
            str(HERE / "orchestrator_proc.py"),
            kind,
            str(root),
            prefix,
            "8",
            "0.4",
            str(out),
        ],
        env=env,
        stdout=fh,
        stderr=subprocess.STDOUT,
    ), fh


def _wait_for(cond, timeout: float, what: str) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, f"timed out waiting for {what}"
        time.sleep(0.02)


def _ledger_states(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return [a["state"] for t in data["tasks"].values() for a in t["attempts"]]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["local", "slurm"])
def test_killed_orchestrator_reattaches_without_duplicates(tmp_path, kind, request):
    if kind == "slurm":
        request.getfixturevalue("slurm")
        env, calls = _sbatch_counter(tmp_path)
    else:
        env, calls = dict(os.environ), None
    root = tmp_path / "run"
    root.mkdir()
    prefix = f"kr{uuid.uuid4().hex[:6]}"
    out = tmp_path / "outcomes.json"
    log = tmp_path / "orchestrator.log"
    ledger_path = root / "jobs.json"

    # 1st run: killed as soon as the ledger appears, i.e. in the middle of submitting
    proc, fh = _start(kind, root, prefix, out, env, log)
    _wait_for(ledger_path.exists, 60, "the ledger")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    fh.close()

    # 2nd run: killed while jobs are running
    proc, fh = _start(kind, root, prefix, out, env, log)
    _wait_for(lambda: "RUNNING" in _ledger_states(ledger_path), 60, "a running job")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    fh.close()
    assert not out.exists(), "the campaign cannot be finished yet"
    time.sleep(1.0)  # jobs progress (and some finish) while no orchestrator is watching

    # 3rd run: to the end
    proc, fh = _start(kind, root, prefix, out, env, log)
    try:
        assert proc.wait(timeout=240) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        fh.close()

    outcomes = json.loads(out.read_text())
    assert len(outcomes) == N_TASKS
    assert {o["state"] for o in outcomes.values()} == {JobState.COMPLETED.value}, outcomes
    ledger = JobLedger(ledger_path)
    assert ledger.submissions() == N_TASKS, log.read_text()[-3000:]
    job_ids = [o["job_ids"] for o in outcomes.values()]
    assert all(len(ids) == 1 for ids in job_ids)
    assert len({ids[0] for ids in job_ids}) == N_TASKS
    for name in ["a", "b", "seg0", "ens0", "ens1"]:
        assert json.loads((root / f"{prefix}-{name}" / "out.json").read_text()) == {
            "steps": 8,
            "total": 36,
        }
        assert not (root / f"{prefix}-{name}" / "model.1.log").exists()
    # seg1 continued from seg0's final restart: its sum carried on
    assert "resumed from step 8" in (root / f"{prefix}-seg1" / "model.0.log").read_text()

    if kind == "slurm":
        assert calls is not None
        assert len(calls.read_text().splitlines()) == N_SBATCH, calls.read_text()
        known = subprocess.run(
            ["squeue", "--noheader", "--states=all", "--array", "--Format", "JobArrayID:|,Name:"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        ours = [line for line in known if line.split("|")[1].strip().startswith(prefix)]
        assert len(ours) == N_TASKS, ours
    else:
        job_dirs = [p for p in (root / ".jobs").iterdir() if p.name.startswith("local-")]
        assert len(job_dirs) == N_TASKS
