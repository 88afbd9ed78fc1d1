"""Supervisor rules that do not need a long-running job: bad input stops one task only,
dependency graphs are checked, and the ledger survives being read back."""

from __future__ import annotations

import json

import pytest

from callmip.scheduler import JobLedger, JobSpec, JobState
from callmip.scheduler.ledger import LedgerError
from callmip.scheduler.supervisor import Supervisor


def test_a_rejected_job_stops_only_its_task(tmp_path, backend, toy):
    """A parameter trying to escape the run directory or inject a name is rejected at
    submission: that task ends FAILED with the reason, nothing is submitted for it, and the
    other task completes."""
    marker = tmp_path / "pwned"

    def escaping(attempt: int) -> JobSpec:
        return JobSpec("x", ("true",), tmp_path / ".." / "elsewhere", tmp_path / "x.log")

    def injected(attempt: int) -> JobSpec:
        return JobSpec(f"run;touch {marker}", ("true",), tmp_path, tmp_path / "y.log")

    def broken_factory(attempt: int) -> JobSpec:
        raise FileNotFoundError("no restart file for run z")

    ledger = JobLedger(tmp_path / "jobs.json")
    out = Supervisor(backend(tmp_path), ledger, poll_s=0.2).run(
        {
            "escaping": escaping,
            "injected": injected,
            "broken": broken_factory,
            "good": lambda n: toy.spec(tmp_path, "good", n, steps=2),
        },
        timeout_s=120,
    )
    assert out["good"].state == JobState.COMPLETED
    assert out["escaping"].state == JobState.FAILED
    assert "outside the run directory" in out["escaping"].reason
    assert out["injected"].state == JobState.FAILED
    assert "not allowed" in out["injected"].reason
    assert out["broken"].state == JobState.FAILED
    assert "no restart file" in out["broken"].reason
    assert ledger.submissions() == 1
    assert not marker.exists()
    assert not (tmp_path.parent / "elsewhere").exists()


def test_dependency_graph_is_checked(tmp_path):
    from callmip.scheduler import LocalScheduler

    sup = Supervisor(LocalScheduler(tmp_path), JobLedger(tmp_path / "jobs.json"))
    f = {k: (lambda n: None) for k in "abc"}
    with pytest.raises(ValueError, match="cycle"):
        sup.run(f, {"a": ["b"], "b": ["c"], "c": ["a"]})
    with pytest.raises(ValueError, match="unknown tasks"):
        sup.run(f, {"a": ["nope"]})
    assert not (tmp_path / "jobs.json").exists()


def test_ledger_round_trip_and_bad_file(tmp_path):
    path = tmp_path / "jobs.json"
    ledger = JobLedger(path)
    with ledger.batch():
        ledger.record_intent("a", "cm-1", None, tmp_path / "a.log")
        ledger.record_submission("b", "17", "slurm", tmp_path / "b.log")
        ledger.update("b", JobState.FAILED, 3, "FAILED exit code 3")
        assert not path.exists(), "a batch writes once, at its end"
    again = JobLedger(path)
    assert again.get("a").intent.tag == "cm-1"
    b = again.get("b").last
    assert (b.job_id, b.state, b.exit_code) == ("17", "FAILED", 3)
    assert b.finished_at is not None
    json.loads(path.read_text())  # plain JSON for other tools
    path.write_text('{"tasks": {"a": {"attempts": [{"nope": 1}]}}}')
    with pytest.raises(LedgerError, match=r"jobs\.json"):
        JobLedger(path)
