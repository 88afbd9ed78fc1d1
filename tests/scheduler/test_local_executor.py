"""The local executor has batch-job semantics: real detached processes, states, cancel.

TIMEOUT (a real 1-minute walltime) is in test_failure_policy.py, on both backends.
"""

import time
from pathlib import Path

import pytest

from callmip.scheduler import JobSpec, JobSpecError, JobState, LocalScheduler


def wait_final(s, job_id, timeout=30):
    t0 = time.time()
    while time.time() - t0 < timeout:
        st = s.poll([job_id])[job_id]
        if st.state.finished:
            return st
        time.sleep(0.05)
    raise AssertionError(f"{job_id} did not finish")


def spec(d: Path, name: str, cmd: str, **kw) -> JobSpec:
    return JobSpec(name, ("bash", "-c", cmd), d, d / f"{name}.log", **kw)


def test_states_exit_codes_and_logs(tmp_path):
    s = LocalScheduler(tmp_path, 2)
    ok = s.submit(spec(tmp_path, "ok", "echo hello"))
    bad = s.submit(spec(tmp_path, "bad", "echo boom >&2; exit 3"))
    assert wait_final(s, ok).state == JobState.COMPLETED
    st = wait_final(s, bad)
    assert (st.state, st.exit_code) == (JobState.FAILED, 3)
    assert "boom" in (tmp_path / "bad.log").read_text()


def test_dependency_failure_cancels_dependant(tmp_path):
    s = LocalScheduler(tmp_path, 2)
    a = s.submit(spec(tmp_path, "a", "exit 1"))
    b = s.submit(spec(tmp_path, "b", "echo never", depends_on=(a,)))
    assert wait_final(s, b).state == JobState.CANCELLED
    assert not (tmp_path / "b.log").exists()


def test_cancel_running_job(tmp_path):
    s = LocalScheduler(tmp_path, 1)
    j = s.submit(spec(tmp_path, "sleepy", "sleep 60"))
    t0 = time.time()
    while s.poll([j])[j].state != JobState.RUNNING:
        assert time.time() - t0 < 20
        time.sleep(0.05)
    s.cancel(j)
    assert wait_final(s, j).state == JobState.CANCELLED


def test_state_survives_a_new_scheduler_object(tmp_path):
    """A restarted orchestrator (new object, no memory) sees the same job."""
    j = LocalScheduler(tmp_path, 1).submit(spec(tmp_path, "x", "sleep 0.3"))
    again = LocalScheduler(tmp_path, 1)
    assert wait_final(again, j).state == JobState.COMPLETED


@pytest.mark.parametrize("bad", ["a;b", "$(id)", "`id`", "../x", "a b"])
def test_unsafe_names_rejected(tmp_path, bad):
    with pytest.raises(JobSpecError):
        LocalScheduler(tmp_path).submit(spec(tmp_path, bad, "true"))


def test_paths_outside_run_dir_rejected(tmp_path):
    inner = tmp_path / "run"
    inner.mkdir()
    with pytest.raises(JobSpecError, match="outside the run directory"):
        LocalScheduler(inner).submit(
            JobSpec("x", ("true",), inner / ".." / "elsewhere", inner / "x.log")
        )


def test_arguments_are_not_shell_interpreted(tmp_path):
    s = LocalScheduler(tmp_path)
    marker = tmp_path / "pwned"
    j = s.submit(
        JobSpec(
            "echo", ("echo", f"$(touch {marker})", "; rm -rf /"), tmp_path, tmp_path / "echo.log"
        )
    )
    assert wait_final(s, j).state == JobState.COMPLETED
    assert not marker.exists()
    assert f"$(touch {marker})" in (tmp_path / "echo.log").read_text()
