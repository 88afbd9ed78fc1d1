"""Shared fixtures: the whole-campaign CLI helper, and a real single-node Slurm.

The ``slurm`` fixture (session scope) makes sure a real cluster answers: if ``sinfo`` does not,
it runs ``scripts/slurm/start.sh`` (munged + slurmctld + slurmd, as root). When Slurm is not
installed or cannot start, Slurm tests are skipped with the reason, except in CI
(``CI=true``) where they fail: CI must exercise the real thing (``unavailable`` applies the
same rule to other real tools, e.g. the CABLE build). The cluster is left running after the
session (``scripts/slurm/stop.sh`` stops it).

Whole-campaign tests: a small campaign file and ``callmip run`` on it.

Five slow tests (end to end, ``_post_unc`` ensemble, Slurm with scenarios, kill and resume, the
ESMValTool stage) each run a real campaign through the CLI. They share the campaign's frame and
the way the CLI is started, and differ only in the fields they test, which they pass here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SLURM_SCRIPTS = REPO / "scripts" / "slurm"
#: the model of the small campaigns, with the posterior shipped in configs/params
CELM_A = {
    "name": "CELM-A",
    "version": "v1",
    "posterior": str(REPO / "configs/params/CELM-A_posterior.json"),
}
#: entries a test's fields are merged into (the others are replaced)
_MERGED = ("forcing", "spinup", "references")


class CampaignCLI:
    """Write a small campaign and run the real ``python -m callmip_app.cli run`` on it."""

    CELM_A = CELM_A

    @staticmethod
    def write(tmp: Path, name: str, **fields) -> Path:
        """``tmp/<name>.yaml``: a 2-degree synthetic campaign of CELM-A, prior and posterior S3,
        local scheduler, runs under ``tmp/runs``. ``fields`` replace top-level entries, except
        ``forcing``, ``spinup`` and ``references``, which are merged into the frame."""
        campaign = {
            "name": name,
            "resolution": 2,
            "forcing": {"source": "synthetic", "source_resolution": 2},
            "spinup": {"consecutive": 1, "on_max_cycles": "continue"},
            "models": [dict(CELM_A)],
            "experiments": ["prior", "posterior"],
            "simulations": ["S3"],
            "scheduler": {"backend": "local", "max_parallel": 2},
            "references": {"catalog": str(REPO / "configs/references.yaml"),
                           "ilamb_root": str(REPO / "data/ILAMB_ROOT")},
            "run_root": str(tmp / "runs"),
        }  # fmt: skip
        for key, value in fields.items():
            campaign[key] = {**campaign[key], **value} if key in _MERGED else value
        path = tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(campaign))
        return path

    @staticmethod
    def command(path: Path) -> list[str]:
        return [sys.executable, "-m", "callmip_app.cli", "run", str(path)]

    @staticmethod
    def env(tmp: Path) -> dict[str, str]:
        """Own PREFECT_HOME, and no PREFECT_API_URL: each run starts its temporary server."""
        env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect")}
        env.pop("PREFECT_API_URL", None)
        return env

    @classmethod
    def run(cls, path: Path, tmp: Path, timeout: float, **kwargs) -> subprocess.CompletedProcess:
        """Run the campaign to its end; output captured as text."""
        return subprocess.run(cls.command(path), capture_output=True, text=True,
                              env=cls.env(tmp), timeout=timeout, **kwargs)  # fmt: skip


@pytest.fixture(scope="session")
def campaign_cli() -> type[CampaignCLI]:
    return CampaignCLI


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


def _unavailable(reason: str, what: str = "Slurm") -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required in CI (CI=true): {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def unavailable() -> Callable[[str, str], None]:
    """Skip a test whose real tool is missing, except in CI (``CI=true``), where it fails."""
    return _unavailable


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
