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

Each check reads values through :class:`FileValues` (float64, NaN where missing): a site file's
variables are read once however many checks use them, and ``check_file(keep_values=True)`` hands
them to the scorer, so a site file is opened once from check to score.
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
    TABLE,
    GlobalFileName,
    parse_global_file_name,
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
    values: FileValues | None = None  # what a site file's check read (check_file keep_values)

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


class FileValues:
    """The variables of one open file as float64 arrays, NaN where a value is missing.

    Missing means masked by netCDF4 (``_FillValue``, ``missing_value``, valid range) or not
    finite, the checker's one notion of it. With ``cache`` (site files: one value per day, a few
    kB per variable) every variable and its attributes are read from the open file once, however
    many checks use them, and stay readable after the file is closed, so the scorer reuses what
    the checker read instead of opening the file again. Without (global files: hundreds of MB per
    variable) each use reads the variable anew and nothing is held.
    """

    def __init__(self, ds: netCDF4.Dataset, *, cache: bool) -> None:
        self._ds: netCDF4.Dataset | None = ds
        self._cache = cache
        self._data: dict[str, np.ndarray] = {}
        self._attrs: dict[str, dict] = {}
        self._dims: dict[str, tuple[str, ...]] = {}
        self.order = tuple(ds.variables)  # every variable of the file, in file order
        self.names = frozenset(self.order)
        self.dimensions = {k: len(d) for k, d in ds.dimensions.items()}

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def variable(self, name: str) -> netCDF4.Variable:
        if self._ds is None:
            raise RuntimeError(f"{name}: file closed and the variable was not read")
        return self._ds.variables[name]

    def data(self, name: str) -> np.ndarray:
        """``name``'s values (float64, file shape), NaN where missing."""
        if name in self._data:
            return self._data[name]
        raw = self.variable(name)[:]
        data = np.array(np.ma.getdata(raw), dtype="float64")
        mask = np.ma.getmask(raw)
        if mask is not np.ma.nomask:
            data[mask] = np.nan
        invalid = ~np.isfinite(data)
        if invalid.any():
            data[invalid] = np.nan
        if self._cache:
            self._data[name] = data
        return data

    def attrs(self, name: str) -> dict:
        """``name``'s netCDF attributes, read in one call."""
        if name in self._attrs:
            return self._attrs[name]
        attrs = self.variable(name).__dict__
        if self._cache:
            self._attrs[name] = attrs
        return attrs

    def dims(self, name: str) -> tuple[str, ...]:
        if name not in self._dims:
            self._dims[name] = tuple(self.variable(name).dimensions)
        return self._dims[name]

    def shape(self, name: str) -> tuple[int, ...]:
        """``name``'s shape, without reading its values unless they are held already."""
        if name in self._data:
            return self._data[name].shape
        return tuple(self.variable(name).shape)

    def detach(self) -> None:
        """Forget the file (about to be closed); what was read stays readable."""
        self._ds = None


def _check_name(report: CheckReport, name: str) -> GlobalFileName | None:
    parsed = parse_global_file_name(name)
    if parsed is not None:
        return parsed
    if parse_site_file_name(name) is not None:
        return None
    report.error(
        "file name",
        f"{name!r} does not follow <model>.<version>_global_<0.5deg|1deg|2deg>_"
        "<monthly|annual>_<YYYY-YYYY>_<Prior|Posterior>.nc (global) or "
        "<model>.<version>_Phase1b_Scen<N>_<Site>_<Cal|Val>_<Prior|Posterior>.nc (site)",
    )
    return None


def _check_globals(report: CheckReport, attrs: dict, name_match: GlobalFileName | None) -> None:
    for key, allowed in REQUIRED_GLOBAL_ATTRS.items():
        if key not in attrs:
            report.error("global attributes", f"required attribute {key!r} is missing")
            continue
        value = str(attrs[key])
        if allowed and value not in allowed:
            report.error("global attributes", f"{key}={value!r}; allowed: {', '.join(allowed)}")
    if name_match:
        model = name_match.model_id
        if "Model" in attrs and str(attrs["Model"]) != model:
            report.error(
                "global attributes", f"Model={attrs['Model']!r} but file name says {model!r}"
            )
        stage = attrs.get("Calibration_stage")
        if stage is not None and str(stage) != name_match.stage:
            report.error(
                "global attributes",
                f"Calibration_stage={stage!r} but file name says {name_match.stage!r}",
            )


