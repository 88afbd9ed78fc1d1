"""The embedded backend: runs jobs as detached local processes with batch-job semantics.

Each job gets a directory ``<run_root>/.jobs/<job_id>/`` and a babysitter process
(:mod:`callmip.scheduler.local_runner`) that waits for dependencies, takes one of ``max_parallel``
CPU slots, enforces the walltime (TIMEOUT) and writes the result. Because all state is in files,
a new :class:`LocalScheduler` created after an orchestrator restart sees the same jobs: this is
what lets the orchestrator re-attach instead of resubmitting.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

from callmip.scheduler.base import JobSpec, JobState, JobStatus, Scheduler


class LocalScheduler(Scheduler):
    """Local executor with slots, dependencies, walltime and cancellation."""

    name = "local"

    def __init__(self, run_root: Path, max_parallel: int | None = None) -> None:
        super().__init__(run_root)
        self.max_parallel = max_parallel or max(1, os.cpu_count() or 1)
        self.jobs_dir = self.run_root / ".jobs"

    def _job_dir(self, job_id: str) -> Path:
        if not job_id.startswith("local-") or "/" in job_id:
            raise ValueError(f"not a local job id: {job_id!r}")
        return self.jobs_dir / job_id

    def submit(self, spec: JobSpec) -> str:
        spec.validate(self.run_root)
        job_id = f"local-{uuid.uuid4().hex[:12]}"
        job_dir = self._job_dir(job_id)
        job_dir.mkdir(parents=True)
        payload = {
            "name": spec.name,
            "argv": list(spec.argv),
            "workdir": str(spec.workdir),
            "log_path": str(spec.log_path),
            "env": dict(spec.env),
            "walltime_s": spec.resources.walltime_min * 60,
            "depends_on": [str(self._job_dir(d)) for d in spec.depends_on],
            "slots_dir": str(self.jobs_dir / "slots"),
            "n_slots": self.max_parallel,
        }
        (job_dir / "spec.json").write_text(json.dumps(payload, indent=1))
        Path(spec.workdir).mkdir(parents=True, exist_ok=True)
        with open(job_dir / "runner.log", "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "callmip.scheduler.local_runner", str(job_dir)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        (job_dir / "runner.pid").write_text(str(proc.pid))
        return job_id

    @staticmethod
    def _alive(pid: int) -> bool:
        with contextlib.suppress(ChildProcessError):
            # Reap our own finished children so they do not linger as zombies.
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _status(self, job_id: str) -> JobStatus:
        try:
            job_dir = self._job_dir(job_id)
        except ValueError:
            return JobStatus(job_id, JobState.UNKNOWN, reason="not a local job id")
        result = job_dir / "result.json"
        if result.exists():
            data = json.loads(result.read_text())
            return JobStatus(job_id, JobState(data["state"]), data["exit_code"], data["reason"])
        pid_file = job_dir / "runner.pid"
        if not pid_file.exists():
            return JobStatus(job_id, JobState.UNKNOWN, reason="no such job")
        if not self._alive(int(pid_file.read_text())):
            if result.exists():  # finished between the two checks
                return self._status(job_id)
            if (job_dir / "cancel").exists():
                return JobStatus(job_id, JobState.CANCELLED, reason="cancelled")
            return JobStatus(job_id, JobState.NODE_FAIL, reason="job runner died without a result")
        state_file = job_dir / "state"
        state = state_file.read_text().strip() if state_file.exists() else "PENDING"
        return JobStatus(job_id, JobState(state))

    def poll(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        return {job_id: self._status(job_id) for job_id in job_ids}

    def cancel(self, job_id: str) -> None:
        job_dir = self._job_dir(job_id)
        (job_dir / "cancel").touch()
        pid_file = job_dir / "runner.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
