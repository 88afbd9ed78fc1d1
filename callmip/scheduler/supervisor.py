"""Submit, re-attach, watch and recover batch jobs according to the campaign's failure policy.

The supervisor is what makes runs survive failures and orchestrator restarts. For each task key it
consults the :class:`JobLedger` first:

* no attempt yet -> submit;
* last attempt PENDING/RUNNING -> re-attach (poll it; never submit a duplicate);
* last attempt COMPLETED -> nothing to do, ever;
* TIMEOUT -> resubmit (the task's spec factory restarts from the newest restart file);
* NODE_FAIL / PREEMPTED / OUT_OF_MEMORY -> resubmit up to ``max_resubmits``;
* FAILED / CANCELLED -> stop that task (the model said no); other tasks carry on.

A task's spec is produced by a factory called with the attempt number, so a resubmission can pick
the newest restart and a fresh log name.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from callmip.scheduler.base import JobSpec, JobState, Scheduler
from callmip.scheduler.ledger import JobLedger

log = logging.getLogger(__name__)

SpecFactory = Callable[[int], JobSpec]

RESUBMIT_ON_TIMEOUT = {JobState.TIMEOUT}
RESUBMIT_ON_INFRA = {JobState.NODE_FAIL, JobState.PREEMPTED, JobState.OUT_OF_MEMORY}


class RetryPolicy(BaseModel):
    """How many times a task is resubmitted after each kind of failure."""

    model_config = ConfigDict(extra="forbid")

    max_resubmits_timeout: int = Field(5, ge=0, le=100, description="resubmits after TIMEOUT")
    max_resubmits_infra: int = Field(
        2, ge=0, le=100, description="resubmits after NODE_FAIL, PREEMPTED or OUT_OF_MEMORY"
    )


@dataclass
class TaskOutcome:
    """The final word on one task, for Prefect and the report."""

    key: str
    state: JobState
    job_ids: list[str] = field(default_factory=list)
    exit_code: int | None = None
    reason: str = ""
    log_tail: str = ""
    wall_s: float | None = None


def log_tail(path: str | Path, lines: int = 20) -> str:
    """The last lines of a job log (what a user needs to see when a model run fails)."""
    p = Path(path)
    if not p.exists():
        return f"(no log at {p})"
    with open(p, errors="replace") as fh:
        return "".join(deque(fh, maxlen=lines))


class Supervisor:
    """Drives tasks to a final state through a scheduler, persisting every step in a ledger."""

    def __init__(
        self,
        scheduler: Scheduler,
        ledger: JobLedger,
        policy: RetryPolicy | None = None,
        poll_s: float = 1.0,
        on_change: Callable[[str, JobState, str], None] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.ledger = ledger
        self.policy = policy or RetryPolicy()
        self.poll_s = poll_s
        self.on_change = on_change

    def _submit(self, key: str, factory: SpecFactory, depends_on: Sequence[str]) -> str:
        rec = self.ledger.get(key)
        attempt = len(rec.attempts) if rec else 0
        spec = factory(attempt)
        if depends_on:
            spec = JobSpec(**{**spec.__dict__, "depends_on": tuple(depends_on)})
        job_id = self.scheduler.submit(spec)
        self.ledger.record_submission(key, job_id, self.scheduler.name, spec.log_path)
        log.info("submitted %s as job %s (attempt %d)", key, job_id, attempt + 1)
        if self.on_change:
            self.on_change(key, JobState.PENDING, job_id)
        return job_id

    def ensure_submitted(
        self, key: str, factory: SpecFactory, depends_on: Sequence[str] = ()
    ) -> str:
        """Return the job id serving ``key``: the existing one if alive or done, else a new one."""
        rec = self.ledger.get(key)
        if rec and rec.last and JobState(rec.last.state) in (
            JobState.PENDING,
            JobState.RUNNING,
            JobState.UNKNOWN,
            JobState.COMPLETED,
        ):
            return rec.last.job_id
        if rec and rec.last and not self._may_resubmit(key):
            return rec.last.job_id
        return self._submit(key, factory, depends_on)

    def _may_resubmit(self, key: str) -> bool:
        rec = self.ledger.get(key)
        assert rec is not None and rec.last is not None
        state = JobState(rec.last.state)
        if state in RESUBMIT_ON_TIMEOUT:
            n = sum(JobState(a.state) in RESUBMIT_ON_TIMEOUT for a in rec.attempts)
            return n <= self.policy.max_resubmits_timeout
        if state in RESUBMIT_ON_INFRA:
            n = sum(JobState(a.state) in RESUBMIT_ON_INFRA for a in rec.attempts)
            return n <= self.policy.max_resubmits_infra
        return False

    def run(
        self,
        factories: Mapping[str, SpecFactory],
        depends: Mapping[str, Sequence[str]] | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, TaskOutcome]:
        """Drive every task to a final state; return outcomes. Dependencies are task keys.

        A task whose dependency did not complete is not submitted and ends CANCELLED.
        """
        depends = depends or {}
        start = time.monotonic()
        pending = list(factories)
        outcomes: dict[str, TaskOutcome] = {}
        while pending:
            for key in list(pending):
                deps = depends.get(key, ())
                dep_out = [outcomes.get(d) for d in deps]
                if any(o is not None and o.state != JobState.COMPLETED for o in dep_out):
                    bad = [d for d, o in zip(deps, dep_out, strict=True) if o and o.state]
                    outcomes[key] = TaskOutcome(
                        key, JobState.CANCELLED, reason=f"dependency did not complete: {bad}"
                    )
                    pending.remove(key)
                    continue
                if any(o is None for o in dep_out):
                    continue  # wait for dependencies to finish before submitting
                job_id = self.ensure_submitted(key, factories[key])
                status = self.scheduler.poll([job_id])[job_id]
                rec = self.ledger.get(key)
                assert rec is not None and rec.last is not None
                if status.state != JobState(rec.last.state) or status.state.finished:
                    self.ledger.update(key, status.state, status.exit_code, status.reason)
                    if self.on_change and status.state != JobState(rec.last.state):
                        self.on_change(key, status.state, job_id)
                if not status.state.finished:
                    continue
                if status.state == JobState.COMPLETED:
                    outcomes[key] = self._outcome(key)
                    pending.remove(key)
                elif self._may_resubmit(key):
                    log.warning("%s: job %s ended %s; resubmitting", key, job_id, status.state)
                    self._submit(key, factories[key], ())
                else:
                    outcomes[key] = self._outcome(key)
                    pending.remove(key)
            if pending:
                if timeout_s is not None and time.monotonic() - start > timeout_s:
                    raise TimeoutError(f"tasks still running after {timeout_s} s: {pending}")
                time.sleep(self.poll_s)
        return outcomes

    def _outcome(self, key: str) -> TaskOutcome:
        rec = self.ledger.get(key)
        assert rec is not None and rec.last is not None
        last = rec.last
        state = JobState(last.state)
        wall = last.finished_at - rec.attempts[0].submitted_at if last.finished_at else None
        tail = "" if state == JobState.COMPLETED else log_tail(last.log_path)
        return TaskOutcome(
            key,
            state,
            [a.job_id for a in rec.attempts],
            last.exit_code,
            last.reason,
            tail,
            wall,
        )