def _check_time(
    report: CheckReport, ds: netCDF4.Dataset, name_match: GlobalFileName | None
) -> None:
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
            if (y0, y1) != (name_match.y0, name_match.y1):
                report.error(
                    "time",
                    f"covers {y0}-{y1} but file name says {name_match.years}",
                )
            n_years = y1 - y0 + 1
            expected = {"monthly": 12 * n_years, "annual": n_years}.get(name_match.frequency)
            if expected and values.size != expected:
                report.error(
                    "time",
                    f"{values.size} steps; {name_match.frequency} {y0}-{y1} needs {expected}",
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


def _finite_range(data: np.ndarray) -> tuple[float, float] | None:
    """(min, max) of the non-missing values, None when every value is missing."""
    if data.size and not np.isnan(data).any():
        return float(data.min()), float(data.max())
    valid = data[~np.isnan(data)]
    return (float(valid.min()), float(valid.max())) if valid.size else None


def _check_variable(report: CheckReport, values: FileValues, name: str, site: bool) -> None:
    spec = TABLE[name]
    if name not in values:
        if spec.required:
            report.error(name, "required variable is missing")
        else:
            report.warn(name, "not present (the protocol asks for it only if the model has it)")
        return
    attrs = values.attrs(name)
    dims = values.dims(name)
    if dims != ("time", "lat", "lon"):
        report.error(name, f"dimensions {dims}, expected ('time', 'lat', 'lon')")
    units = attrs.get("units")
    if units is None:
        report.error(name, "no units attribute")
    elif units != spec.units and units not in spec.alt_units:
        shown = units.encode("unicode_escape").decode()
        hint = " (contains invisible/non-ASCII characters)" if shown != units else ""
        report.error(name, f"units {shown!r}{hint}; the protocol requires {spec.units!r} exactly")
    std = attrs.get("standard_name")
    if spec.standard_name and std is None:
        report.warn(name, f"no standard_name (expected {spec.standard_name!r})")
    elif spec.standard_name and std != spec.standard_name:
        report.error(name, f"standard_name {std!r}, expected {spec.standard_name!r}")
    if "_FillValue" not in attrs and "missing_value" not in attrs:
        report.warn(name, "no _FillValue/missing_value attribute")
    bounds = _finite_range(values.data(name))
    if bounds is None:
        report.error(name, "all values are missing")
        return
    lo, hi = bounds
    vmin, vmax = spec.bounds(site)
    if lo < vmin or hi > vmax:
        report.error(
            name,
            f"values {lo:.4g}..{hi:.4g} {units} outside plausible range [{vmin:g}, {vmax:g}] "
            f"for {'daily values at one site' if site else 'global means'} "
            "(wrong units or sign?)",
        )


def _check_nep_sign(report: CheckReport, values: FileValues) -> None:
    """nep must be close to gpp - reco (fire aside); a flipped sign is close to reco - gpp."""
    if not all(v in values for v in ("nep", "gpp", "reco")):
        return
    nep, gpp, reco = (values.data(v) for v in ("nep", "gpp", "reco"))
    balance = gpp - reco  # NaN where gpp or reco is missing
    with np.errstate(invalid="ignore"):
        both = ~np.isnan(nep - balance)
        if not both.any():
            return
        err_ok = float(np.mean(np.abs(nep - balance)[both]))
        err_flipped = float(np.mean(np.abs(nep + balance)[both]))
        scale = float(np.nanmean(np.abs(balance)))
    if scale > 0 and err_flipped < err_ok and err_ok > 0.5 * scale:
        report.error(
            "nep",
            "sign looks flipped: nep matches reco - gpp (mean |nep + (gpp - reco)| = "
            f"{err_flipped:.3g}) better than gpp - reco ({err_ok:.3g}); nep must be positive "
            "into the land",
        )


def _stage(global_attrs: dict, name_match: GlobalFileName | None) -> str | None:
    if "Calibration_stage" in global_attrs:
        return str(global_attrs["Calibration_stage"])
    return name_match.stage if name_match else None


def _check_post_unc(report: CheckReport, values: FileValues, stage: str | None) -> None:
    """Validate every ``<var>_post_unc``; ask for the missing ones in Posterior files."""
    for name in values.order:
        parent = post_unc_parent(name)
        if parent is None:
            continue
        if parent not in TABLE:
            report.error(name, f"{parent!r} is not a CalLMIP variable; no uncertainty for it")
            continue
        spec = TABLE[parent]
        if stage == "Prior":
            report.error(name, "posterior uncertainty in a Prior file (only Posterior files)")
        dims = values.dims(name)
        if dims != ("time", "lat", "lon"):
            report.error(name, f"dimensions {dims}, expected ('time', 'lat', 'lon')")
        attrs = values.attrs(name)
        units = attrs.get("units")
        if units != spec.units and units not in spec.alt_units:
            report.error(name, f"units {units!r}; must be {parent}'s units {spec.units!r}")
        std = attrs.get("standard_name")
        if spec.standard_name and std is not None and std != f"{spec.standard_name} standard_error":
            report.error(name, f"standard_name {std!r}, expected "
                               f"'{spec.standard_name} standard_error'")
        data = values.data(name)
        bounds = _finite_range(data)
        if bounds is None:
            report.error(name, "all values are missing")
            continue
        lo, hi = bounds
        if lo < 0:
            report.error(name, f"negative values (min {lo:.4g}): a standard deviation is >= 0")
        if hi > spec.valid_max - spec.valid_min:
            report.error(name, f"values up to {hi:.4g} {units} exceed the plausible spread of "
                               f"{parent} ({spec.valid_max - spec.valid_min:g}; wrong units?)")
        if parent in values:
            links = str(values.attrs(parent).get("ancillary_variables", "")).split()
            if name not in links:
                report.warn(name, f"{parent} has no ancillary_variables attribute naming {name}")
            if values.shape(parent) == values.shape(name):
                gaps = int(np.sum(~np.isnan(values.data(parent)) & np.isnan(data)))
                if gaps:
                    report.warn(name, f"missing in {gaps} values where {parent} has data")
        else:
            report.error(name, f"uncertainty without its variable {parent!r}")
    if stage == "Posterior":
        for parent in OPTIMISED:
            if parent in values and post_unc_name(parent) not in values:
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
    keep_values: bool = False,
) -> CheckReport:
    """Check one file against the CalLMIP table and conventions.

    ``name`` is the file name to apply the naming rules to, when ``path`` is a temporary file
    that will be renamed once it passes. For site files, ``observations`` (site code -> flux
    observations, as the scorer holds them) or ``obs_dir`` (a directory of CalLMIP flux files)
    give the period to check against; ``site_table`` replaces protocol v2's site list. With
    ``keep_values``, a site file's report holds in ``values`` every variable the checker read
    (:class:`FileValues`), for a scorer that would otherwise read the file again; the caller drops
    it when done.
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
        values = FileValues(ds, cache=site_name is not None)
        global_attrs = ds.__dict__
        _check_globals(report, global_attrs, name_match)
        if site_name is not None:
            report.site = check_site(report, ds, values, site_name,
                                     site_table or load_site_table(), observations, obs_label)
        else:
            _check_time(report, ds, name_match)
            _check_latlon(report, ds)
        for var_name in variables or list(TABLE):
            _check_variable(report, values, var_name, site=site_name is not None)
        _check_nep_sign(report, values)
        _check_post_unc(report, values,
                        _stage(global_attrs, name_match) or (site_name and site_name.stage))
        values.detach()
    if keep_values and site_name is not None:
        report.values = values
    return report
