"""Both backends (local executor and real Slurm) give the same batch semantics.

Every test runs real jobs (the toy model or bash) through the parametrised ``backend``.
"""

from __future__ import annotations

import time

from callmip.scheduler import JobLedger, JobSpec, JobState
from callmip.scheduler.base import Resources
from callmip.scheduler.supervisor import ArrayTasks, Supervisor

SMALL = Resources(mem_mb=64, walltime_min=5)


def test_exit_codes_states_and_logs(tmp_path, backend, toy):
    sched = backend(tmp_path)
    ok = sched.submit(toy.spec(tmp_path, "ok", steps=2))
    bad = sched.submit(toy.spec(tmp_path, "bad", steps=5, fail_at=2))
    st = toy.wait_final(sched, [ok, bad])
    assert st[ok].state == JobState.COMPLETED
    assert st[ok].exit_code == 0
    assert (st[bad].state, st[bad].exit_code) == (JobState.FAILED, 3)
    assert toy.result(tmp_path, "ok") == {"steps": 2, "total": 3}
    assert "blew up at step 2" in (tmp_path / "bad" / "model.0.log").read_text()
    assert toy.result(tmp_path, "bad") is None


def test_array_members_each_get_their_index(tmp_path, backend):
    sched = backend(tmp_path)
    template = JobSpec(
        "ens",
        ("bash", "-c", 'echo "member $1 of $MEMBER_TAG" > out.txt', "x", "{array_index}"),
        tmp_path / "member{array_index}",
        tmp_path / "logs" / "ens_{array_index}.log",
        SMALL,
        env={"MEMBER_TAG": "m{array_index}"},
    )
    ids = sched.submit_array(template, 4)
    assert len(set(ids)) == 4
    st = toy_wait(sched, ids)
    assert {s.state for s in st.values()} == {JobState.COMPLETED}
    for i in range(4):
        assert (tmp_path / f"member{i}" / "out.txt").read_text() == f"member {i} of m{i}\n"
        assert (tmp_path / "logs" / f"ens_{i}.log").exists()
    # a subset of indices (what a partial resubmission of an ensemble uses)
    more = sched.submit_array(template, [5, 7])
    toy_wait(sched, more)
    assert (tmp_path / "member7" / "out.txt").read_text() == "member 7 of m7\n"
    assert not (tmp_path / "member6").exists()


def toy_wait(sched, ids, timeout=120):
    t0 = time.monotonic()
    while True:
        st = sched.poll(ids)
        if all(s.state.finished for s in st.values()):
            return st
        assert time.monotonic() - t0 < timeout, st
        time.sleep(0.2)


def test_dependencies_run_in_order_and_failed_dependency_cancels(tmp_path, backend, toy):
    sched = backend(tmp_path)
    a = sched.submit(toy.spec(tmp_path, "a", steps=3, step_s=0.3))
    # b reads a's output: it can only succeed if it started after a completed
    b = sched.submit(
        JobSpec(
            "b",
            ("bash", "-c", f"cat {tmp_path}/a/out.json > b.json"),
            tmp_path / "b",
            tmp_path / "b" / "b.log",
            SMALL,
            depends_on=(a,),
        )
    )
    bad = sched.submit(toy.spec(tmp_path, "bad", steps=3, fail_at=1))
    never = sched.submit(
        JobSpec(
            "never",
            ("touch", "ran"),
            tmp_path / "never",
            tmp_path / "never" / "n.log",
            SMALL,
            depends_on=(bad,),
        )
    )
    st = toy.wait_final(sched, [a, b, bad, never])
    assert st[b].state == JobState.COMPLETED
    assert '"total": 6' in (tmp_path / "b" / "b.json").read_text()
    assert st[bad].state == JobState.FAILED
    assert st[never].state == JobState.CANCELLED
    assert not (tmp_path / "never" / "ran").exists()


def test_cancel_a_running_job(tmp_path, backend, toy):
    sched = backend(tmp_path)
    job = sched.submit(toy.spec(tmp_path, "long", steps=600, step_s=0.1))
    t0 = time.monotonic()
    while sched.poll([job])[job].state != JobState.RUNNING:
        assert time.monotonic() - t0 < 60
        time.sleep(0.1)
    sched.cancel(job)
    assert toy.wait_final(sched, [job])[job].state == JobState.CANCELLED
    sched.cancel(job)  # cancelling a finished job is harmless


def test_a_new_scheduler_object_sees_the_same_jobs(tmp_path, backend, toy):
    """A restarted orchestrator (new object, no memory) polls jobs it did not submit."""
    job = backend(tmp_path).submit(toy.spec(tmp_path, "x", steps=2, step_s=0.2))
    again = backend(tmp_path)
    assert toy.wait_final(again, [job])[job].state == JobState.COMPLETED
    unknown = "local-doesnotexist" if again.name == "local" else "999999"
    assert again.poll([unknown])[unknown].state == JobState.UNKNOWN


