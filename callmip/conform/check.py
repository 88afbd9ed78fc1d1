"""A CMOR-style checker for CalLMIP files: collect every finding, then report them all at once.

``callmip check FILES...`` runs :func:`check_file` on each file and prints a per-file report; the
conform stage runs it on every file it writes and refuses to publish a file with errors. Checks:
file name, required global attributes, for each Table-3 variable its presence, dimensions, units
(exact strings), standard name, fill value and range; the time axis (units, calendar, monotonic,
bounds); lat/lon coordinates; a sign heuristic for nep against gpp - reco; and the
posterior-uncertainty variables ``<var>_post_unc`` (only in Posterior files, same units as their
variable, non-negative, plausible size, CF ``standard_error`` standard name and
``ancillary_variables`` link).

Phase 1 site files (``<model>.<version>_Phase1b_Scen<N>_<Site>_<Cal|Val>_<Prior|Posterior>.nc``)
get the site checks of :mod:`callmip.conform.site_check` instead of the global time and lat/lon
checks - the daily axis against the site's observation period, scalar lat/lon at the tower, the
site's role, nep's sign against the observed NEE - and daily site value ranges. Findings are
ERROR (the protocol is broken; a file or variable with one is not scored), WARNING (the protocol
is silent or asks softly) or INFO (what was checked, e.g. the day count).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import netCDF4
import numpy as np

from callmip.conform.phase1_sites import Phase1Site, load_site_table
from callmip.conform.site_check import SiteContext, check_site
from callmip.conform.table import (
    OPTIMISED,
    REQUIRED_GLOBAL_ATTRS,
    SITE_FILE_NAME,
    TABLE,
    parse_site_file_name,
    post_unc_name,
    post_unc_parent,
)
from callmip.fluxobs import (
    FluxObservations,
    ObservationFileError,
    observation_files,
    read_observations,
)

GLOBAL_NAME = re.compile(
    r"^(?P<model>[A-Za-z0-9-]+)\.(?P<version>[A-Za-z0-9.-]+)_global_"
    r"(?P<res>0\.5deg|1deg|2deg)_(?P<freq>monthly|annual|daily)_"
    r"(?P<y0>\d{4})-(?P<y1>\d{4})_(?P<stage>Prior|Posterior)\.nc$"
)
SITE_NAME = SITE_FILE_NAME


class Level(StrEnum):
    ERROR = "ERROR"
    WARNING = "WARNING"
    INFO = "INFO"


@dataclass
class Finding:
    level: Level
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level:7s} {self.where}: {self.message}"


@dataclass
class CheckReport:
    path: Path
    findings: list[Finding] = field(default_factory=list)
    site: SiteContext | None = None  # set for Phase 1 site files

    @property
    def ok(self) -> bool:
        return not any(f.level == Level.ERROR for f in self.findings)

    def error(self, where: str, message: str) -> None:
        self.findings.append(Finding(Level.ERROR, where, message))

    def warn(self, where: str, message: str) -> None:
        self.findings.append(Finding(Level.WARNING, where, message))

    def note(self, where: str, message: str) -> None:
        self.findings.append(Finding(Level.INFO, where, message))

    def errors_for(self, where: str) -> list[Finding]:
        """The ERROR findings about ``where`` (a variable name, 'time', ...)."""
        return [f for f in self.findings if f.level == Level.ERROR and f.where == where]

    def render(self) -> str:
        n_err = sum(f.level == Level.ERROR for f in self.findings)
        n_warn = sum(f.level == Level.WARNING for f in self.findings)
        head = f"{'PASS' if self.ok else 'FAIL'} {self.path} ({n_err} errors, {n_warn} warnings)"
        return "\n".join([head, *(f"  {f}" for f in self.findings)])


def _check_name(report: CheckReport, name: str) -> re.Match | None:
    m = GLOBAL_NAME.match(name)
    if m:
        return m
    if SITE_NAME.match(name):
        return None
    report.error(
        "file name",
        f"{name!r} does not follow <model>.<version>_global_<0.5deg|1deg|2deg>_"
        "<monthly|annual>_<YYYY-YYYY>_<Prior|Posterior>.nc (global) or "
        "<model>.<version>_Phase1b_Scen<N>_<Site>_<Cal|Val>_<Prior|Posterior>.nc (site)",
    )
    return None


def _check_globals(report: CheckReport, ds: netCDF4.Dataset, name_match: re.Match | None) -> None:
    attrs = {k: ds.getncattr(k) for k in ds.ncattrs()}
    for key, allowed in REQUIRED_GLOBAL_ATTRS.items():
        if key not in attrs:
            report.error("global attributes", f"required attribute {key!r} is missing")
            continue
        value = str(attrs[key])
        if allowed and value not in allowed:
            report.error("global attributes", f"{key}={value!r}; allowed: {', '.join(allowed)}")
    if name_match:
        model = f"{name_match['model']}.{name_match['version']}"
        if "Model" in attrs and str(attrs["Model"]) != model:
            report.error(
                "global attributes", f"Model={attrs['Model']!r} but file name says {model!r}"
            )
        stage = attrs.get("Calibration_stage")
        if stage is not None and str(stage) != name_match["stage"]:
            report.error(
                "global attributes",
                f"Calibration_stage={stage!r} but file name says {name_match['stage']!r}",
            )


def _check_time(report: CheckReport, ds: netCDF4.Dataset, name_match: re.Match | None) -> None:
    if "time" not in ds.variables:
        report.error("time", "no time coordinate variable")
        return
    t = ds.variables["time"]
    units = getattr(t, "units", "")
    if not re.match(r"^days since \d{4}-\d{1,2}-\d{1,2}", units):
        report.error("time", f"units {units!r}: expected 'days since YYYY-MM-DD ...'")
    calendar = getattr(t, "calendar", None)
    if calendar is None:
        report.error("time", "no calendar attribute")
    values = t[:]
    if np.ma.is_masked(values) or not np.all(np.isfinite(np.ma.filled(values, np.nan))):
        report.error("time", "time values contain missing values")
        return
    if values.size > 1 and not np.all(np.diff(values) > 0):
        report.error("time", "time values are not strictly increasing")
    if name_match and calendar and units.startswith("days since"):
        try:
            dates = netCDF4.num2date(values, units, calendar)
            y0, y1 = dates[0].year, dates[-1].year
            if (y0, y1) != (int(name_match["y0"]), int(name_match["y1"])):
                report.error(
                    "time",
                    f"covers {y0}-{y1} but file name says {name_match['y0']}-{name_match['y1']}",
                )
            n_years = y1 - y0 + 1
            expected = {"monthly": 12 * n_years, "annual": n_years}.get(name_match["freq"])
            if expected and values.size != expected:
                report.error(
                    "time", f"{values.size} steps; {name_match['freq']} {y0}-{y1} needs {expected}"
                )
        except Exception as exc:
            report.error("time", f"cannot decode time with units {units!r}: {exc}")
    if name_match and "bounds" not in t.ncattrs():
        report.warn("time", "no bounds attribute (time_bnds) on a global file")


def _check_latlon(report: CheckReport, ds: netCDF4.Dataset) -> None:
    for name, units in (("lat", "degrees_north"), ("lon", "degrees_east")):
        if name not in ds.variables:
            report.error(name, "coordinate variable missing (CalLMIP requires 'lat' and 'lon')")
            continue
        got = getattr(ds.variables[name], "units", None)
        if got != units:
            report.error(name, f"units {got!r}, expected {units!r}")


def _check_variable(report: CheckReport, ds: netCDF4.Dataset, name: str, site: bool) -> None:
    spec = TABLE[name]
    if name not in ds.variables:
        if spec.required:
            report.error(name, "required variable is missing")
        else:
            report.warn(name, "not present (the protocol asks for it only if the model has it)")
        return
    var = ds.variables[name]
    if tuple(var.dimensions) != ("time", "lat", "lon"):
        report.error(name, f"dimensions {var.dimensions}, expected ('time', 'lat', 'lon')")
    units = getattr(var, "units", None)
    if units is None:
        report.error(name, "no units attribute")
    elif units != spec.units and units not in spec.alt_units:
        shown = units.encode("unicode_escape").decode()
        hint = " (contains invisible/non-ASCII characters)" if shown != units else ""
        report.error(name, f"units {shown!r}{hint}; the protocol requires {spec.units!r} exactly")
    std = getattr(var, "standard_name", None)
    if spec.standard_name and std is None:
        report.warn(name, f"no standard_name (expected {spec.standard_name!r})")
    elif spec.standard_name and std != spec.standard_name:
        report.error(name, f"standard_name {std!r}, expected {spec.standard_name!r}")
    if "_FillValue" not in var.ncattrs() and "missing_value" not in var.ncattrs():
        report.warn(name, "no _FillValue/missing_value attribute")
    data = np.ma.masked_invalid(var[:].astype("float64"))
    if data.count() == 0:
        report.error(name, "all values are missing")
        return
    lo, hi = float(data.min()), float(data.max())
    vmin, vmax = spec.bounds(site)
    if lo < vmin or hi > vmax:
        report.error(
            name,
            f"values {lo:.4g}..{hi:.4g} {units} outside plausible range [{vmin:g}, {vmax:g}] "
            f"for {'daily values at one site' if site else 'global means'} "
            "(wrong units or sign?)",
        )


def _check_nep_sign(report: CheckReport, ds: netCDF4.Dataset) -> None:
    """nep must be close to gpp - reco (fire aside); a flipped sign is close to reco - gpp."""
    if not all(v in ds.variables for v in ("nep", "gpp", "reco")):
        return
    nep, gpp, reco = (np.ma.masked_invalid(ds.variables[v][:].astype("float64")) for v in
                      ("nep", "gpp", "reco"))
    balance = gpp - reco
    err_ok = float(np.ma.mean(np.abs(nep - balance)))
    err_flipped = float(np.ma.mean(np.abs(nep + balance)))
    scale = float(np.ma.mean(np.abs(balance)))
    if scale > 0 and err_flipped < err_ok and err_ok > 0.5 * scale:
        report.error(
            "nep",
            "sign looks flipped: nep matches reco - gpp (mean |nep + (gpp - reco)| = "
            f"{err_flipped:.3g}) better than gpp - reco ({err_ok:.3g}); nep must be positive "
            "into the land",
        )


def _stage(ds: netCDF4.Dataset, name_match: re.Match | None) -> str | None:
    if "Calibration_stage" in ds.ncattrs():
        return str(ds.getncattr("Calibration_stage"))
    return name_match["stage"] if name_match else None


def _check_post_unc(report: CheckReport, ds: netCDF4.Dataset, stage: str | None) -> None:
    """Validate every ``<var>_post_unc``; ask for the missing ones in Posterior files."""
    for name in ds.variables:
        parent = post_unc_parent(name)
        if parent is None:
            continue
        if parent not in TABLE:
            report.error(name, f"{parent!r} is not a CalLMIP variable; no uncertainty for it")
            continue
        spec = TABLE[parent]
        if stage == "Prior":
            report.error(name, "posterior uncertainty in a Prior file (only Posterior files)")
        var = ds.variables[name]
        if tuple(var.dimensions) != ("time", "lat", "lon"):
            report.error(name, f"dimensions {var.dimensions}, expected ('time', 'lat', 'lon')")
        units = getattr(var, "units", None)
        if units != spec.units and units not in spec.alt_units:
            report.error(name, f"units {units!r}; must be {parent}'s units {spec.units!r}")
        std = getattr(var, "standard_name", None)
        if spec.standard_name and std is not None and std != f"{spec.standard_name} standard_error":
            report.error(name, f"standard_name {std!r}, expected "
                               f"'{spec.standard_name} standard_error'")
        data = np.ma.masked_invalid(var[:].astype("float64"))
        if data.count() == 0:
            report.error(name, "all values are missing")
            continue
        lo, hi = float(data.min()), float(data.max())
        if lo < 0:
            report.error(name, f"negative values (min {lo:.4g}): a standard deviation is >= 0")
        if hi > spec.valid_max - spec.valid_min:
            report.error(name, f"values up to {hi:.4g} {units} exceed the plausible spread of "
                               f"{parent} ({spec.valid_max - spec.valid_min:g}; wrong units?)")
        if parent in ds.variables:
            pvar = ds.variables[parent]
            links = str(getattr(pvar, "ancillary_variables", "")).split()
            if name not in links:
                report.warn(name, f"{parent} has no ancillary_variables attribute naming {name}")
            if pvar.shape == var.shape:
                pdata = np.ma.masked_invalid(pvar[:].astype("float64"))
                gaps = int(np.sum(~np.ma.getmaskarray(pdata) & np.ma.getmaskarray(data)))
                if gaps:
                    report.warn(name, f"missing in {gaps} values where {parent} has data")
        else:
            report.error(name, f"uncertainty without its variable {parent!r}")
    if stage == "Posterior":
        for parent in OPTIMISED:
            if parent in ds.variables and post_unc_name(parent) not in ds.variables:
                report.warn(parent, f"optimised variable without {post_unc_name(parent)}: the "
                                    "protocol asks for posterior uncertainties (or ensembles)")


def check_file(
    path: Path | str,
    variables: list[str] | None = None,
    name: str | None = None,
    *,
    obs_dir: Path | str | None = None,
    observations: Mapping[str, FluxObservations] | None = None,
    site_table: Mapping[str, Phase1Site] | None = None,
) -> CheckReport:
    """Check one file against the CalLMIP table and conventions.

    ``name`` is the file name to apply the naming rules to, when ``path`` is a temporary file
    that will be renamed once it passes. For site files, ``observations`` (site code -> flux
    observations, as the scorer holds them) or ``obs_dir`` (a directory of CalLMIP flux files)
    give the period to check against; ``site_table`` replaces protocol v2's site list.
    """
    path = Path(path)
    report = CheckReport(path)
    if not path.is_file():
        report.error("file", "does not exist")
        return report
    site_name = parse_site_file_name(name or path.name)
    name_match = None if site_name else _check_name(report, name or path.name)
    obs_label = str(obs_dir) if obs_dir is not None else "the given observations"
    if site_name is not None and observations is None and obs_dir is not None:
        try:
            observations = {code: read_observations(p)
                            for code, p in observation_files(obs_dir).items()}
        except ObservationFileError as exc:
            report.error("observations", str(exc))
            return report
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        report.error("file", f"not a readable NetCDF file: {exc}")
        return report
    with ds:
        _check_globals(report, ds, name_match)
        if site_name is not None:
            report.site = check_site(report, ds, site_name, site_table or load_site_table(),
                                     observations, obs_label)
        else:
            _check_time(report, ds, name_match)
            _check_latlon(report, ds)
        for var_name in variables or list(TABLE):
            _check_variable(report, ds, var_name, site=site_name is not None)
        _check_nep_sign(report, ds)
        _check_post_unc(report, ds, _stage(ds, name_match) or (site_name and site_name.stage))
    return report
