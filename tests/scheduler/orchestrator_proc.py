"""A small, separate orchestrator process for the kill-and-restart tests.

It drives a toy campaign through :class:`Supervisor` (two independent runs, a two-member ensemble
submitted as one array, and a run split into two segments chained through a restart file), and
writes the outcomes as JSON when everything is final. The tests SIGKILL it mid-campaign and
start it again with the same arguments.

Usage: python orchestrator_proc.py {local|slurm} RUN_ROOT PREFIX STEPS STEP_S OUT_JSON
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from callmip.scheduler import JobLedger, JobSpec, LocalScheduler, Resources
from callmip.scheduler.slurm import SlurmScheduler
from callmip.scheduler.supervisor import ArrayTasks, Supervisor

TOY = Path(__file__).resolve().parent / "toy_model.py"
RES = Resources(mem_mb=64, walltime_min=5)


def toy_argv(work: Path, steps: int, step_s: float, restart: Path | None) -> tuple[str, ...]:
    argv = [
        sys.executable,
        str(TOY),
        "--steps",
        str(steps),
        "--step-s",
        str(step_s),
        "--restart-dir",
        str(work / "restart"),
        "--out",
        str(work / "out.json"),
    ]
    if restart is not None:
        argv += ["--restart", str(restart)]
    return tuple(argv)


def campaign(root: Path, prefix: str, steps: int, step_s: float):
    """Task factories, dependencies and arrays of the toy campaign (6 tasks, 5 sbatch calls)."""

    def single(name: str, restart_from: str | None = None):
        def factory(attempt: int) -> JobSpec:
            work = root / name
            restart = None
            if restart_from is not None:  # a later segment starts from the earlier one's end
                restart = sorted((root / restart_from / "restart").glob("step_*.json"))[-1]
            return JobSpec(
                name,
                toy_argv(work, steps, step_s, restart),
                work,
                work / f"model.{attempt}.log",
                RES,
                env={"PYTHONUNBUFFERED": "1"},
            )

        return factory

    factories = {
        f"{prefix}-a": single(f"{prefix}-a"),
        f"{prefix}-b": single(f"{prefix}-b"),
        f"{prefix}-seg0": single(f"{prefix}-seg0"),
        f"{prefix}-seg1": single(f"{prefix}-seg1", restart_from=f"{prefix}-seg0"),
    }
    depends = {f"{prefix}-seg1": [f"{prefix}-seg0"]}
    ens = ArrayTasks(
        keys=[f"{prefix}-ens{i}" for i in range(2)],
        template=lambda attempt: JobSpec(
            f"{prefix}-ens",
            toy_argv(root / f"{prefix}-ens{{array_index}}", steps, step_s, None),
            root / f"{prefix}-ens{{array_index}}",
            root / f"{prefix}-ens{{array_index}}" / f"model.{attempt}.log",
            RES,
        ),
    )
    return factories, depends, [ens]


def main(argv: list[str]) -> int:
    kind, root_arg, prefix, steps, step_s, out_json = argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    root = Path(root_arg)
    sched = LocalScheduler(root, 4) if kind == "local" else SlurmScheduler(root, profile=RES)
    factories, depends, arrays = campaign(root, prefix, int(steps), float(step_s))
    sup = Supervisor(sched, JobLedger(root / "jobs.json"), poll_s=0.2)
    outcomes = sup.run(factories, depends, timeout_s=300, arrays=arrays)
    Path(out_json).write_text(
        json.dumps({k: {"state": o.state.value, "job_ids": o.job_ids} for k, o in outcomes.items()})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
