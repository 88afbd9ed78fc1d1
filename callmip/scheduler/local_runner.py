"""The process that babysits one local job: dependencies, a CPU slot, the walltime, the result.

It runs detached from the orchestrator (its own session), so a job survives the orchestrator being
killed, exactly like a batch job does. All its state is files in the job directory:
``state`` (PENDING/RUNNING), ``child.pid`` and, once done, ``result.json`` written atomically.
Run as ``python .../local_runner.py <job_dir>`` (stdlib only, so it starts fast).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from callmip import atomic

POLL_S = 0.05


def _write(path: Path, text: str) -> None:
    atomic.write_text(path, text)


def _finish(job_dir: Path, state: str, exit_code: int | None, reason: str = "") -> None:
    _write(
        job_dir / "result.json",
        json.dumps({"state": state, "exit_code": exit_code, "reason": reason, "end": time.time()}),
    )


def _wait_dependencies(job_dir: Path, deps: list[str]) -> str | None:
    """Block until every dependency finished; return a reason if one did not complete."""
    for dep in deps:
        result = Path(dep) / "result.json"
        while not result.exists():
            time.sleep(POLL_S)
        state = json.loads(result.read_text())["state"]
        if state != "COMPLETED":
            return f"dependency {Path(dep).name} ended {state}"
    return None


def _acquire_slot(slots_dir: Path, n_slots: int):
    """Hold one of ``n_slots`` lock files: a crash releases it, so slots never leak."""
    slots_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for i in range(n_slots):
            handle = open(slots_dir / f"slot{i}.lock", "w")  # noqa: SIM115 - held for job life
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return handle
            except BlockingIOError:
                handle.close()
        time.sleep(POLL_S)


def main(job_dir_arg: str) -> int:
    job_dir = Path(job_dir_arg)
    # First thing: prove this job was started (the submitter may be killed before it writes it).
    _write(job_dir / "runner.pid", str(os.getpid()))
    spec = json.loads((job_dir / "spec.json").read_text())
    child: subprocess.Popen | None = None
    cancelled = False

    def on_term(signum, frame):  # pragma: no cover - exercised through the scheduler tests
        nonlocal cancelled
        cancelled = True
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
        else:
            _finish(job_dir, "CANCELLED", None, "cancelled before start")
            os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    if (job_dir / "cancel").exists():  # cancelled before this process could catch the signal
        _finish(job_dir, "CANCELLED", None, "cancelled before start")
        return 0
    _write(job_dir / "state", "PENDING")
    reason = _wait_dependencies(job_dir, spec["depends_on"])
    if reason:
        _finish(job_dir, "CANCELLED", None, reason)
        return 0
    slot = _acquire_slot(Path(spec["slots_dir"]), int(spec["n_slots"]))
    log_path = Path(spec["log_path"])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **spec["env"]}
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            spec["argv"],
            cwd=spec["workdir"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        _write(job_dir / "child.pid", str(child.pid))
        _write(job_dir / "state", "RUNNING")
        try:
            code = child.wait(timeout=float(spec["walltime_s"]))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
            log.write(b"\n*** local executor: job exceeded its walltime and was killed ***\n")
            _finish(job_dir, "TIMEOUT", None, f"walltime {spec['walltime_s']} s exceeded")
            slot.close()
            return 0
    slot.close()
    if cancelled:
        _finish(job_dir, "CANCELLED", None, "cancelled")
    elif code == 0:
        _finish(job_dir, "COMPLETED", 0)
    else:
        _finish(job_dir, "FAILED", code, f"exit code {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
