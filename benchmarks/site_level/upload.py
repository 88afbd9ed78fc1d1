"""Find the site files of an upload, run the checker on each, and read what can be scored.

Contract: :func:`find_site_files` expands files and directories (recursively, ``*.nc``) into
site files; a ``.nc`` whose name is not a protocol site name becomes an ERROR finding, never a
silent skip. :func:`read_site_run` checks one file with :func:`callmip.conform.check_file`
against the observations and returns a :class:`SiteRun` holding the model's daily series
*converted to the observations' units and sign* (nep -> NEE = -nep x 1000 x 86400 gC m-2 d-1)
for the variables that can be scored. What cannot be scored, and why, is in ``unscored``:

* a file-level ERROR (wrong site code, wrong period, role or attributes contradicting the name,
  lat/lon away from the tower, unreadable file) leaves the whole file unscored;
* an ERROR about one variable (missing, units not as the protocol writes them, out of range,
  nep's sign flipped against the observations, wrong dimensions) leaves that variable unscored;
* a ``<var>_post_unc`` with an ERROR is not used for the coverage of the posterior band.

The file is read with netCDF4, never xarray, which cannot open the official CLASSIC template
("dimension 'lat' already exists as a scalar variable").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd

from benchmarks.units import convert
from callmip.conform.check import CheckReport, Level, check_file
from callmip.conform.phase1_sites import Phase1Site
from callmip.conform.table import TABLE, SiteFileName, parse_site_file_name, post_unc_name
from callmip.fluxobs import FluxObservations


@dataclass
class SiteRun:
    """One submitted site file, checked and read."""

    path: Path
    name: SiteFileName
    report: CheckReport
    site: str  # the observations' spelling of the site code
    role: str | None  # Calibration | Validation (site table), None when not listed
    igbp: str | None
    dates: pd.DatetimeIndex | None
    values: dict[str, np.ndarray] = field(default_factory=dict)  # obs units and sign
    post_unc: dict[str, np.ndarray] = field(default_factory=dict)  # obs units, >= 0
    unscored: dict[str, str] = field(default_factory=dict)  # variable ('*' = file) -> reason

    @property
    def model(self) -> str:
        return self.name.model_id

    @property
    def stage(self) -> str:
        return self.name.stage

    @property
    def scenario(self) -> str:
        return f"Scen{self.name.scenario}"


@dataclass(frozen=True)
class UploadProblem:
    """A path of the upload that is not a site file at all."""

    path: Path
    message: str


def find_site_files(paths: Iterable[Path | str]) -> tuple[list[Path], list[UploadProblem]]:
    """Site files under ``paths`` (files or directories, recursive), and what is not one."""
    files: list[Path] = []
    problems: list[UploadProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*.nc") if p.is_file())
            if not candidates:
                problems.append(UploadProblem(path, "directory holds no .nc files"))
        elif path.is_file():
            candidates = [path]
        else:
            problems.append(UploadProblem(path, "does not exist"))
            continue
        for p in candidates:
            if parse_site_file_name(p.name) is None:
                problems.append(UploadProblem(p, "file name does not follow <model>.<version>_"
                                                 "Phase1b_Scen<N>_<Site>_<Cal|Val>_<Prior|"
                                                 "Posterior>.nc (protocol v2 section 7)"))
            else:
                files.append(p)
    seen: dict[str, Path] = {}
    unique = []
    for p in files:
        if p.name in seen:
            problems.append(UploadProblem(p, f"same file name as {seen[p.name]}; only the first "
                                             "is scored"))
            continue
        seen[p.name] = p
        unique.append(p)
    return unique, problems


def _series(ds: netCDF4.Dataset, name: str) -> np.ndarray:
    return np.ma.filled(np.asarray(ds.variables[name][:], dtype=float), np.nan).ravel()


def read_site_run(
    path: Path,
    observations: Mapping[str, FluxObservations],
    site_table: Mapping[str, Phase1Site],
    obs_label: str,
) -> SiteRun:
    """Check ``path`` and read its scorable series (see the module docstring)."""
    name = parse_site_file_name(path.name)
    if name is None:
        raise ValueError(f"{path}: not a site file name")
    report = check_file(path, observations=observations, site_table=site_table,
                        name=path.name)
    ctx = report.site
    obs = ctx.observations if ctx is not None else None
    site = ctx.site if ctx is not None else None
    run = SiteRun(path, name, report, obs.code if obs is not None else name.site,
                  site.role if site else None, site.igbp if site else None,
                  ctx.axis.dates if ctx is not None else None)
    file_errors = [f for f in report.findings if f.level == Level.ERROR
                   and f.where in ("file", "time", "lat", "lon", "lat/lon", "site", "file name",
                                   "global attributes", "observations")]
    if ctx is None or not ctx.file_ok or file_errors or obs is None:
        reason = "; ".join(f"{f.where}: {f.message}" for f in file_errors)
        if obs is None:
            reason = reason or f"no observations for {name.site} in {obs_label}"
        run.unscored["*"] = reason or "file failed the site checks"
        return run
    with netCDF4.Dataset(path) as ds:
        for var, observed in obs.series.items():
            errors = report.errors_for(var)
            if errors:
                run.unscored[var] = "; ".join(f.message for f in errors)
                continue
            if var not in ds.variables:
                run.unscored[var] = "not in the file"
                continue
            spec = observed.spec
            raw = _series(ds, var)
            units = str(getattr(ds.variables[var], "units", TABLE[var].units))
            run.values[var] = spec.sign * convert(raw, units, spec.units)
            unc_name = post_unc_name(var)
            if unc_name in ds.variables and not report.errors_for(unc_name):
                run.post_unc[var] = np.abs(convert(_series(ds, unc_name), units, spec.units))
    return run
