"""The checks only Phase 1 *site* files need (protocol v2 sections 2.3, 6 and 7).

Contract: :func:`check_site` is called by :func:`callmip.conform.check.check_file` for a file
whose name parses as a site file, with the site's observations when an observation directory is
known. It adds findings to the report and returns the decoded :class:`SiteContext` (site, role,
calendar days) the scorer reuses, so the checker and the scorer never read a file two ways.

Checks: the site code is in the site table (protocol v2 Tables 1-2, or the coordinator's) and
has observations; Cal/Val of the name agrees with the site's role and with ``Cal_Val``; the
other global attributes agree with the name; ``lat``/``lon`` exist as scalars or size-1
coordinates (a missing ``units`` attribute on the scalar - as in the official CLASSIC template -
is a warning: the protocol's example shows units only on the ``(latitude)`` coordinate) and lie
at the tower; the daily axis (:mod:`callmip.conform.daily_axis`) covers exactly the observation
days, leap days included, with the day count stated; the sign of nep, tested statistically
against the observed NEE (corr(-nep, NEE) must not be clearly negative).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import netCDF4
import numpy as np

from callmip.conform.daily_axis import DailyAxis, decode_daily_axis
from callmip.conform.phase1_sites import Phase1Site, canonical_code
from callmip.conform.table import CAL_VAL, SiteFileName

if TYPE_CHECKING:
    from callmip.conform.check import CheckReport
    from callmip.fluxobs import FluxObservations

#: lat/lon of a site file must lie within this many degrees of the tower in the flux file
TOWER_TOLERANCE_DEG = 0.25
#: nep is flagged as sign-flipped when corr(-nep, observed NEE) is below this over >= MIN_DAYS
SIGN_CORRELATION = -0.3
SIGN_MIN_DAYS = 30


@dataclass
class SiteContext:
    """What the checker learned about a site file, for the scorer."""

    name: SiteFileName
    site: Phase1Site | None
    observations: FluxObservations | None
    axis: DailyAxis
    period_ok: bool  # the axis covers exactly the observation days
    file_ok: bool = True  # no file-level error: the file can be scored variable by variable


def _coordinate(ds: netCDF4.Dataset, name: str, long: str) -> tuple[float | None, str | None, str]:
    """(value, units, where) of the file's lat or lon: scalar ``lat`` or size-1 coordinate."""
    for cand in (name, long):
        if cand in ds.variables:
            var = ds.variables[cand]
            data = np.ma.filled(np.asarray(var[:], dtype=float), np.nan).ravel()
            if data.size != 1:
                return None, getattr(var, "units", None), cand
            return float(data[0]), getattr(var, "units", None), cand
    return None, None, name


def _check_latlon(report: CheckReport, ds: netCDF4.Dataset, obs: FluxObservations | None,
                  ctx: SiteContext) -> None:
    found = {}
    for name, long, units in (("lat", "latitude", "degrees_north"),
                              ("lon", "longitude", "degrees_east")):
        if name not in ds.variables:
            report.error(name, "variable missing: the protocol requires scalar 'lat' and 'lon'")
            continue
        var = ds.variables[name]
        if var.size != 1:
            report.error(name, f"{var.size} values; a site file has one (scalar) {name}")
            ctx.file_ok = False
            continue
        if name in ds.dimensions and len(ds.dimensions[name]) != 1:
            report.error(name, f"dimension {name} has size {len(ds.dimensions[name])}, not 1")
        got = getattr(var, "units", None)
        if got is None:
            _, other_units, where = _coordinate(ds, long, long)
            hint = f" ({where} carries {other_units!r})" if other_units else ""
            report.warn(name, f"scalar {name} has no units attribute{hint}; the protocol's "
                              f"example writes {units!r}")
        elif got != units:
            report.error(name, f"units {got!r}, expected {units!r}")
        found[name] = float(np.ma.filled(np.asarray(var[:], dtype=float), np.nan).ravel()[0])
    if obs is None or len(found) < 2:
        return
    dlat = abs(found["lat"] - obs.lat)
    dlon = abs(((found["lon"] - obs.lon + 180.0) % 360.0) - 180.0)
    if max(dlat, dlon) > TOWER_TOLERANCE_DEG:
        km = 111.2 * float(np.hypot(dlat, dlon * np.cos(np.deg2rad(obs.lat))))
        report.error("lat/lon", f"{found['lat']:.4f}N {found['lon']:.4f}E is {km:.0f} km from the "
                                f"{obs.code} tower ({obs.lat:.4f}N {obs.lon:.4f}E in "
                                f"{obs.path.name}): wrong site code or wrong coordinates")
        ctx.file_ok = False


def _check_attrs(report: CheckReport, ds: netCDF4.Dataset, name: SiteFileName) -> bool:
    attrs = {k: str(ds.getncattr(k)) for k in ds.ncattrs()}
    expected = {
        "Model": name.model_id,
        "CalLMIP_Phase": name.phase,
        "Calibration_Scenario": f"Scen{name.scenario}",
        "Calibration_stage": name.stage,
        "Cal_Val": CAL_VAL[name.calval],
    }
    ok = True
    for key, want in expected.items():
        if key in attrs and attrs[key] != want:
            report.error("global attributes", f"{key}={attrs[key]!r} but the file name says "
                                              f"{want!r}")
            ok = False
    return ok


