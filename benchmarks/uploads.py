"""The files groups upload: find them, check them, decide what is scored.

Contract: :func:`collect_uploads` walks the given files and directories, recognises CalLMIP
global files by the protocol's file name (Section 7, the checker's pattern), runs the CalLMIP
checker on each first, and returns an :class:`Inventory`: one :class:`UploadFile` per file
found with its checker findings and what happens to it (``scored``, ``flagged`` = scored with
findings, ``skipped`` with the reason), grouped by model.version and calibration stage. It
never raises for a bad file.

The policy decides what a checker error means:

``flag`` (default)
    score what can be scored and flag the file: a variable with its own checker errors (wrong
    units, dimensions, range, all missing) is not scored and says why; errors about the file
    as a whole (name, global attributes, time axis) are shown next to its scores.
``skip``
    a file with any checker error is not scored; its skip reason lists the errors.

Duplicate submissions - two files of one model.version, stage, frequency and experiment
whose years overlap - keep the most recently modified file and skip the others, naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from callmip.conform.check import CheckReport, Level, check_file
from callmip.conform.table import parse_global_file_name
from callmip.constants import SCENARIO_FIRST_YEAR

Policy = Literal["flag", "skip"]
POLICIES: tuple[str, ...] = ("flag", "skip")
#: first year of the SSP scenario runs (protocol: historical to 2014, then 2015-2100)
_SSP = re.compile(r"ssp\d{3}", re.IGNORECASE)
#: checker locations that concern the whole file rather than one variable
FILE_LEVEL = ("file", "file name", "global attributes", "time", "lat", "lon")


@dataclass
class UploadFile:
    """One file found in the upload and what the benchmark does with it."""

    path: Path
    model: str = ""  # <model>.<version>
    stage: str = ""
    frequency: str = ""
    resolution: str = ""
    years: tuple[int, int] | None = None
    experiment: str = "historical"  # historical | ssp126 | ... | scenario
    status: Literal["scored", "flagged", "skipped"] = "scored"
    reason: str = ""
    findings: list[str] = field(default_factory=list)
    unusable: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.model, self.stage, self.frequency, self.experiment)

    def skip(self, reason: str) -> None:
        self.status = "skipped"
        self.reason = reason


@dataclass
class Inventory:
    """Every file found, in the order found, and the groups of those to be used."""

    files: list[UploadFile]
    policy: Policy

    def used(self, experiment: str | None = "historical") -> list[UploadFile]:
        """Files to use (not skipped), optionally of one experiment."""
        return [
            f for f in self.files
            if f.status != "skipped" and (experiment is None or f.experiment == experiment)
        ]

    def groups(self) -> dict[tuple[str, str], list[UploadFile]]:
        """Used files by (model.version, stage)."""
        out: dict[tuple[str, str], list[UploadFile]] = {}
        for f in self.used(None):
            out.setdefault((f.model, f.stage), []).append(f)
        return out

    def scoring_files(self) -> list[UploadFile]:
        """One historical file per model and stage to confront with the references: the
        monthly one when there is one, else the annual one."""
        best: dict[tuple[str, str], UploadFile] = {}
        for f in self.used("historical"):
            key = (f.model, f.stage)
            have = best.get(key)
            if have is None or (have.frequency != "monthly" and f.frequency == "monthly"):
                best[key] = f
        return list(best.values())

    def table(self) -> list[dict]:
        """Rows for the report and artifacts."""
        return [
            {
                "file": f.path.name,
                "directory": str(f.path.parent),
                "model": f.model or "-",
                "stage": f.stage or "-",
                "experiment": f.experiment,
                "frequency": f.frequency or "-",
                "years": f"{f.years[0]}-{f.years[1]}" if f.years else "-",
                "status": f.status,
                "reason": f.reason,
                "checker": "; ".join(f.findings) if f.findings else "PASS",
            }
            for f in self.files
        ]


def find_netcdf(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Every ``*.nc`` file given or below a given directory (sorted), and missing paths."""
    found: list[Path] = []
    missing: list[str] = []
    for given in paths:
        p = Path(given)
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*.nc") if q.is_file()))
        elif p.is_file():
            found.append(p)
        else:
            missing.append(str(p))
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values()), missing


