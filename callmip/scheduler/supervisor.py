"""Submit, re-attach, watch and recover batch jobs according to the campaign's failure policy.

The supervisor is what makes runs survive failures and orchestrator restarts. For each task key it
consults the :class:`JobLedger` first:

* no attempt yet -> submit;
* last attempt PENDING/RUNNING -> re-attach (poll it; never submit a duplicate);
* last attempt COMPLETED -> nothing to do, ever;
* TIMEOUT -> resubmit (the task's spec factory restarts from the newest restart file);
* NODE_FAIL / PREEMPTED / OUT_OF_MEMORY -> resubmit up to ``max_resubmits_infra``;
* FAILED -> resubmit alone up to ``max_resubmits_failed`` (default 0), then stop that task (the
  model said no), report its log tail; CANCELLED -> stop. Other tasks carry on, and tasks
  depending on a stopped one end CANCELLED without being submitted.

A task's spec is produced by a factory called with the attempt number, so a resubmission can pick
the newest restart and a fresh log name. Members of an ensemble can be declared as
:class:`ArrayTasks`: their first submission is one job array, a resubmission is a single job.

Every submission is first recorded in the ledger as an *intent* carrying a unique tag that the
job is submitted with; a crash between the batch system accepting a job and the ledger recording
its id is then resolved by :meth:`Scheduler.find_tagged` on restart, not by a second submission.

Each poll cycle makes one ``poll`` call for all live jobs and one ledger write, so the cost per
job stays small for large ensembles. Dependencies are resolved here (a task is submitted once its
dependencies completed), which keeps the policy identical on every backend.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from callmip.scheduler.base import (
    JobSpec,
    JobSpecError,
    JobState,
    JobStatus,
    Scheduler,
    SchedulerError,
)
from callmip.scheduler.ledger import JobLedger

log = logging.getLogger(__name__)

SpecFactory = Callable[[int], JobSpec]

RESUBMIT_ON_TIMEOUT = {JobState.TIMEOUT}
RESUBMIT_ON_INFRA = {JobState.NODE_FAIL, JobState.PREEMPTED, JobState.OUT_OF_MEMORY}
#: Submission attempts that raise :class:`SchedulerError` before the task is given up.
MAX_SUBMIT_ERRORS = 3


class RetryPolicy(BaseModel):
    """How many times a task is resubmitted after each kind of failure."""

    model_config = ConfigDict(extra="forbid")

    max_resubmits_timeout: int = Field(5, ge=0, le=100, description="resubmits after TIMEOUT")
    max_resubmits_infra: int = Field(
        2, ge=0, le=100, description="resubmits after NODE_FAIL, PREEMPTED or OUT_OF_MEMORY"
    )
    max_resubmits_failed: int = Field(
        0, ge=0, le=100,
        description="resubmits after FAILED (the model itself failed; a land chunk or an "
        "ensemble member is resubmitted alone, the others keep their results)",
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


@dataclass(frozen=True)
class ArrayTasks:
    """Tasks submitted together as one job array (an ensemble, a scenario matrix).

    ``keys[i]`` is the task key of member ``i``. ``template(attempt)`` gives a spec whose argv,
    env values, workdir and log path may contain ``{array_index}``. ``member(i, attempt)``, if
    given, builds the single-job spec used when member ``i`` alone must be resubmitted (so it can
    pick that member's own newest restart); by default it is the template with ``i`` filled in.
    """

    keys: Sequence[str]
    template: SpecFactory
    member: Callable[[int, int], JobSpec] | None = None
    max_parallel: int | None = None

    def factory(self, index: int) -> SpecFactory:
        if self.member is not None:
            member = self.member
            return lambda attempt: member(index, attempt)
        return lambda attempt: self.template(attempt).for_index(index)


def log_tail(path: str | Path, lines: int = 20) -> str:
    """The last lines of a job log (what a user needs to see when a model run fails)."""
    p = Path(path)
    if not p.exists():
        return f"(no log at {p})"
    with open(p, errors="replace") as fh:
        return "".join(deque(fh, maxlen=lines))


def _new_tag() -> str:
    return f"cm-{uuid.uuid4().hex[:16]}"


class Supervisor:
    """Drives tasks to a final state through a scheduler, persisting every step in a ledger.

    ``lost_after_s``: a job the backend no longer knows (UNKNOWN) for this long is treated as a
    NODE_FAIL (lost with its node or the controller's state). ``scheduler_down_s``: how long
    ``poll`` may keep failing (controller restarting...) before :meth:`run` gives up.
    ``ledger_flush_s``: polled state changes are written to the ledger at most this often
    (submissions are written at once; a state not yet written is simply polled again after a
    restart), which keeps large ensembles cheap.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        ledger: JobLedger,
        policy: RetryPolicy | None = None,
        poll_s: float = 1.0,
        on_change: Callable[[str, JobState, str], None] | None = None,
        lost_after_s: float = 600.0,
        scheduler_down_s: float = 1800.0,
        ledger_flush_s: float = 2.0,
    ) -> None:
        self.scheduler = scheduler
        self.ledger = ledger
        self.policy = policy or RetryPolicy()
        self.poll_s = poll_s
        self.on_change = on_change
        self.lost_after_s = lost_after_s
        self.scheduler_down_s = scheduler_down_s
        self.ledger_flush_s = ledger_flush_s
        self._unknown_since: dict[str, float] = {}
        self._submit_errors: dict[str, int] = {}

    # ---- submission ---------------------------------------------------------------------------

    def _attempt_number(self, key: str) -> int:
        rec = self.ledger.get(key)
        return len(rec.attempts) if rec else 0

    def _record(
        self, key: str, job_id: str, log_path: Path | str, attempt: int, verb: str = "submitted"
    ) -> None:
        self.ledger.record_submission(key, job_id, self.scheduler.name, Path(log_path))
        log.info("%s %s as job %s (attempt %d)", verb, key, job_id, attempt + 1)
        if self.on_change:
            self.on_change(key, JobState.PENDING, job_id)

    def _submit(self, key: str, factory: SpecFactory, depends_on: Sequence[str] = ()) -> str:
        """Submit one task now (intent first, made durable, then the job, then its id)."""
        attempt = self._attempt_number(key)
        spec = replace(factory(attempt), tag=_new_tag())
        if depends_on:
            spec = replace(spec, depends_on=tuple(depends_on))
        self.ledger.record_intent(key, spec.tag, None, spec.log_path)
        self.ledger.flush()
        job_id = self.scheduler.submit(spec)
        self._record(key, job_id, spec.log_path, attempt)
        return job_id

    def _submit_many(
        self,
        singles: Sequence[str],
        groups: Sequence[tuple[ArrayTasks, list[int]]],
        factories: Mapping[str, SpecFactory],
        outcomes: dict[str, TaskOutcome],
    ) -> None:
        """Submit single tasks and array groups: all intents in one durable write first."""
        planned: list[tuple[str, JobSpec, int]] = []
        for key in singles:
            attempt = self._attempt_number(key)
            try:
                spec = replace(factories[key](attempt), tag=_new_tag())
            except Exception as exc:  # one run's bad input must not stop the rest
                log.exception("%s: could not build its job", key)
                self._give_up(key, outcomes, f"could not build the job: {exc!r}")
                continue
            self.ledger.record_intent(key, spec.tag, None, spec.log_path)
            planned.append((key, spec, attempt))
        planned_groups: list[tuple[ArrayTasks, list[int], JobSpec]] = []
        for group, indices in groups:
            try:
                template = replace(group.template(0), tag=_new_tag())
            except Exception as exc:  # one ensemble's bad input: not the rest
                log.exception("%s: could not build its job array", group.keys[0])
                for i in indices:
                    self._give_up(group.keys[i], outcomes, f"could not build the job: {exc!r}")
                continue
            for i in indices:
                member_log = template.for_index(i).log_path
                self.ledger.record_intent(group.keys[i], template.tag, i, member_log)
            planned_groups.append((group, indices, template))
        self.ledger.flush()

        for key, spec, attempt in planned:
            try:
                job_id = self.scheduler.submit(spec)
            except JobSpecError as exc:
                self.ledger.clear_intent(key)
                self._give_up(key, outcomes, f"invalid job: {exc}")
                continue
            except SchedulerError as exc:
                self._submission_failed([key], exc, outcomes)
                continue
            self._record(key, job_id, spec.log_path, attempt)
        for group, indices, template in planned_groups:
            keys = [group.keys[i] for i in indices]
            try:
                job_ids = self.scheduler.submit_array(template, indices, group.max_parallel)
            except JobSpecError as exc:
                for key in keys:
                    self.ledger.clear_intent(key)
                    self._give_up(key, outcomes, f"invalid job: {exc}")
                continue
            except SchedulerError as exc:
                self._submission_failed(keys, exc, outcomes)
                continue
            for i, key, job_id in zip(indices, keys, job_ids, strict=True):
                self._record(key, job_id, template.for_index(i).log_path, 0)
        self.ledger.flush()  # job ids on disk now, not at the end of the poll cycle

    def _submission_failed(
        self, keys: Sequence[str], exc: Exception, outcomes: dict[str, TaskOutcome]
    ) -> None:
        """Keep the intent (the job may exist after all); give up after repeated errors."""
        for key in keys:
            n = self._submit_errors[key] = self._submit_errors.get(key, 0) + 1
            log.warning("%s: submission failed (%d/%d): %s", key, n, MAX_SUBMIT_ERRORS, exc)
            if n >= MAX_SUBMIT_ERRORS:
                self._give_up(key, outcomes, f"submission failed: {exc}")

    def _give_up(self, key: str, outcomes: dict[str, TaskOutcome], reason: str) -> None:
        rec = self.ledger.get(key)
        job_ids = [a.job_id for a in rec.attempts] if rec else []
        log.error("%s: %s", key, reason)
        outcomes[key] = TaskOutcome(key, JobState.FAILED, job_ids, reason=reason)

    def _resolve_intents(self, keys: Sequence[str]) -> None:
        """After a crash: attach to jobs submitted but not recorded, forget ones never made."""
        intents = {}
        for key in keys:
            rec = self.ledger.get(key)
            if rec is not None and rec.intent is not None:
                intents[key] = rec.intent
        if not intents:
            return
        found = self.scheduler.find_tagged(sorted({i.tag for i in intents.values()}))
        for key, intent in intents.items():
            job_id = found.get(intent.tag, {}).get(intent.index)
            if job_id is None:
                log.info("%s: interrupted submission %s never reached the backend", key, intent.tag)
                self.ledger.clear_intent(key)
            else:
                self._record(
                    key,
                    job_id,
                    intent.log_path,
                    self._attempt_number(key),
                    verb="re-attached (submitted before an interruption)",
                )

    def ensure_submitted(
        self, key: str, factory: SpecFactory, depends_on: Sequence[str] = ()
    ) -> str:
        """Return the job id serving ``key``: the existing one if alive or done, else a new one.

        ``depends_on`` are backend job ids the new job waits for (``afterok``)."""
        self._resolve_intents([key])
        rec = self.ledger.get(key)
        if (
            rec
            and rec.last
            and JobState(rec.last.state)
            in (
                JobState.PENDING,
                JobState.RUNNING,
                JobState.UNKNOWN,
                JobState.COMPLETED,
            )
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
        if state == JobState.FAILED:
            n = sum(JobState(a.state) == JobState.FAILED for a in rec.attempts)
            return n <= self.policy.max_resubmits_failed
        return False

    # ---- the loop -----------------------------------------------------------------------------

    @staticmethod
    def _check_graph(
        tasks: Mapping[str, SpecFactory], depends: Mapping[str, Sequence[str]]
    ) -> None:
        """Refuse dependencies on unknown tasks and cycles (either would wait forever)."""
        for key, deps in depends.items():
            unknown = [d for d in deps if d not in tasks]
            if key not in tasks or unknown:
                raise ValueError(f"dependencies name unknown tasks: {key} -> {unknown or deps}")
        waiting = {key: len(set(depends.get(key, ()))) for key in tasks}
        dependants: dict[str, list[str]] = {}
        for key in tasks:
            for dep in set(depends.get(key, ())):
                dependants.setdefault(dep, []).append(key)
        ready = [key for key, n in waiting.items() if n == 0]
        while ready:
            for key in dependants.get(ready.pop(), ()):
                waiting[key] -= 1
                if waiting[key] == 0:
                    ready.append(key)
        stuck = sorted(key for key, n in waiting.items() if n > 0)
        if stuck:
            raise ValueError(f"dependency cycle among tasks: {stuck}")

    def run(
        self,
        factories: Mapping[str, SpecFactory],
        depends: Mapping[str, Sequence[str]] | None = None,
        timeout_s: float | None = None,
        arrays: Sequence[ArrayTasks] = (),
    ) -> dict[str, TaskOutcome]:
        """Drive every task to a final state; return outcomes. Dependencies are task keys.

        A task whose dependency did not complete is not submitted and ends CANCELLED.
        ``arrays`` adds ensemble members (their keys must not also be in ``factories``).
        """
        tasks: dict[str, SpecFactory] = dict(factories)
        member_of: dict[str, tuple[ArrayTasks, int]] = {}
        for group in arrays:
            for i, key in enumerate(group.keys):
                if key in tasks:
                    raise ValueError(f"task {key} is declared twice")
                tasks[key] = group.factory(i)
                member_of[key] = (group, i)
        depends = depends or {}
        self._check_graph(tasks, depends)
        outcomes: dict[str, TaskOutcome] = {}
        try:
            self._drive(tasks, member_of, depends, timeout_s, outcomes)
        finally:
            if self.ledger.dirty:
                self.ledger.flush()
        return {key: outcomes[key] for key in tasks}

    def _drive(
        self,
        tasks: Mapping[str, SpecFactory],
        member_of: Mapping[str, tuple[ArrayTasks, int]],
        depends: Mapping[str, Sequence[str]],
        timeout_s: float | None,
        outcomes: dict[str, TaskOutcome],
    ) -> None:
        """The poll loop of :meth:`run`: fills ``outcomes`` until every task has one."""
        start = time.monotonic()
        pending = list(tasks)
        poll_failing_since: float | None = None
        while pending:
            hurry = False
            with self.ledger.batch(min_interval_s=self.ledger_flush_s):
                try:
                    self._resolve_intents(pending)
                except SchedulerError as exc:
                    log.warning("cannot check interrupted submissions yet: %s", exc)
                first: list[str] = []
                again: list[str] = []
                live: dict[str, str] = {}
                for key in pending:
                    if key in outcomes:
                        continue
                    deps = depends.get(key, ())
                    failed = [
                        d for d in deps if d in outcomes and outcomes[d].state != JobState.COMPLETED
                    ]
                    if failed:
                        outcomes[key] = TaskOutcome(
                            key, JobState.CANCELLED, reason=f"dependency did not complete: {failed}"
                        )
                        hurry = True
                        continue
                    if any(d not in outcomes for d in deps):
                        continue  # wait for dependencies to finish before submitting
                    rec = self.ledger.get(key)
                    if rec is not None and rec.intent is not None:
                        continue  # unresolved (find_tagged failed): try again next cycle
                    if rec is None or rec.last is None:
                        first.append(key)
                        continue
                    state = JobState(rec.last.state)
                    if not state.finished:
                        live[key] = rec.last.job_id
                    elif state == JobState.COMPLETED or not self._may_resubmit(key):
                        outcomes[key] = self._outcome(key)
                        hurry = True
                    else:
                        log.warning(
                            "%s: job %s ended %s; resubmitting", key, rec.last.job_id, state
                        )
                        again.append(key)

                groups: dict[int, tuple[ArrayTasks, list[int]]] = {}
                singles = list(again)
                for key in first:
                    if key in member_of:
                        group, i = member_of[key]
                        groups.setdefault(id(group), (group, []))[1].append(i)
                    else:
                        singles.append(key)
                if singles or groups:
                    self._submit_many(singles, list(groups.values()), tasks, outcomes)
                    for key in [*singles, *first]:
                        rec = self.ledger.get(key)
                        if key not in outcomes and rec and rec.last and rec.intent is None:
                            live[key] = rec.last.job_id

                if live:
                    try:
                        statuses = self.scheduler.poll(list(live.values()))
                        poll_failing_since = None
                    except SchedulerError as exc:
                        now = time.monotonic()
                        poll_failing_since = poll_failing_since or now
                        if now - poll_failing_since > self.scheduler_down_s:
                            raise
                        log.warning("poll failed (will retry): %s", exc)
                        statuses = {}
                    for key, job_id in live.items():
                        if job_id in statuses:
                            hurry |= self._observe(key, job_id, statuses[job_id])
                pending = [k for k in pending if k not in outcomes]
            if pending and not hurry:
                if timeout_s is not None and time.monotonic() - start > timeout_s:
                    raise TimeoutError(f"tasks still running after {timeout_s} s: {pending}")
                time.sleep(self.poll_s)

    def _observe(self, key: str, job_id: str, status: JobStatus) -> bool:
        """Record a polled status; True if the task just finished (act on it without sleeping)."""
        rec = self.ledger.get(key)
        assert rec is not None and rec.last is not None
        previous = JobState(rec.last.state)
        state, code, reason = status.state, status.exit_code, status.reason
        if state == JobState.UNKNOWN:
            since = self._unknown_since.setdefault(job_id, time.monotonic())
            if time.monotonic() - since < self.lost_after_s:
                return False  # keep the last known state; the backend may just be slow
            state, reason = JobState.NODE_FAIL, f"job {job_id} vanished from {self.scheduler.name}"
        else:
            self._unknown_since.pop(job_id, None)
        self.ledger.update(key, state, code, reason)
        if state != previous:
            log.debug("%s: job %s %s -> %s", key, job_id, previous, state)
            if self.on_change:
                self.on_change(key, state, job_id)
        return state.finished

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
