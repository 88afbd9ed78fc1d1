"""Shared fixtures: the whole-campaign CLI helper, and a real single-node Slurm.

The ``slurm`` fixture (session scope) makes sure a real cluster answers: if ``sinfo`` does not,
it runs ``scripts/slurm/start.sh`` (munged + slurmctld + slurmd, as root). When Slurm is not
installed or cannot start, Slurm tests are skipped with the reason, except in CI
(``CI=true``) where they fail: CI must exercise the real thing (``unavailable`` applies the
same rule to other real tools, e.g. the CABLE build). The cluster is left running after the
session (``scripts/slurm/stop.sh`` stops it).

Whole-campaign tests: a small campaign file and ``callmip run`` on it.

The slow tests that only read a finished campaign's outputs (end to end, the experiments and
bundles, ``_post_unc`` ensemble files, the ESMValTool stage) share one campaign,
``campaign_run``, run once per session. The tests that must change a campaign while it runs
(Slurm with scenarios, kill and resume) run their own through the same helper and differ only
in the fields they pass.
"""

from __future__ import annotations

import importlib.util
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


#: protocol metadata of the shared campaign (written into every file, needed by bundles)
PROTOCOL = {"contact": "Jane Doe <jane.doe@example.org>", "institution": "Example Institute",
            "cal_val": "Validation", "calibration_scenario": "Scen1", "phase": "Phase1b"}


@pytest.fixture(scope="session")
def campaign_run(tmp_path_factory, campaign_cli):
    """The one small campaign that every slow test reading a campaign's outputs shares.

    2 degrees, CELM-A prior + posterior (2 posterior ensemble members: files with _post_unc),
    S2, S3 and CO2only 2004-2005 after a transient from 1995 (land use and CO2 held at 1994
    levels in spin-up, on a 2-year cycle that must pass every criterion twice in a row within
    4 cycles, judged by the phase judge's one-year checks), synthetic weather warming by 1 K per century, and the ESMValTool stage when
    ESMValCore is installed. Run twice (the second run must reuse everything). Returns
    ``(run_dir, first, second, n_jobs)``.
    """
    from callmip.scheduler import JobLedger

    tmp = tmp_path_factory.mktemp("campaign")
    esmvaltool = importlib.util.find_spec("esmvalcore") is not None
    path = campaign_cli.write(
        tmp, "e2e",
        forcing={"seed": 3, "trend_k_per_century": 1.0},
        periods={"spinup_cycle": [1901, 1902], "transient_start": 1995,
                 "historical": [2004, 2005]},
        spinup={"mode": "accelerated", "max_cycles": 4, "consecutive": 2, "judge": "phase",
                "on_max_cycles": "fail"},
        models=[{**CELM_A, "ensemble_members": 2}],
        references={"variables": ["hfls", "hfss"]},
        simulations=["S2", "S3", "CO2only"],
        protocol=PROTOCOL,
        **({"esmvaltool": {"enabled": True, "scheme": "area_weighted"}} if esmvaltool else {}),
    )  # fmt: skip
    first = campaign_cli.run(path, tmp, timeout=1500, cwd=REPO)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-5000:]
    run_dir = tmp / "runs" / "e2e"
    n_jobs = JobLedger(run_dir / "jobs.json").submissions()
    second = campaign_cli.run(path, tmp, timeout=900, cwd=REPO)
    assert second.returncode == 0, second.stderr[-5000:]
    return run_dir, first, second, n_jobs


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
