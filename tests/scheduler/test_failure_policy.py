"""The failure policy with real jobs: TIMEOUT and node failures are resubmitted from the newest
restart and complete; infrastructure failures beyond the allowed count stop the run.

The toy model integrates 1..N, checkpointing every step; a correct final sum N(N+1)/2 after an
interruption proves the resubmission continued from the restart rather than from scratch (its
log also says where it resumed).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from callmip.scheduler import JobLedger, JobState, LocalScheduler
from callmip.scheduler.slurm import SlurmScheduler
from callmip.scheduler.supervisor import RetryPolicy, Supervisor


def _wait_until(cond, timeout: float, what: str) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, f"timed out waiting for {what}"
        time.sleep(0.1)


def _resumed_from(log: Path) -> int:
    match = re.search(r"resumed from step (\d+)", log.read_text())
    assert match, f"{log} does not say it resumed from a restart:\n{log.read_text()[-500:]}"
    return int(match.group(1))


def _attempt_states(root: Path, key: str) -> list[str]:
    rec = JobLedger(root / "jobs.json").get(key)
    return [a.state for a in rec.attempts] if rec else []


@pytest.mark.slow
def test_timeout_is_resubmitted_from_the_restart_and_completes(tmp_path, slurm, toy):
    """A 1-minute walltime (Slurm's minimum) on both backends at once, so the suite pays for
    it once. Slurm reports TIMEOUT 0-30 s after the limit, so the model has 200 one-second
    steps: certainly cut. Resumed, its steps take 0.02 s, so the continuation is quick."""

    def campaign(kind: str):
        root = tmp_path / kind
        root.mkdir()
        sched = LocalScheduler(root, 2) if kind == "local" else SlurmScheduler(root)
        ledger = JobLedger(root / "jobs.json")

        def factory(attempt: int):
            spec = toy.spec(root, "long", attempt, steps=200, step_s=1.0, walltime_min=1)
            return replace(spec, argv=(*spec.argv, "--resumed-step-s", "0.02"))

        out = Supervisor(sched, ledger, poll_s=0.5).run({"long": factory}, timeout_s=400)
        return root, out["long"]

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(campaign, "local"), pool.submit(campaign, "slurm")]
        results = [f.result() for f in futures]

    for root, out in results:
        assert out.state == JobState.COMPLETED, (root.name, out)
        assert _attempt_states(root, "long") == ["TIMEOUT", "COMPLETED"]
        assert len(out.job_ids) == 2
        first_log = (root / "long" / "model.0.log").read_text()
        assert "cold start" in first_log
        assert "done" not in first_log
        # the first attempt ran ~60 s (local: exactly the limit; Slurm: up to 30 s later)
        assert 50 <= _resumed_from(root / "long" / "model.1.log") <= 100
        assert toy.result(root, "long") == {"steps": 200, "total": 200 * 201 // 2}


def _node_name() -> str:
    return subprocess.run(
        ["sinfo", "--noheader", "--Node", "--format=%N"], capture_output=True, text=True, check=True
    ).stdout.split()[0]


def _node_usable() -> bool:
    states = subprocess.run(
        ["sinfo", "--noheader", "--Node", "--format=%T"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return bool(states) and states[0].startswith(("idle", "mixed", "allocated"))


def _fail_node(kind: str, root: Path, job_id: str) -> None:
    """A real infrastructure failure while the job runs: the Slurm node goes down, or the local
    executor's job runner is killed (its model process is then reaped with it)."""
    if kind == "slurm":
        node = _node_name()
        subprocess.run(
            ["scontrol", "update", f"NodeName={node}", "State=DOWN", "Reason=callmip-test"],
            check=True,
        )
        try:
            _wait_until(lambda: "NODE_FAIL" in _attempt_states(root, "run"), 60, "NODE_FAIL")
        finally:
            # ReturnToService=2 usually brings the node back by itself at once; RESUME is then
            # refused as an invalid transition, which is fine. Either way, wait for it.
            subprocess.run(
                ["scontrol", "update", f"NodeName={node}", "State=RESUME"],
                check=False,
                capture_output=True,
            )
            _wait_until(_node_usable, 60, "the Slurm node to return to service")
    else:
        pid = int((root / ".jobs" / job_id / "runner.pid").read_text())
        os.kill(pid, 9)


@pytest.mark.parametrize("kind", ["local", "slurm"])
def test_node_failure_is_resubmitted_from_the_restart(tmp_path, kind, toy, request):
    if kind == "slurm":
        request.getfixturevalue("slurm")
    sched = LocalScheduler(tmp_path, 2) if kind == "local" else SlurmScheduler(tmp_path)
    sup = Supervisor(
        sched, JobLedger(tmp_path / "jobs.json"), RetryPolicy(max_resubmits_infra=1), poll_s=0.2
    )

    def factory(attempt: int):
        return toy.spec(tmp_path, "run", attempt, steps=20, step_s=0.2)

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(sup.run, {"run": factory}, None, 180)
        _wait_until(
            lambda: (tmp_path / "run" / "restart" / "step_000004.json").exists(),
            60,
            "the model to checkpoint",
        )
        job_id = JobLedger(tmp_path / "jobs.json").get("run").attempts[0].job_id
        _fail_node(kind, tmp_path, job_id)
        out = future.result()["run"]

    assert out.state == JobState.COMPLETED, out
    assert _attempt_states(tmp_path, "run") == ["NODE_FAIL", "COMPLETED"]
    assert _resumed_from(tmp_path / "run" / "model.1.log") >= 4
    assert toy.result(tmp_path, "run") == {"steps": 20, "total": 210}
    # the interrupted attempt did not finish behind the new one's back
    assert "done" not in (tmp_path / "run" / "model.0.log").read_text()


def test_infrastructure_failures_beyond_the_limit_stop_the_run(tmp_path, toy):
    """max_resubmits_infra=0: one lost job ends the task NODE_FAIL, with its log tail."""
    sched = LocalScheduler(tmp_path, 2)
    sup = Supervisor(
        sched, JobLedger(tmp_path / "jobs.json"), RetryPolicy(max_resubmits_infra=0), poll_s=0.1
    )
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(
            sup.run,
            {"run": lambda n: toy.spec(tmp_path, "run", n, steps=50, step_s=0.1)},
            None,
            60,
        )
        _wait_until(
            lambda: (tmp_path / "run" / "restart" / "step_000002.json").exists(),
            30,
            "the model to checkpoint",
        )
        _fail_node("local", tmp_path, JobLedger(tmp_path / "jobs.json").get("run").last.job_id)
        out = future.result()["run"]
    assert out.state == JobState.NODE_FAIL
    assert len(out.job_ids) == 1
    assert re.search(r"step \d+ total \d+", out.log_tail), out.log_tail
    assert "runner died" in out.reason
