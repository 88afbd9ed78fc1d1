"""A persisted record of every job the orchestrator submitted, keyed by task.

Long model runs outlive the orchestrator. The ledger (``<run_dir>/jobs.json``) is the single place
that says which job id belongs to which task (``run_id`` + segment) and what state it was last seen
in, so that a restarted orchestrator re-attaches to queued or running jobs and never resubmits work
that finished. Every write goes to a temporary file that is then renamed over the old one, so a kill
mid-write leaves the previous ledger intact.

Submitting is two steps that a kill can separate: the batch system accepts the job, then the
ledger records its id. To close that gap the supervisor first records an *intent* (a unique tag
the job is submitted with) and saves; after a crash a leftover intent is resolved by asking the
backend for jobs carrying that tag, so the job is re-attached rather than submitted twice.

:meth:`JobLedger.batch` groups many updates into one file write (one poll cycle of hundreds of
jobs would otherwise rewrite the file hundreds of times); :meth:`JobLedger.flush` forces the write
where durability matters (intents before a submission).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from callmip import atomic
from callmip.scheduler.base import JobState


class LedgerError(ValueError):
    """The ledger file cannot be read (names the file and the problem)."""


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
class Intent:
    """A submission about to be made: the tag it carries and, for an array, the member index."""

    tag: str
    index: int | None
    log_path: str
    at: float


@dataclass
class TaskRecord:
    """All attempts of one task (a model run segment, a spin-up cycle...)."""

    key: str
    attempts: list[Attempt] = field(default_factory=list)
    intent: Intent | None = None

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


class JobLedger:
    """Task key -> attempts, stored as JSON in the run directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._tasks: dict[str, TaskRecord] = {}
        self._batch_depth = 0
        self._dirty = False
        self._last_flush = float("-inf")
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_text())
            for key, rec in raw.get("tasks", {}).items():
                intent = rec.get("intent")
                self._tasks[key] = TaskRecord(
                    key,
                    [Attempt(**a) for a in rec["attempts"]],
                    Intent(**intent) if intent else None,
                )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise LedgerError(f"job ledger {self.path} is unreadable: {exc}") from exc

    # ---- persistence --------------------------------------------------------------------------

    def save(self) -> None:
        """Write now, unless inside :meth:`batch` (then the batch's end writes)."""
        if self._batch_depth:
            self._dirty = True
            return
        self.flush()

    def flush(self) -> None:
        """Write atomically, even inside a batch: temp file in the same directory, then rename.

        One task per line, each encoded by the C JSON encoder: readable, and fast enough to
        rewrite every poll cycle for thousands of tasks (``indent=`` would be ~10x slower)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for key, rec in self._tasks.items():
            entry: dict = {"attempts": [dict(vars(a)) for a in rec.attempts]}
            if rec.intent is not None:
                entry["intent"] = dict(vars(rec.intent))
            lines.append(f"{json.dumps(key)}: {json.dumps(entry)}")
        text = '{"tasks": {\n' + ",\n".join(lines) + "\n}}\n"
        atomic.write_text(self.path, text)
        self._dirty = False
        self._last_flush = time.monotonic()

    @property
    def dirty(self) -> bool:
        """Updates not yet written."""
        return self._dirty

    @contextlib.contextmanager
    def batch(self, min_interval_s: float = 0.0) -> Iterator[JobLedger]:
        """Group updates into one write at the end (also written if the block raises).

        With ``min_interval_s``, the write is skipped if the last one is more recent than that
        (the updates stay pending for a later batch or :meth:`flush`): for state updates that a
        restarted orchestrator would learn again by polling, unlike submissions and intents,
        which callers :meth:`flush` at once."""
        self._batch_depth += 1
        try:
            yield self
        finally:
            self._batch_depth -= 1
            due = time.monotonic() - self._last_flush >= min_interval_s
            if not self._batch_depth and self._dirty and due:
                self.flush()

    # ---- queries ------------------------------------------------------------------------------

    def get(self, key: str) -> TaskRecord | None:
        return self._tasks.get(key)

    def tasks(self) -> list[TaskRecord]:
        return list(self._tasks.values())

    def submissions(self) -> int:
        """Total number of submissions ever recorded (used to prove no duplicate submits)."""
        return sum(len(r.attempts) for r in self._tasks.values())

    # ---- updates ------------------------------------------------------------------------------

    def record_intent(self, key: str, tag: str, index: int | None, log_path: Path) -> None:
        """Note that ``key`` is about to be submitted with ``tag`` (call :meth:`flush` before
        submitting when inside a batch)."""
        rec = self._tasks.setdefault(key, TaskRecord(key))
        rec.intent = Intent(tag, index, str(log_path), time.time())
        self.save()

    def clear_intent(self, key: str) -> None:
        rec = self._tasks.get(key)
        if rec is not None and rec.intent is not None:
            rec.intent = None
            self.save()

    def record_submission(self, key: str, job_id: str, backend: str, log_path: Path) -> Attempt:
        """A new attempt for ``key`` with the backend's job id; resolves any pending intent."""
        rec = self._tasks.setdefault(key, TaskRecord(key))
        attempt = Attempt(job_id, backend, time.time(), log_path=str(log_path))
        rec.attempts.append(attempt)
        rec.intent = None
        self.save()
        return attempt

    def update(
        self, key: str, state: JobState, exit_code: int | None = None, reason: str = ""
    ) -> None:
        rec = self._tasks[key]
        attempt = rec.attempts[-1]
        if (
            attempt.state == state.value
            and attempt.exit_code == exit_code
            and attempt.reason == reason
        ):
            return
        attempt.state = state.value
        attempt.exit_code = exit_code
        attempt.reason = reason
        if state.finished and attempt.finished_at is None:
            attempt.finished_at = time.time()
        self.save()
