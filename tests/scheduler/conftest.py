"""Fixtures for the scheduler tests: a real single-node Slurm, the toy model, both backends.

The ``slurm`` fixture (session scope) makes sure a real cluster answers: if ``sinfo`` does not, it
runs ``scripts/slurm/start.sh`` (munged + slurmctld + slurmd, as root). When Slurm is not
installed or cannot start, Slurm tests are skipped with the reason, except in CI
(``CI=true``) where they fail: CI must exercise the real thing. The cluster is left running
after the session (``scripts/slurm/stop.sh`` stops it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from callmip.scheduler import LocalScheduler, Resources, Scheduler
from callmip.scheduler.base import JobSpec, JobStatus
from callmip.scheduler.slurm import SlurmScheduler

REPO = Path(__file__).resolve().parents[2]
SLURM_SCRIPTS = REPO / "scripts" / "slurm"
TOY_MODEL = Path(__file__).resolve().parent / "toy_model.py"
#: Small jobs: many fit on a CI node at once.
TEST_RESOURCES = Resources(mem_mb=64, walltime_min=5)


def _sinfo_ready() -> bool:
    try:
        proc = subprocess.run(
            ["sinfo", "--noheader", "--Node", "--format=%T"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    states = proc.stdout.split()
    return proc.returncode == 0 and any(
        s.rstrip("*~#").startswith(("idle", "mixed", "allocated", "completing")) for s in states
    )


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"Slurm is required in CI (CI=true): {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm() -> str:
    """A running single-node Slurm cluster; returns the node's state line."""
    missing = [
        c for c in ("sbatch", "squeue", "slurmctld", "slurmd", "munged") if shutil.which(c) is None
    ]
    if missing:
        _unavailable(f"Slurm is not installed (missing {missing}); run scripts/slurm/install.sh")
    if not _sinfo_ready():
        try:
            proc = subprocess.run(
                [str(SLURM_SCRIPTS / "start.sh")],
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
        except subprocess.TimeoutExpired:
            _unavailable("scripts/slurm/start.sh did not finish within 180 s")
        if proc.returncode != 0 or not _sinfo_ready():
            _unavailable(
                f"could not start Slurm with scripts/slurm/start.sh (exit {proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
    return subprocess.run(
        ["sinfo", "--noheader", "--Node", "--format=%N %T %c %m"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


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
