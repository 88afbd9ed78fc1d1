"""Upload bundles: one ME-org-ready folder per experiment, model and calibration stage.

``callmip bundle RUN_DIR`` reads the run directory's campaign and its CalLMIP files
(``callmip/<experiment>/``: the historical simulations S0-S3 and the CO2-only family, and each
SSP x GCM run) and writes ``RUN_DIR/bundle/`` (or ``--out``) with one folder per ME-org model
output: ``<model>.<version>_global_<res>_<experiment>_<Prior|Posterior>/``, the protocol's
"Name" of an upload (section 11.5: everything in the file names but what varies inside the
upload) extended by the experiment, since S3, CO2-only and every SSP x GCM run produce files
whose protocol names (section 7) would otherwise collide. Each folder holds:

* the CalLMIP files, names kept exactly as the protocol spells them, each re-checked with the
  CMOR-style checker (any ERROR stops the bundle: nothing is written) and its global
  attributes compared with the campaign's protocol metadata and the folder's experiment;
* ``SHA256SUMS`` (``sha256sum -c`` verifies it) and ``manifest.json`` (files, checksums, sizes,
  years, frequency, checker result, protocol metadata, campaign, code version);
* ``README.md``: what the experiment is (drivers of change varied and held), the model, stage,
  periods, protocol metadata, contact, and how to upload it.

The bundle is written under a temporary name and moved into place only when complete; an older
bundle at the same place is replaced as a whole.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import netCDF4

from callmip.config import Campaign, CampaignError, load_campaign
from callmip.conform.check import check_file
from callmip.conform.table import parse_global_file_name
from callmip.rundir import code_version, sha256_file
from callmip.simulations import DRIVER_MEANING, DRIVERS_OF_CHANGE, SIMULATIONS, ignored_by

#: ME-org experiment the global simulations are uploaded to (protocol v2 section 10)
ME_ORG_EXPERIMENT = "Phase 1 Global Sims"
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"


class BundleError(RuntimeError):
    """The run's files cannot be bundled (a file fails the checks, or none exist)."""


@dataclass
class Upload:
    """One folder of the bundle: one model's files of one experiment and stage."""

    model: str
    experiment: str
    stage: str
    resolution: str
    files: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.model}_global_{self.resolution}_{self.experiment}_{self.stage}"


def _require_contact(campaign: Campaign, path: Path) -> None:
    missing = [k for k in ("contact", "institution") if getattr(campaign.protocol, k) is None]
    if missing:
        raise CampaignError(
            f"{path}: protocol.{missing[0]} is not set; ME-org uploads need "
            + " and ".join(f"protocol.{k}" for k in missing)
            + " (contact: 'Name <email>' or an e-mail address; institution: free text), "
            "written into every file: set them in the campaign and rerun it"
        )


def collect(run_dir: Path, campaign: Campaign) -> list[Upload]:
    """The uploads of a run directory: its CalLMIP files grouped by experiment, model, stage."""
    root = run_dir / "callmip"
    uploads: dict[tuple[str, str, str], Upload] = {}
    for path in sorted(root.glob("*/*.nc")):
        m = parse_global_file_name(path.name)
        if m is None:
            raise BundleError(f"{path}: not a CalLMIP global file name; only conformed files "
                              "belong in callmip/<experiment>/")
        key = (path.parent.name, m.model_id, m.stage)
        uploads.setdefault(key, Upload(m.model_id, key[0], m.stage, m.resolution)).files.append(
            path)
    if not uploads:
        raise BundleError(f"{root}: no CalLMIP files to bundle (has the campaign finished?)")
    return [uploads[k] for k in sorted(uploads)]


def _attribute_problems(path: Path, campaign: Campaign, experiment: str) -> list[str]:
    """Global attributes that disagree with the campaign's protocol metadata or the folder."""
    proto = campaign.protocol
    expected = {"CalLMIP_Phase": proto.phase, "Calibration_Scenario": proto.calibration_scenario,
                "Cal_Val": proto.cal_val, "contact": proto.contact,
                "institution": proto.institution, "simulation": experiment}
    with netCDF4.Dataset(path) as ds:
        attrs = {k: str(ds.getncattr(k)) for k in ds.ncattrs()}
    return [f"{path}: global attribute {k}={attrs.get(k)!r}, the campaign says {v!r}"
            for k, v in expected.items() if attrs.get(k) != v]


def _describe(experiment: str, campaign: Campaign) -> list[str]:
    if experiment in SIMULATIONS:
        spec = SIMULATIONS[experiment]
        h0, h1 = campaign.periods.historical
        lines = [spec.description + ".", "",
                 f"Historical period {h0}-{h1}; transient from {campaign.periods.transient_start}"
                 f" after a spin-up at the levels of {campaign.periods.transient_start - 1}.", "",
                 "| driver of change | in this experiment |", "| --- | --- |"]
        for d in DRIVERS_OF_CHANGE:
            state = "varies" if d in spec.varying else "held at its spin-up level"
            lines.append(f"| {DRIVER_MEANING[d]} | {state} |")
        return lines
    ssp, gcm = experiment.split("_", 1)
    return [f"Scenario run {ssp.upper()} with the ISIMIP3b bias-adjusted climate of {gcm}, "
            f"2015-{campaign.periods.scenario_end}, branching from the S3 state at the end of "
            f"2014. CO2, land use and N deposition follow {ssp}."]


