"""One run directory per campaign, with a manifest saying exactly what produced it.

Layout (all under ``<run_root>/<campaign>/``)::

    manifest.json      config hash, code version, inputs with checksums, stage timings
    campaign.yaml      the validated campaign as run
    campaign.log       the run's log: every invocation's messages, tracebacks of errors
    jobs.json          the job ledger (see callmip.scheduler.ledger)
    forcing/           source (CRU-JRA layout) and model-ready forcing
    params/            parameter files used, per model and experiment
    spinup/            spin-up cycles, diagnostics table and plots
    runs/<run_id>/     namelist, native output, restart, log of each model run
    callmip/<sim>/     CalLMIP-conformed global files
    benchmark/         scores and the HTML report

A directory made by a different campaign configuration is refused rather than mixed.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import yaml

from callmip import atomic
from callmip.config import REPO_ROOT, Campaign


class RunDirError(RuntimeError):
    """The run directory belongs to another configuration or cannot be used."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def code_version() -> str:
    """Package version plus the git commit (and '+dirty') when run from a checkout."""
    try:
        version = metadata.version("callmip-global")
    except metadata.PackageNotFoundError:
        version = "unknown"
    try:
        sha = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        return f"{version}+g{sha}{'.dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return version


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write a manifest-style JSON document (sorted keys, anything else as text) atomically."""
    atomic.write_json(path, payload, indent=1, sort_keys=True, default=str)


@dataclass
class RunDir:
    """The campaign's run directory and its manifest."""

    campaign: Campaign

    @property
    def path(self) -> Path:
        return self.campaign.run_dir

    def sub(self, *parts: str) -> Path:
        p = self.path.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def manifest(self) -> dict:
        if self.manifest_path.exists():
            return json.loads(self.manifest_path.read_text())
        return {}

    def initialise(self) -> None:
        """Create the directory or re-open it, refusing one made by another configuration."""
        config_hash = self.campaign.config_hash()
        existing = self.manifest()
        if existing and existing.get("config_hash") != config_hash:
            raise RunDirError(
                f"{self.path} holds campaign outputs of a different configuration "
                f"(config hash {existing.get('config_hash', '?')[:12]}, this one "
                f"{config_hash[:12]}); use a new campaign name or remove the directory"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "campaign.yaml").write_text(
            yaml.safe_dump(self.campaign.model_dump(mode="json"), sort_keys=False)
        )
        if not existing:
            existing = {
                "campaign": self.campaign.name,
                "config_hash": config_hash,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "inputs": {},
                "stages": {},
            }
        existing["code_version"] = code_version()
        write_json_atomic(self.manifest_path, existing)

    def record_inputs(self, inputs: dict[str, Path]) -> None:
        """Add input files with checksums (so a report can say exactly what was compared)."""
        manifest = self.manifest()
        for label, path in inputs.items():
            manifest["inputs"][label] = {"path": str(path), "sha256": sha256_file(path)}
        write_json_atomic(self.manifest_path, manifest)

    def record_stage(self, stage: str, seconds: float, **info) -> None:
        manifest = self.manifest()
        manifest["stages"][stage] = {
            "seconds": round(seconds, 2),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **info,
        }
        write_json_atomic(self.manifest_path, manifest)
