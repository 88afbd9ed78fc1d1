"""A persisted record of every job the orchestrator submitted, keyed by task.

Long model runs outlive the orchestrator. The ledger (``<run_dir>/jobs.json``) is the single place
that says which job id belongs to which task (``run_id`` + segment) and what state it was last seen
in, so that a restarted orchestrator re-attaches to queued or running jobs and never resubmits work
that finished. Every write goes to a temporary file that is then renamed over the old one, so a kill
mid-write leaves the previous ledger intact.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from callmip.scheduler.base import JobState


@dataclass
class Attempt:
    """One submission of a task."""

    job_id: str
    backend: str
    submitted_at: float
    state: str = JobState.PENDING.value
    exit_code: int | None = None
    finished_at: float | None = None
    log_path: str = ""
    reason: str = ""


@dataclass
class TaskRecord:
    """All attempts of one task (a model run segment, a spin-up cycle...)."""

    key: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


class JobLedger:
    """Task key -> attempts, stored as JSON in the run directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._tasks: dict[str, TaskRecord] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        raw = json.loads(self.path.read_text())
        for key, rec in raw.get("tasks", {}).items():
            self._tasks[key] = TaskRecord(key, [Attempt(**a) for a in rec["attempts"]])

    def save(self) -> None:
        """Write atomically: temp file in the same directory, then rename."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "tasks": {
                k: {"attempts": [asdict(a) for a in rec.attempts]} for k, rec in self._tasks.items()
            }
        }
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(payload, indent=1, sort_keys=True))
        os.replace(tmp, self.path)

    def get(self, key: str) -> TaskRecord | None:
        return self._tasks.get(key)

    def tasks(self) -> list[TaskRecord]:
        return list(self._tasks.values())

    def record_submission(self, key: str, job_id: str, backend: str, log_path: Path) -> Attempt:
        rec = self._tasks.setdefault(key, TaskRecord(key))
        attempt = Attempt(job_id, backend, time.time(), log_path=str(log_path))
        rec.attempts.append(attempt)
        self.save()
        return attempt

    def update(
        self, key: str, state: JobState, exit_code: int | None = None, reason: str = ""
    ) -> None:
        rec = self._tasks[key]
        attempt = rec.attempts[-1]
        if attempt.state == state.value and attempt.exit_code == exit_code:
            return
        attempt.state = state.value
        attempt.exit_code = exit_code
        attempt.reason = reason
        if state.finished and attempt.finished_at is None:
            attempt.finished_at = time.time()
        self.save()

    def submissions(self) -> int:
        """Total number of submissions ever recorded (used to prove no duplicate submits)."""
        return sum(len(r.attempts) for r in self._tasks.values())
