"""Fixtures for the scheduler tests: the toy model and both backends (local, Slurm).

The ``slurm`` fixture (a real single-node cluster, session scope) lives in ``tests/conftest.py``
because the CABLE campaign tests use it too.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from callmip.scheduler import LocalScheduler, Resources, Scheduler
from callmip.scheduler.base import JobSpec, JobStatus
from callmip.scheduler.slurm import SlurmScheduler

REPO = Path(__file__).resolve().parents[2]
TOY_MODEL = Path(__file__).resolve().parent / "toy_model.py"
#: Small jobs: many fit on a CI node at once.
TEST_RESOURCES = Resources(mem_mb=64, walltime_min=5)


BACKENDS = ["local", "slurm"]


@pytest.fixture(params=BACKENDS)
def backend(request) -> Callable[[Path], Scheduler]:
    """A factory of schedulers on the parametrised backend, for a run directory."""
    if request.param == "slurm":
        request.getfixturevalue("slurm")
        return lambda root: SlurmScheduler(root, profile=TEST_RESOURCES)
    return lambda root: LocalScheduler(root, max_parallel=4)


class Toy:
    """Builds toy-model jobs (test modules cannot import conftest, so this comes as a fixture)."""

    script = TOY_MODEL

    @staticmethod
    def argv(
        work: Path,
        steps: int,
        step_s: float = 0.0,
        restart: Path | None = None,
        fail_at: int | None = None,
    ) -> tuple[str, ...]:
        argv = [
            sys.executable,
            str(TOY_MODEL),
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
        if fail_at is not None:
            argv += ["--fail-at", str(fail_at)]
        return tuple(argv)

    @classmethod
    def spec(
        cls,
        root: Path,
        name: str,
        attempt: int = 0,
        steps: int = 3,
        step_s: float = 0.0,
        fail_at: int | None = None,
        walltime_min: int = 5,
        **kw,
    ) -> JobSpec:
        """The toy model in ``<root>/<name>``, started from its newest restart if any."""
        work = root / name
        restarts = sorted((work / "restart").glob("step_*.json"))
        return JobSpec(
            name,
            cls.argv(work, steps, step_s, restarts[-1] if restarts else None, fail_at),
            work,
            work / f"model.{attempt}.log",
            resources=Resources(mem_mb=64, walltime_min=walltime_min),
            env={"PYTHONUNBUFFERED": "1"},
            **kw,
        )

    @staticmethod
    def result(root: Path, name: str) -> dict | None:
        out = root / name / "out.json"
        return json.loads(out.read_text()) if out.exists() else None

    @staticmethod
    def wait_final(
        sched: Scheduler, job_ids: list[str], timeout: float = 120
    ) -> dict[str, JobStatus]:
        """Poll (one call for all) until every job finished."""
        t0 = time.monotonic()
        while True:
            st = sched.poll(job_ids)
            if all(s.state.finished for s in st.values()):
                return st
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"jobs not finished after {timeout} s: {st}")
            time.sleep(0.2)


@pytest.fixture
def toy() -> Toy:
    return Toy()
