"""What a restarted orchestrator decides for each task from the ledger alone, without waiting
for a long job: finished work is never resubmitted, live jobs are re-attached, failures are
resubmitted exactly as often as the retry policy allows, per kind of failure, and a submission
interrupted before it reached the backend is made again.

The scheduler is the real local executor; the ledger states are written as an interrupted
campaign would have left them (the slow kill-and-restart tests in ``test_kill_restart.py``
exercise the same decisions with real killed processes).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callmip.scheduler import JobLedger, JobSpec, JobState, LocalScheduler
from callmip.scheduler.supervisor import RetryPolicy, Supervisor


class Factory:
    """A task's spec factory that counts the submissions it was asked for."""

    def __init__(self, root: Path, key: str) -> None:
        self.root, self.key, self.calls = root, key, 0

    def __call__(self, attempt: int) -> JobSpec:
        self.calls += 1
        return JobSpec(self.key, ("true",), self.root, self.root / f"{self.key}.{attempt}.log")


def _ledger_with(root: Path, key: str, *states: JobState) -> JobLedger:
    """A ledger whose task ``key`` has one finished attempt per state (job ids 100, 101...)."""
    ledger = JobLedger(root / "jobs.json")
    for n, state in enumerate(states):
        ledger.record_submission(key, str(100 + n), "local", root / f"{key}.{n}.log")
        ledger.update(key, state, 0 if state == JobState.COMPLETED else 1, state.value)
    ledger.save()
    return JobLedger(root / "jobs.json")  # read back, as a restarted orchestrator does


def _supervisor(root: Path, ledger: JobLedger, **policy) -> Supervisor:
    return Supervisor(LocalScheduler(root, 2), ledger, RetryPolicy(**policy), poll_s=0.1)


@pytest.mark.parametrize("state", [JobState.COMPLETED, JobState.RUNNING, JobState.PENDING])
def test_finished_or_live_jobs_are_never_resubmitted(tmp_path, state):
    ledger = _ledger_with(tmp_path, "run/seg000", state)
    factory = Factory(tmp_path, "run")
    job_id = _supervisor(tmp_path, ledger).ensure_submitted("run/seg000", factory)
    assert job_id == "100" and factory.calls == 0
    assert ledger.submissions() == 1


@pytest.mark.parametrize(
    ("state", "field"),
    [
        (JobState.TIMEOUT, "max_resubmits_timeout"),
        (JobState.NODE_FAIL, "max_resubmits_infra"),
        (JobState.OUT_OF_MEMORY, "max_resubmits_infra"),
        (JobState.PREEMPTED, "max_resubmits_infra"),
        (JobState.FAILED, "max_resubmits_failed"),
    ],
)
@pytest.mark.parametrize("allowed", [0, 1, 2])
def test_each_kind_of_failure_is_resubmitted_as_often_as_its_policy_allows(
        tmp_path, state, field, allowed):
    """After k failures of one kind, a (k+1)-th attempt is made only while k <= allowed."""
    for failures in range(1, 4):
        root = tmp_path / f"{failures}"
        root.mkdir()
        ledger = _ledger_with(root, "chunk", *([state] * failures))
        factory = Factory(root, "chunk")
        job_id = _supervisor(root, ledger, **{field: allowed}).ensure_submitted("chunk", factory)
        resubmitted = failures <= allowed
        assert factory.calls == int(resubmitted), (state, allowed, failures)
        assert (job_id != str(100 + failures - 1)) == resubmitted
        assert ledger.submissions() == failures + int(resubmitted)


def test_kinds_of_failure_are_counted_separately(tmp_path):
    """Two timeouts do not use up the one resubmission allowed after a node failure."""
    ledger = _ledger_with(tmp_path, "t", JobState.TIMEOUT, JobState.TIMEOUT, JobState.NODE_FAIL)
    factory = Factory(tmp_path, "t")
    _supervisor(tmp_path, ledger, max_resubmits_timeout=2, max_resubmits_infra=1
                ).ensure_submitted("t", factory)
    assert factory.calls == 1


def test_an_interrupted_submission_that_never_reached_the_backend_is_made_again(tmp_path):
    """The orchestrator died between writing its intent and the backend accepting the job: the
    local executor knows no job with that tag, so the intent is forgotten and the task is
    submitted once, now."""
    ledger = JobLedger(tmp_path / "jobs.json")
    ledger.record_intent("lost", "cm-deadbeef", None, tmp_path / "lost.log")
    ledger.save()
    ledger = JobLedger(tmp_path / "jobs.json")
    factory = Factory(tmp_path, "lost")
    sup = _supervisor(tmp_path, ledger)
    job_id = sup.ensure_submitted("lost", factory)
    assert factory.calls == 1 and ledger.get("lost").intent is None
    assert ledger.get("lost").last.job_id == job_id
    # asked again (a second restart), the live or finished job is kept
    assert sup.ensure_submitted("lost", factory) == job_id and factory.calls == 1