def responds_to(campaign: Campaign, model: str) -> tuple[tuple[str, ...], str]:
    """The drivers of change ``model`` (``name.version``) responds to, and its driver's note."""
    from callmip.drivers import DRIVERS

    for m in campaign.models:
        if f"{m.name}.{m.version}" == model:
            caps = DRIVERS[m.driver].capabilities
            return caps.drivers_of_change, caps.note
    return DRIVERS_OF_CHANGE, ""


def _readme(up: Upload, campaign: Campaign, entries: list[dict]) -> str:
    proto = campaign.protocol
    responds, note = responds_to(campaign, up.model)
    ignored = ignored_by(responds)
    lines = [f"# {up.name}", "", f"Model output for ME-org, experiment \"{ME_ORG_EXPERIMENT}\" "
             f"(CalLMIP protocol v2, section 10): **{up.model}**, {up.stage} parameters, "
             f"experiment **{up.experiment}**, {up.resolution} grid.", "",
             "## What the experiment is", "", *_describe(up.experiment, campaign), "",
             f"{up.model} responds to {', '.join(responds)}"
             + (f" and ignores {', '.join(ignored)}" if ignored else "")
             + (f" ({note})" if note else "") + ".", "",
             "## Files", "", "| file | frequency | years | sha256 |", "| --- | --- | --- | --- |"]
    lines += [f"| {e['file']} | {e['frequency']} | {e['years']} | `{e['sha256'][:16]}...` |"
              for e in entries]
    lines += ["", "File names follow the protocol (section 7) exactly; this folder's name "
              "tells the experiments apart.", "", "## Protocol metadata (in every file)", "",
              f"- CalLMIP_Phase: {proto.phase}",
              f"- Calibration_Scenario: {proto.calibration_scenario}",
              f"- Calibration_stage: {up.stage}", f"- Cal_Val: {proto.cal_val}",
              f"- contact: {proto.contact}", f"- institution: {proto.institution}", "",
              "## Upload", "",
              f"1. ME-org: Model Outputs -> Upload Model Output; Name: `{up.name}`.",
              f"2. Link it to the experiment \"{ME_ORG_EXPERIMENT}\" and upload the .nc files "
              "of this folder.",
              f"3. Before uploading, `sha256sum -c {CHECKSUMS}` in this folder verifies the "
              "files; every file passed `callmip check` when the bundle was made.", "",
              f"Campaign `{campaign.name}` (config hash {campaign.config_hash()[:12]}), code "
              f"{code_version()}.", ""]
    return "\n".join(lines)


def _years(path: Path) -> tuple[str, str]:
    m = parse_global_file_name(path.name)
    assert m is not None
    return m.frequency, m.years


def _place(src: Path, dst: Path) -> None:
    """Hard link when possible (same file system, no copy of large files), else copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def write_bundle(run_dir: Path, out: Path | None = None) -> list[Path]:
    """Check every CalLMIP file of ``run_dir`` and write the upload folders; return them."""
    run_dir = Path(run_dir).resolve()
    campaign_file = run_dir / "campaign.yaml"
    campaign = load_campaign(campaign_file)
    _require_contact(campaign, campaign_file)
    uploads = collect(run_dir, campaign)
    problems: list[str] = []
    reports = {}
    for up in uploads:
        for path in up.files:
            report = check_file(path)
            reports[path] = report
            if not report.ok:
                problems.append(report.render())
            problems += _attribute_problems(path, campaign, up.experiment)
    if problems:
        raise BundleError(f"{len(problems)} problem(s); nothing was bundled:\n"
                          + "\n".join(problems))
    out = Path(out) if out is not None else run_dir / "bundle"
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for up in uploads:
            folder = staging / up.name
            folder.mkdir()
            entries = []
            for path in up.files:
                _place(path, folder / path.name)
                freq, years = _years(path)
                report = reports[path]
                entries.append({"file": path.name, "sha256": sha256_file(folder / path.name),
                                "bytes": (folder / path.name).stat().st_size,
                                "frequency": freq, "years": years,
                                "check": "PASS", "warnings": [str(f) for f in report.findings]})
            (folder / CHECKSUMS).write_text("".join(f"{e['sha256']}  {e['file']}\n"
                                                    for e in entries))
            manifest = {
                "name": up.name, "me_org_experiment": ME_ORG_EXPERIMENT,
                "experiment": up.experiment, "model": up.model, "stage": up.stage,
                "resolution": up.resolution, "campaign": campaign.name,
                "config_hash": campaign.config_hash(), "code_version": code_version(),
                "protocol": campaign.protocol.model_dump(),
                "model_responds_to": list(responds_to(campaign, up.model)[0]),
                "created": datetime.now(UTC).isoformat(timespec="seconds"), "files": entries,
            }
            (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
            (folder / "README.md").write_text(_readme(up, campaign, entries))
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
        os.replace(staging, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / up.name for up in uploads]


def verify_bundle(folder: Path) -> list[str]:
    """Problems of one bundle folder: files missing, extra, or not matching the manifest."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    problems = []
    listed = {e["file"] for e in manifest["files"]}
    present = {p.name for p in folder.glob("*.nc")}
    problems += [f"{folder / n}: listed in the manifest but missing" for n in listed - present]
    problems += [f"{folder / n}: not in the manifest" for n in present - listed]
    for e in manifest["files"]:
        path = folder / e["file"]
        if path.is_file() and sha256_file(path) != e["sha256"]:
            problems.append(f"{path}: sha256 differs from the manifest")
    return problems


__all__ = ["BundleError", "Upload", "collect", "verify_bundle",
           "write_bundle"]
