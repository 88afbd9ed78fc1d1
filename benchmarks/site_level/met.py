"""Read site meteorology in the ALMA/PLUMBER2 layout and reduce it to daily means.

Contract: PLUMBER2 met files (Ukkola et al. 2022, ESSD 14, 449-461; made with FluxnetLSM) are
named ``<site>_<y0>-<y1>_<source>_Met.nc`` (e.g. ``DK-Sor_1997-2014_FLUXNET2015_Met.nc``) and
hold half-hourly or hourly ALMA variables on ``(time, y, x)``: ``SWdown`` [W m-2], ``Tair``
[K], ``Qair`` [kg kg-1], ``RH`` [%], ``Psurf`` [Pa], with ``time`` in seconds since the first
step. :func:`met_files` finds them in a directory; :func:`read_daily_met` returns daily means of
SWdown, Tair (K) and RH (%) indexed by calendar date (leap days kept; days with fewer than
half of their steps valid are NaN). RH missing is derived from Qair, Tair and Psurf (Bolton
1980 saturation pressure); Psurf missing then defaults to 101325 Pa and the note says so.

The CalLMIP flux files carry no meteorology, and none is shipped: the met files come from the
PLUMBER2 archive or ME-org, and ``callmip sites --met DIR`` reads any directory of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd

from benchmarks.units import UnitError, convert

MET_FILE = re.compile(r"^(?P<site>[A-Z]{2}-[A-Za-z0-9]{3})_(?P<y0>\d{4})-(?P<y1>\d{4})_.*Met\.nc$")
MET_VARIABLES = ("SWdown", "Tair", "RH")
PRESSURE_UNITS = {"Pa": 1.0, "hPa": 100.0, "kPa": 1000.0}


class MetFileError(ValueError):
    """A met file cannot be used (names the file, variable and problem)."""


@dataclass(frozen=True)
class DailyMet:
    """Daily means of the regressors at one site."""

    site: str
    path: Path
    frame: pd.DataFrame  # index: dates; columns SWdown [W m-2], Tair [K], RH [%]
    note: str = ""


def met_files(met_dir: Path | str) -> dict[str, Path]:
    """Site code -> met file in ``met_dir`` (codes compared case-insensitively by callers)."""
    met_dir = Path(met_dir)
    if not met_dir.is_dir():
        raise MetFileError(f"{met_dir}: met directory does not exist")
    out = {}
    for p in sorted(met_dir.glob("*.nc")):
        m = MET_FILE.match(p.name)
        if m:
            out[m["site"]] = p
    return out


def _values(ds: netCDF4.Dataset, path: Path, name: str) -> tuple[np.ndarray, str] | None:
    if name not in ds.variables:
        return None
    var = ds.variables[name]
    data = np.ma.filled(np.asarray(var[:], dtype=float), np.nan)
    return data.reshape(data.shape[0], -1)[:, 0], str(getattr(var, "units", ""))


def _to(values: np.ndarray, units: str, target: str, path: Path, name: str) -> np.ndarray:
    spelled = {"C": "degC", "deg C": "degC", "%": "%", "": "1", "-": "1"}.get(units.strip(), units)
    try:
        return convert(values, spelled, target)
    except UnitError as exc:
        raise MetFileError(f"{path}: {name} has units {units!r}, not convertible to "
                           f"{target!r} ({exc})") from exc


def relative_humidity(qair: np.ndarray, tair_k: np.ndarray, psurf_pa: np.ndarray) -> np.ndarray:
    """RH [%] from specific humidity, temperature and pressure (Bolton 1980)."""
    e = qair * psurf_pa / (0.622 + 0.378 * qair)
    es = 611.2 * np.exp(17.67 * (tair_k - 273.15) / (tair_k - 29.65))
    return np.clip(100.0 * e / es, 0.0, 100.0)


def read_daily_met(path: Path | str) -> DailyMet:
    """Daily means of SWdown, Tair and RH from one PLUMBER2-layout met file."""
    path = Path(path)
    m = MET_FILE.match(path.name)
    if m is None:
        raise MetFileError(f"{path}: not a PLUMBER2 met file name (<site>_<y0>-<y1>_..._Met.nc)")
    note = ""
    with netCDF4.Dataset(path) as ds:
        t = ds.variables.get("time")
        if t is None:
            raise MetFileError(f"{path}: no time variable")
        stamps = _stamps(path, np.asarray(t[:], float), str(getattr(t, "units", "")),
                         str(getattr(t, "calendar", "standard")))
        got = {n: _values(ds, path, n) for n in ("SWdown", "Tair", "RH", "Qair", "Psurf")}
        for need in ("SWdown", "Tair"):
            if got[need] is None:
                raise MetFileError(f"{path}: variable {need!r} missing (PLUMBER2 layout)")
        sw = _to(*got["SWdown"], "W m-2", path, "SWdown")
        tair = _to(*got["Tair"], "K", path, "Tair")
        if got["RH"] is not None:
            rh = _to(*got["RH"], "%", path, "RH")  # a fraction (units '1') becomes percent
        elif got["Qair"] is not None:
            if got["Psurf"] is not None:
                values, units = got["Psurf"]
                if units not in PRESSURE_UNITS:
                    raise MetFileError(f"{path}: Psurf has units {units!r}; expected one of "
                                       f"{', '.join(PRESSURE_UNITS)}")
                ps = values * PRESSURE_UNITS[units]
            else:
                ps = np.full_like(tair, 101325.0)
                note = "RH from Qair and Tair at 101325 Pa (no Psurf)"
            rh = relative_humidity(got["Qair"][0], tair, ps)
        else:
            raise MetFileError(f"{path}: neither 'RH' nor 'Qair' present")
    first = stamps.normalize()[0]
    day = ((stamps - first) // pd.Timedelta(days=1)).to_numpy().astype(int)
    n_days = int(day.max()) + 1
    per_day = np.bincount(day, minlength=n_days)
    columns = {}
    for name, values in (("SWdown", sw), ("Tair", tair), ("RH", rh)):
        ok = np.isfinite(values)
        count = np.bincount(day[ok], minlength=n_days)
        total = np.bincount(day[ok], weights=values[ok], minlength=n_days)
        with np.errstate(invalid="ignore", divide="ignore"):
            columns[name] = np.where(count >= per_day.max() / 2, total / count, np.nan)
    daily = pd.DataFrame(columns, index=pd.date_range(first, periods=n_days, freq="D"))
    daily.index.name = "date"
    return DailyMet(m["site"], path, daily, note)


_TIME_UNITS = re.compile(r"^\s*(seconds|minutes|hours|days)\s+since\s+(.+?)\s*$")


def _stamps(path: Path, values: np.ndarray, units: str, calendar: str) -> pd.DatetimeIndex:
    """Time stamps of a met file, vectorised (a 20-year half-hourly file has 350,000 steps)."""
    m = _TIME_UNITS.match(units)
    if m is None:
        raise MetFileError(f"{path}: time units {units!r}: expected '<seconds|...> since DATE'")
    if calendar.lower() not in ("standard", "gregorian", "proleptic_gregorian"):
        raise MetFileError(f"{path}: time calendar {calendar!r}: PLUMBER2 files are Gregorian")
    origin = pd.Timestamp(m.group(2))
    unit = {"seconds": "s", "minutes": "min", "hours": "h", "days": "D"}[m.group(1)]
    return pd.DatetimeIndex(origin + pd.to_timedelta(values, unit=unit))