def test_find_tagged_finds_submitted_jobs_only(tmp_path, backend, toy):
    sched = backend(tmp_path)
    single = sched.submit(toy.spec(tmp_path, "s", steps=1, tag="cm-single"))
    members = sched.submit_array(
        JobSpec(
            "arr",
            ("true",),
            tmp_path / "arr",
            tmp_path / "arr" / "{array_index}.log",
            SMALL,
            tag="cm-array",
        ),
        3,
    )
    found = sched.find_tagged(["cm-single", "cm-array", "cm-never"])
    assert found["cm-single"] == {None: single}
    assert found["cm-array"] == dict(enumerate(members))
    assert "cm-never" not in found
    toy.wait_final(sched, [single, *members])


def test_supervisor_small_campaign(tmp_path, backend, toy):
    """Runs complete, a model error stops only its run (with log tail), dependants are
    cancelled without being submitted, and an ensemble goes through as one array."""
    sched = backend(tmp_path)
    ledger = JobLedger(tmp_path / "jobs.json")
    factories = {
        "spinup": lambda n: toy.spec(tmp_path, "spinup", n, steps=3, step_s=0.1),
        "broken": lambda n: toy.spec(tmp_path, "broken", n, steps=5, fail_at=2),
        "after-broken": lambda n: toy.spec(tmp_path, "after-broken", n, steps=1),
    }
    ens = ArrayTasks(
        keys=[f"prior/m{i}" for i in range(3)],
        template=lambda n: JobSpec(
            "prior",
            toy.argv(tmp_path / "prior{array_index}", steps=2),
            tmp_path / "prior{array_index}",
            tmp_path / "prior{array_index}" / f"model.{n}.log",
            SMALL,
        ),
    )
    depends = {"after-broken": ["broken"], **{k: ["spinup"] for k in ens.keys}}
    changes = []
    sup = Supervisor(sched, ledger, poll_s=0.2, on_change=lambda *a: changes.append(a))
    out = sup.run(factories, depends, timeout_s=180, arrays=[ens])

    assert out["spinup"].state == JobState.COMPLETED
    assert toy.result(tmp_path, "spinup") == {"steps": 3, "total": 6}
    for i, key in enumerate(ens.keys):
        assert out[key].state == JobState.COMPLETED
        assert toy.result(tmp_path, f"prior{i}") == {"steps": 2, "total": 3}
    broken = out["broken"]
    assert broken.state == JobState.FAILED
    assert broken.exit_code == 3
    assert "blew up at step 2" in broken.log_tail
    assert "exit code 3" in broken.reason
    assert out["after-broken"].state == JobState.CANCELLED
    assert out["after-broken"].job_ids == []
    # one submission per submitted task; the ensemble shares one array on Slurm
    assert ledger.submissions() == 5
    prior_ids = [out[k].job_ids[0] for k in ens.keys]
    if sched.name == "slurm":
        assert len({j.split("_")[0] for j in prior_ids}) == 1
    assert any(state == JobState.COMPLETED for _, state, _ in changes)
    # a second run of the same campaign submits nothing and reports the same outcomes
    again = Supervisor(backend(tmp_path), JobLedger(tmp_path / "jobs.json"), poll_s=0.1).run(
        factories, depends, timeout_s=30, arrays=[ens]
    )
    assert {k: o.state for k, o in again.items()} == {k: o.state for k, o in out.items()}
    assert JobLedger(tmp_path / "jobs.json").submissions() == 5


def test_interrupted_submission_is_reattached_not_duplicated(tmp_path, backend, toy):
    """A crash after the backend accepted a job but before the ledger recorded its id: the
    intent left in the ledger is resolved through the job's tag, and nothing is resubmitted."""
    sched = backend(tmp_path)
    ledger = JobLedger(tmp_path / "jobs.json")
    spec = toy.spec(tmp_path, "run1", steps=2, tag="cm-crashed")
    ledger.record_intent("run1", spec.tag, None, spec.log_path)
    job = sched.submit(spec)  # ... and the orchestrator "dies" here
    ledger.record_intent("run2", "cm-never-sent", None, tmp_path / "run2" / "model.0.log")

    fresh = JobLedger(tmp_path / "jobs.json")
    out = Supervisor(backend(tmp_path), fresh, poll_s=0.2).run(
        {
            "run1": lambda n: toy.spec(tmp_path, "run1", n, steps=2),
            "run2": lambda n: toy.spec(tmp_path, "run2", n, steps=2),
        },
        timeout_s=120,
    )
    assert out["run1"].job_ids == [job]
    assert out["run1"].state == out["run2"].state == JobState.COMPLETED
    assert len(out["run2"].job_ids) == 1
    assert fresh.submissions() == 2
    assert all(rec.intent is None for rec in fresh.tasks())