def _experiment(path: Path, years: tuple[int, int]) -> str:
    """'historical', or the SSP named by a global attribute or a directory, else 'scenario'."""
    if years[0] < SCENARIO_FIRST_YEAR:
        return "historical"
    try:
        import netCDF4

        with netCDF4.Dataset(path) as ds:
            for attr in ("experiment_id", "experiment", "scenario", "simulation"):
                if attr in ds.ncattrs():
                    m = _SSP.search(str(ds.getncattr(attr)))
                    if m:
                        return m.group(0).lower()
    except OSError:
        pass
    for part in reversed(path.parent.parts):
        m = _SSP.search(part)
        if m:
            return m.group(0).lower()
    return "scenario"


def _apply_check(upload: UploadFile, report: CheckReport, policy: Policy) -> None:
    errors = [f for f in report.findings if f.level == Level.ERROR]
    upload.findings = [str(f) for f in report.findings]
    if any(f.where == "file" for f in errors):
        upload.skip(f"{upload.path}: " + "; ".join(f.message for f in errors
                                                   if f.where == "file"))
        return
    if policy == "skip" and errors:
        upload.skip(f"{upload.path}: checker errors ({policy} policy): "
                    + "; ".join(f"{f.where}: {f.message}" for f in errors))
        return
    for f in errors:
        if f.where not in FILE_LEVEL:
            variable = f.where
            upload.unusable.setdefault(variable, f"checker: {f.message}")
    if errors:
        upload.status = "flagged"
        shown = "; ".join(f"{f.where}: {f.message}" for f in errors[:3])
        more = f"; and {len(errors) - 3} more" if len(errors) > 3 else ""
        upload.reason = (f"{upload.path}: {len(errors)} checker error(s), the rest is scored: "
                         f"{shown}{more}")


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _mark_duplicates(files: Sequence[UploadFile]) -> None:
    """Of overlapping submissions of one model/stage/frequency/experiment keep the newest."""
    groups: dict[tuple, list[UploadFile]] = {}
    for f in files:
        if f.status != "skipped" and f.years:
            groups.setdefault(f.key, []).append(f)
    for group in groups.values():
        group.sort(key=lambda f: f.path.stat().st_mtime, reverse=True)
        kept: list[UploadFile] = []
        for f in group:
            clash = next((k for k in kept if _overlap(k.years, f.years)), None)  # type: ignore
            if clash is None:
                kept.append(f)
                continue
            f.skip(
                f"{f.path}: duplicate submission of {f.model} {f.stage} ({f.frequency}, "
                f"{f.experiment}, {f.years[0]}-{f.years[1]}): {clash.path} covers the same "
                "years and is newer; that file is used"
            )


def collect_uploads(
    paths: Iterable[Path], policy: Policy = "flag", *, check: bool = True
) -> Inventory:
    """Find, name-parse, check and de-duplicate the uploaded files (see the module docstring).

    ``check=False`` skips the checker (files are still parsed and de-duplicated), for callers
    that have checked the files already.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    found, missing = find_netcdf(paths)
    files: list[UploadFile] = [
        UploadFile(path=Path(m), status="skipped", reason=f"{m}: no such file or directory")
        for m in missing
    ]
    for path in found:
        upload = UploadFile(path=path)
        files.append(upload)
        m = parse_global_file_name(path.name)
        if m is None:
            upload.skip(
                f"{path}: not a CalLMIP global file name (<model>.<version>_global_<res>_"
                "<monthly|annual>_<YYYY-YYYY>_<Prior|Posterior>.nc, protocol section 7)"
            )
            continue
        upload.model = m.model_id
        upload.stage = m.stage
        upload.frequency = m.frequency
        upload.resolution = m.resolution
        upload.years = (m.y0, m.y1)
        if upload.frequency not in ("monthly", "annual"):
            upload.skip(f"{path}: {upload.frequency} files are not benchmarked (monthly or "
                        "annual global files are)")
            continue
        upload.experiment = _experiment(path, upload.years)
        if check:
            _apply_check(upload, check_file(path), policy)
    _mark_duplicates(files)
    return Inventory(files=files, policy=policy)
