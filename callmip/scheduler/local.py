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
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import psutil

from callmip import atomic
from callmip.scheduler.base import JobSpec, JobState, JobStatus, Scheduler, SchedulerError

RUNNER = Path(__file__).with_name("local_runner.py")
#: A job directory whose runner has not written ``runner.pid`` this long after its spec was
#: written was never started (the submitter died between the two): it is removed.
STILLBORN_AFTER_S = 10.0


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

    @staticmethod
    def _job_id(spec: JobSpec) -> str:
        """Tagged submissions get an id derived from the tag, so :meth:`find_tagged` is a lookup."""
        if not spec.tag:
            return f"local-{uuid.uuid4().hex[:12]}"
        suffix = "" if spec.array_index is None else f"_{spec.array_index}"
        return f"local-{spec.tag}{suffix}"

    def submit(self, spec: JobSpec) -> str:
        spec.validate(self.run_root)
        job_id = self._job_id(spec)
        job_dir = self._job_dir(job_id)
        try:
            job_dir.mkdir(parents=True)
        except FileExistsError as exc:
            raise SchedulerError(f"local job {job_id} already exists in {self.jobs_dir}") from exc
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
        atomic.write_text(job_dir / "spec.json", json.dumps(payload, indent=1))
        Path(spec.workdir).mkdir(parents=True, exist_ok=True)
        with open(job_dir / "runner.log", "wb") as out:
            proc = subprocess.Popen(
                # Run the file, not ``-m``: the package import (pydantic...) would slow each
                # job's start and add to each babysitter's memory; the runner is stdlib only.
                [sys.executable, str(RUNNER), str(job_dir)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        atomic.write_text(job_dir / "runner.pid", str(proc.pid))
        return job_id

    @staticmethod
    def _alive(pid_file: Path) -> bool:
        """Is the process named in ``pid_file`` still running? A pid the OS has since given to a
        newer process does not count (its start time is after the pid file was written)."""
        pid = int(pid_file.read_text())
        with contextlib.suppress(ChildProcessError):
            # Reap our own finished children so they do not linger as zombies.
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return False
        try:
            proc = psutil.Process(pid)
            started = proc.create_time()
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False
        return started <= pid_file.stat().st_mtime + 1.0

    def _bury(self, job_dir: Path, state: JobState, reason: str) -> None:
        """Record the end of a job whose runner died: stop its orphaned model process (it would
        otherwise keep writing next to a resubmission) and write the final result."""
        child_pid = job_dir / "child.pid"
        if child_pid.exists() and self._alive(child_pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(child_pid.read_text()), signal.SIGKILL)
        payload = {"state": state.value, "exit_code": None, "reason": reason, "end": time.time()}
        atomic.write_text(job_dir / "result.json", json.dumps(payload))

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
        if not self._alive(pid_file):
            if result.exists():  # finished between the two checks
                return self._status(job_id)
            if (job_dir / "cancel").exists():
                self._bury(job_dir, JobState.CANCELLED, "cancelled")
            else:
                self._bury(job_dir, JobState.NODE_FAIL, "job runner died without a result")
            return self._status(job_id)
        state_file = job_dir / "state"
        state = state_file.read_text().strip() if state_file.exists() else "PENDING"
        return JobStatus(job_id, JobState(state))

    def poll(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        return {job_id: self._status(job_id) for job_id in job_ids}

    def find_tagged(self, tags: Sequence[str]) -> dict[str, dict[int | None, str]]:
        """Jobs whose runner was started (it writes ``runner.pid`` first thing).

        A directory with a spec but no runner may be a job whose runner is still starting, or
        one whose submitter was killed before starting it: wait until it is
        :data:`STILLBORN_AFTER_S` old to tell, then remove the stillborn one."""
        found: dict[str, dict[int | None, str]] = {}
        for tag in tags:
            for job_dir in self.jobs_dir.glob(f"local-{tag}*"):
                rest = job_dir.name[len(f"local-{tag}") :]
                if rest and not (rest.startswith("_") and rest[1:].isdigit()):
                    continue  # another tag that merely starts with this one
                if self._started(job_dir):
                    index = int(rest[1:]) if rest else None
                    found.setdefault(tag, {})[index] = job_dir.name
        return found

    @staticmethod
    def _started(job_dir: Path) -> bool:
        def started() -> bool:
            return (job_dir / "runner.pid").exists() or (job_dir / "result.json").exists()

        spec = job_dir / "spec.json"
        while not started():
            try:
                age = time.time() - spec.stat().st_mtime
            except FileNotFoundError:
                age = STILLBORN_AFTER_S  # not even a spec: certainly never started
            if age >= STILLBORN_AFTER_S:
                shutil.rmtree(job_dir, ignore_errors=True)
                return False
            time.sleep(0.1)
        return True

    def cancel(self, job_id: str) -> None:
        job_dir = self._job_dir(job_id)
        (job_dir / "cancel").touch()
        pid_file = job_dir / "runner.pid"
        if pid_file.exists() and self._alive(pid_file):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
