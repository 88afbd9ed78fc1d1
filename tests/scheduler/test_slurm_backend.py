"""Slurm-specific behaviour: state names, exit codes, accounting records, job scripts, profile."""

from __future__ import annotations

import subprocess

import pytest

from callmip.scheduler import JobSpec, JobState, Resources
from callmip.scheduler.slurm import (
    SLURM_STATES,
    SlurmScheduler,
    exit_code_from_pair,
    exit_code_from_wait_status,
    parse_sacct,
    slurm_state,
)


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("COMPLETED", JobState.COMPLETED),
        ("FAILED", JobState.FAILED),
        ("TIMEOUT", JobState.TIMEOUT),
        ("CANCELLED", JobState.CANCELLED),
        ("CANCELLED by 0", JobState.CANCELLED),
        ("CANCELLED+", JobState.CANCELLED),
        ("NODE_FAIL", JobState.NODE_FAIL),
        ("BOOT_FAIL", JobState.NODE_FAIL),
        ("PREEMPTED", JobState.PREEMPTED),
        ("OUT_OF_MEMORY", JobState.OUT_OF_MEMORY),
        ("PENDING", JobState.PENDING),
        ("REQUEUED", JobState.PENDING),
        ("REQUEUE_HOLD", JobState.PENDING),
        ("RUNNING", JobState.RUNNING),
        ("CONFIGURING", JobState.RUNNING),
        ("COMPLETING", JobState.RUNNING),
        ("SUSPENDED", JobState.RUNNING),
        ("running", JobState.RUNNING),
        ("", JobState.UNKNOWN),
        ("SOMETHING_NEW", JobState.UNKNOWN),
    ],
)
def test_slurm_state_names(raw, state):
    assert slurm_state(raw) == state


def test_only_final_slurm_states_are_final():
    """A job is final only once Slurm has its last word (COMPLETING is not final)."""
    final = {name for name, st in SLURM_STATES.items() if st.finished}
    assert final == {
        "COMPLETED",
        "FAILED",
        "SPECIAL_EXIT",
        "TIMEOUT",
        "DEADLINE",
        "CANCELLED",
        "REVOKED",
        "NODE_FAIL",
        "BOOT_FAIL",
        "PREEMPTED",
        "OUT_OF_MEMORY",
    }


def test_exit_codes():
    assert exit_code_from_wait_status(0) == 0
    assert exit_code_from_wait_status(3 << 8) == 3
    assert exit_code_from_wait_status(15) == -15
    assert exit_code_from_pair("3:0") == 3
    assert exit_code_from_pair("0:15") == -15
    assert exit_code_from_pair("garbage") is None


def test_parse_sacct_output():
    """The ``sacct -n -P -X -o JobID,State,ExitCode`` format (slurmdbd is not in the test
    cluster, so this path is checked on its documented output format only)."""
    text = "101|COMPLETED|0:0\n102_3|FAILED|3:0\n103|CANCELLED by 0|0:15\nbad line\n"
    got = parse_sacct(text)
    assert got["101"].state == JobState.COMPLETED
    assert (got["102_3"].state, got["102_3"].exit_code) == (JobState.FAILED, 3)
    # a job Slurm stopped has no model exit code; the signal is in the reason
    assert (got["103"].state, got["103"].exit_code) == (JobState.CANCELLED, None)
    assert "signal 15" in got["103"].reason
    assert len(got) == 3


def test_accounting_from_the_real_jobcomp_file(tmp_path, slurm, toy):
    """Finished jobs (plain and array members) read back from the cluster's jobcomp record,
    the fallback ``poll`` uses once ``squeue`` has forgotten them."""
    sched = SlurmScheduler(tmp_path, sacct_mode="auto")
    assert sched.accounting_mode() == "jobcomp"
    ok = sched.submit(toy.spec(tmp_path, "ok", steps=1))
    bad = sched.submit(toy.spec(tmp_path, "bad", steps=2, fail_at=1))
    members = sched.submit_array(
        JobSpec(
            "arr",
            ("bash", "-c", "exit $1", "x", "{array_index}"),
            tmp_path / "arr",
            tmp_path / "arr" / "{array_index}.log",
            Resources(mem_mb=64, walltime_min=2),
        ),
        [0, 4],
    )
    long = sched.submit(toy.spec(tmp_path, "long", steps=600, step_s=0.1))
    done = toy.wait_final(sched, [ok, bad, *members])
    sched.cancel(long)
    done |= toy.wait_final(sched, [long])
    record = sched.accounting([ok, bad, *members, long, "999999"])
    assert "999999" not in record
    for job_id, status in done.items():
        assert (record[job_id].state, record[job_id].exit_code) == (
            status.state,
            status.exit_code,
        ), job_id
    assert record[members[1]].exit_code == 4
    assert record[long].state == JobState.CANCELLED


def test_job_script_resources_come_from_the_profile(tmp_path):
    """Profile fields (partition, account, qos) fill in what the job did not set explicitly."""
    profile = Resources(partition="compute", account="proj1", qos="normal", mem_mb=4000)
    sched = SlurmScheduler(tmp_path, profile=profile)
    spec = JobSpec(
        "seg",
        ("model", "--years", "1901-1950"),
        tmp_path,
        tmp_path / "x.log",
        resources=Resources(walltime_min=90, ntasks=4),
        depends_on=("12", "13_2"),
        tag="cm-abc",
    )
    script = sched.job_script(spec)
    for line in [
        "#SBATCH --job-name=seg",
        "#SBATCH --time=90",
        "#SBATCH --ntasks=4",
        "#SBATCH --mem=4000M",
        "#SBATCH --partition=compute",
        "#SBATCH --account=proj1",
        "#SBATCH --qos=normal",
        "#SBATCH --no-requeue",
        "#SBATCH --comment=cm-abc",
        "#SBATCH --dependency=afterok:12:13_2",
        "#SBATCH --kill-on-invalid-dep=yes",
        "exec model --years 1901-1950",
    ]:
        assert line in script.splitlines(), line
    assert "--requeue" in SlurmScheduler(tmp_path, requeue=True).job_script(spec)


def test_sbatch_refusal_is_a_clear_error(tmp_path, slurm):
    from callmip.scheduler import SchedulerError

    sched = SlurmScheduler(tmp_path, profile=Resources(partition="nosuchpartition"))
    with pytest.raises(SchedulerError, match="sbatch refused job x"):
        sched.submit(JobSpec("x", ("true",), tmp_path, tmp_path / "x.log"))


def test_poll_is_one_squeue_call_for_many_jobs(tmp_path, slurm, monkeypatch):
    """However many ids, a poll costs one squeue call (plus one accounting lookup at most)."""
    sched = SlurmScheduler(tmp_path)
    ids = sched.submit_array(
        JobSpec(
            "many",
            ("true",),
            tmp_path,
            tmp_path / "{array_index}.log",
            Resources(mem_mb=16, walltime_min=2),
        ),
        30,
    )
    calls: list[list[str]] = []
    real_run = subprocess.run

    def counting_run(argv, *args, **kwargs):
        calls.append(list(argv))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting_run)
    st = sched.poll(ids)
    assert len(st) == 30
    assert [c[0] for c in calls] == ["squeue"]
    monkeypatch.undo()
    for job_id in ids:
        sched.cancel(job_id)
