"""Orchestration overhead of the Slurm layer: a 200-member array plus 200 single jobs.

The jobs (``true``: a trivial model step) go through :class:`Supervisor` +
:class:`SlurmScheduler` on a real cluster (validation, job scripts, ledger intents and records,
one ``squeue`` per poll cycle, state mapping). While they do, the benchmark times:

* ``peer_s``: the raw ``sbatch``/``squeue``/``scontrol`` calls our layer made (the peer: the
  least any tool must spend talking to Slurm);
* ``ours_s``: the total time spent in our layer, i.e. wall time minus the time asleep between
  polls (waiting for Slurm to run the jobs is not overhead).

``overhead_ms_per_job = (ours_s - peer_s) / jobs * 1000`` is the time our own code adds per job
beyond Slurm's own calls (target < 50 ms). ``cpu_ms_per_job`` is this process's CPU time per
job. As a cross-check the same jobs are also run end to end with plain ``sbatch`` calls and one
``squeue`` per poll (``e2e_peer_s`` vs ``e2e_ours_s``, same poll interval); that difference is
dominated by Slurm's own run-to-run variation, so it is reported, not used. ``--quick`` skips it.

Needs a running Slurm (starts scripts/slurm/start.sh if ``sinfo`` does not answer).
Run: ``uv run python tests/performance/scheduler_bench.py [--quick]``
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import callmip.scheduler.supervisor as supervisor_module
from callmip.scheduler import JobLedger, JobSpec, JobState, Resources
from callmip.scheduler.slurm import SlurmScheduler, slurm_state
from callmip.scheduler.supervisor import ArrayTasks, Supervisor

N_ARRAY = 200
N_SINGLE = 200
POLL_S = 0.25
REPO = Path(__file__).resolve().parents[2]
RES = Resources(mem_mb=32, walltime_min=5)


def ensure_slurm() -> None:
    ok = subprocess.run(["sinfo", "--noheader"], capture_output=True, check=False).returncode == 0
    if not ok:
        subprocess.run([str(REPO / "scripts" / "slurm" / "start.sh")], check=True)


def wait_queue_empty(prefix: str) -> None:
    """Start each measurement with no job of ours still queued or running."""
    while True:
        out = subprocess.run(
            ["squeue", "--noheader", "--Format", "Name:"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if not any(line.strip().startswith(prefix) for line in out.splitlines()):
            return
        time.sleep(0.2)


def run_peer(root: Path) -> tuple[float, float]:
    """Raw sbatch + squeue. Returns (total seconds, submission seconds)."""
    root.mkdir(parents=True)
    script = root / "step.sbatch"
    script.write_text(f"#!/bin/bash\n#SBATCH --mem={RES.mem_mb}M\n#SBATCH --time=5\nexec true\n")
    t0 = time.perf_counter()
    ids = []
    out = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--job-name=peer-arr",
            f"--array=0-{N_ARRAY - 1}",
            f"--output={root}/arr_%a.log",
            f"--chdir={root}",
            str(script),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ids += [f"{out}_{i}" for i in range(N_ARRAY)]
    for i in range(N_SINGLE):
        jid = subprocess.run(
            [
                "sbatch",
                "--parsable",
                f"--job-name=peer-s{i}",
                f"--output={root}/s{i}.log",
                f"--chdir={root}",
                str(script),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        ids.append(jid)
    t_submit = time.perf_counter() - t0
    while True:
        out = subprocess.run(
            [
                "squeue",
                "--noheader",
                "--states=all",
                "--array",
                "--jobs",
                ",".join(ids),
                "--Format",
                "JobArrayID:|,State:",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        states = {line.split("|")[0]: slurm_state(line.split("|")[1]) for line in out.splitlines()}
        if len(states) >= len(ids) and all(states[i].finished for i in ids):
            break
        time.sleep(POLL_S)
    total = time.perf_counter() - t0
    bad = [i for i in ids if states[i] != JobState.COMPLETED]
    assert not bad, f"peer jobs did not complete: {bad[:5]}"
    return total, t_submit


class TimedSlurm(SlurmScheduler):
    """SlurmScheduler that adds up the wall time of every Slurm command it runs."""

    command_s = 0.0
    commands = 0

    def _run(self, argv, env=None):
        t0 = time.perf_counter()
        try:
            return super()._run(argv, env)
        finally:
            self.command_s += time.perf_counter() - t0
            self.commands += 1


class SleepMeter:
    """Stands in for the ``time`` module inside the supervisor and adds up time asleep."""

    def __init__(self) -> None:
        self.asleep_s = 0.0

    def __getattr__(self, name):
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        t0 = time.perf_counter()
        time.sleep(seconds)
        self.asleep_s += time.perf_counter() - t0


def run_ours(root: Path) -> dict[str, float]:
    """Supervisor + SlurmScheduler, instrumented."""
    root.mkdir(parents=True)
    sched = TimedSlurm(root, profile=RES)
    ledger = JobLedger(root / "jobs.json")
    singles = {
        f"single{i}": (
            lambda attempt, i=i: JobSpec(
                f"ours-s{i}", ("true",), root / f"single{i}", root / f"single{i}" / "step.log", RES
            )
        )
        for i in range(N_SINGLE)
    }
    ensemble = ArrayTasks(
        keys=[f"member{i}" for i in range(N_ARRAY)],
        template=lambda attempt: JobSpec(
            "ours-arr", ("true",), root / "ens", root / "ens" / "m{array_index}.log", RES
        ),
    )
    submitted_at: list[float] = []

    def on_change(key: str, state: JobState, job_id: str) -> None:
        if state == JobState.PENDING:
            submitted_at.append(time.perf_counter())

    sup = Supervisor(sched, ledger, poll_s=POLL_S, on_change=on_change)
    meter = SleepMeter()
    supervisor_module.time = meter
    try:
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        outcomes = sup.run(singles, arrays=[ensemble], timeout_s=1800)
        total = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    finally:
        supervisor_module.time = time
    bad = [k for k, o in outcomes.items() if o.state != JobState.COMPLETED]
    assert not bad, f"our jobs did not complete: {bad[:5]}"
    assert ledger.submissions() == N_ARRAY + N_SINGLE
    return {
        "total_s": total,
        "active_s": total - meter.asleep_s,
        "command_s": sched.command_s,
        "commands": sched.commands,
        "submit_s": max(submitted_at) - t0,
        "cpu_s": cpu,
    }


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    ensure_slurm()
    n = N_ARRAY + N_SINGLE
    with tempfile.TemporaryDirectory(prefix="callmip-sched-bench-") as tmp:
        wait_queue_empty("ours-")
        ours = run_ours(Path(tmp) / "ours")
        print(
            f"ours: {ours['total_s']:.1f} s wall, {ours['active_s']:.2f} s in our layer, "
            f"{ours['command_s']:.2f} s in {ours['commands']} Slurm commands, "
            f"{ours['cpu_s']:.2f} s CPU; all submitted after {ours['submit_s']:.2f} s"
        )
        e2e_peer = e2e_peer_submit = float("nan")
        if not quick:
            wait_queue_empty("ours-")
            e2e_peer, e2e_peer_submit = run_peer(Path(tmp) / "peer")
            print(
                f"plain sbatch/squeue end to end: {e2e_peer:.1f} s wall, "
                f"all submitted after {e2e_peer_submit:.2f} s"
            )
    ours_s, peer_s = ours["active_s"], ours["command_s"]
    overhead_ms = (ours_s - peer_s) / n * 1000
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"jobs={n} (array {N_ARRAY} + single {N_SINGLE}); poll every {POLL_S} s; "
        f"overhead {overhead_ms:.1f} ms/job beyond Slurm's own commands"
    )
    print(
        f"RESULT name=scheduler ours_s={ours_s:.3f} peer=sbatch peer_s={peer_s:.3f} "
        f"ratio={peer_s / ours_s:.3f} peak_mb={peak_mb:.0f} jobs={n} "
        f"overhead_ms_per_job={overhead_ms:.2f} target_ms=50 "
        f"overhead_definition=(ours_s-peer_s)/jobs "
        f"ours_s_is=time_in_our_layer_excluding_poll_sleep "
        f"peer_s_is=time_in_raw_sbatch_squeue_scontrol_calls "
        f"cpu_ms_per_job={ours['cpu_s'] / n * 1000:.2f} "
        f"submit_ms_per_job={ours['submit_s'] / n * 1000:.2f} "
        f"e2e_ours_s={ours['total_s']:.1f} e2e_peer_s={e2e_peer:.1f} "
        f"e2e_peer_submit_ms_per_job={e2e_peer_submit / n * 1000:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