def _check_site_code(report: CheckReport, name: SiteFileName,
                     table: Mapping[str, Phase1Site], have_obs: bool,
                     obs_dir_label: str) -> Phase1Site | None:
    code = canonical_code(name.site, table)
    if code is None:
        if have_obs:
            report.warn("site", f"{name.site} is not in the site table (protocol v2 Tables 1-2); "
                                "scored without a role or vegetation class")
            return None
        report.error("site", f"site code {name.site!r} is neither in the site table (protocol "
                             f"v2 Tables 1-2) nor among the observations in {obs_dir_label}: "
                             "wrong site code?")
        return None
    site = table[code]
    if name.calval != site.calval:
        report.error("file name", f"says {name.calval} but {site.code} is a {site.role.lower()} "
                                  "site in the site table; calibration and validation sites "
                                  "are scored apart")
    return site


def _check_period(report: CheckReport, axis: DailyAxis, obs: FluxObservations | None,
                  site: Phase1Site | None) -> bool:
    for w in axis.warnings:
        report.warn("time", w)
    if axis.errors or axis.dates is None:
        for e in axis.errors:
            report.error("time", e)
        return False
    dates = axis.dates
    if obs is not None:
        same = len(dates) == obs.n_days and dates[0] == obs.first_day
        if same:
            report.note("time", f"daily axis {axis.describe()}; matches the {obs.code} "
                                f"observations ({obs.describe_period()})")
            return True
        missing_leap = obs.n_leap_days - axis.n_leap_days
        hint = ""
        if dates[0] == obs.first_day and obs.n_days - len(dates) == missing_leap > 0:
            hint = f" - the {missing_leap} leap days (29 Feb) are missing"
        report.error("time", f"wrong period: the file covers {axis.describe()}; the {obs.code} "
                             f"observations ({obs.path.name}) cover {obs.describe_period()}{hint}")
        return False
    report.note("time", f"daily axis {axis.describe()}")
    whole = dates[0].month == 1 and dates[0].day == 1 and dates[-1].month == 12 and \
        dates[-1].day == 31
    if not whole:
        report.warn("time", "no observations to compare with, and the axis does not run from "
                            "1 January to 31 December")
    years = dates[-1].year - dates[0].year + 1
    if site is not None and site.record_years and years != site.record_years:
        report.warn("time", f"{years} years, but the site table gives {site.code} a record of "
                            f"{site.record_years} years (no observations to check the days)")
    return False


def _check_nep_sign(report: CheckReport, ds: netCDF4.Dataset, ctx: SiteContext) -> None:
    obs = ctx.observations
    if not ctx.period_ok or obs is None or "nep" not in obs.series or "nep" not in ds.variables:
        return
    var = ds.variables["nep"]
    if var.size != obs.n_days:
        return
    model = np.ma.filled(np.asarray(var[:], dtype=float), np.nan).ravel()
    observed = obs.series["nep"].value
    ok = np.isfinite(model) & np.isfinite(observed)
    if ok.sum() < SIGN_MIN_DAYS or np.std(model[ok]) == 0 or np.std(observed[ok]) == 0:
        return
    r = float(np.corrcoef(-model[ok], observed[ok])[0, 1])
    if r < SIGN_CORRELATION:
        report.error("nep", f"sign looks flipped against the {obs.code} observations: "
                            f"corr(-nep, observed NEE) = {r:.2f} over {int(ok.sum())} days "
                            "(NEE is positive to the atmosphere, nep positive into the land, so "
                            "-nep should follow NEE); not scored")


def check_site(
    report: CheckReport,
    ds: netCDF4.Dataset,
    name: SiteFileName,
    table: Mapping[str, Phase1Site],
    observations: Mapping[str, FluxObservations] | None,
    obs_dir_label: str,
) -> SiteContext:
    """Run the site-file checks on the open dataset; return what the scorer needs."""
    obs_by_lower = {k.lower(): v for k, v in (observations or {}).items()}
    obs = obs_by_lower.get(name.site.lower())
    site = _check_site_code(report, name, table, obs is not None, obs_dir_label)
    if observations is None:
        report.warn("observations", "no observation directory: the period is checked against "
                                    "the site table's record length only")
    elif obs is None and site is not None:
        report.warn("observations", f"no flux file for {site.code} in {obs_dir_label}: the "
                                    "file is checked but cannot be scored")
    attrs_ok = _check_attrs(report, ds, name)
    t = ds.variables.get("time")
    if t is None:
        axis = DailyAxis(None, errors=["no time variable"])
    else:
        axis = decode_daily_axis(t[:], getattr(t, "units", None), getattr(t, "calendar", None),
                                 obs.first_day if obs is not None else None)
    ctx = SiteContext(name, site, obs, axis, period_ok=False)
    ctx.period_ok = _check_period(report, axis, obs, site)
    _check_latlon(report, ds, obs, ctx)
    _check_nep_sign(report, ds, ctx)
    code_ok = site is not None or obs is not None
    role_ok = site is None or name.calval == site.calval
    ctx.file_ok = ctx.file_ok and ctx.period_ok and attrs_ok and code_ok and role_ok
    return ctx

