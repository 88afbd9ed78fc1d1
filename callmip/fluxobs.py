"""CalLMIP Phase 1 flux-tower observation files: find them, read them, state their period.

Contract: the files are ``<site>_daily_aggregated_<y0>-<y1>_FLUXNET2015_Flux.nc`` (protocol v2
section 5, as distributed by the CalLMIP GitHub Phase1 repository): daily ``NEE_daily``,
``Qle_daily``, ``Qh_daily`` with joint uncertainties ``*_uc_daily``, a ``time`` axis in seconds
on the standard (Gregorian) calendar *with* leap days, scalar-like ``latitude(y)`` and
``longitude(x)``. :func:`read_observations` keeps every day (29 February too) and returns the
values in the file's units with fill values as NaN. Any directory of such files works
(:func:`observation_files`), never only the shipped ``data/flux-sites``.

Signs, the classic trap: NEE is gC m-2 d-1 *positive to the atmosphere* (the file's
``standard_name`` says "downward"; the protocol and FLUXNET say upward, and the values - negative
in summer at forests - agree with the protocol), while CalLMIP nep is *positive into the land*:
:data:`OBS_VARIABLES` records ``sign = -1`` for it. A further observed variable ``X_daily`` whose
``CMIP_short_name`` attribute names a CalLMIP variable is picked up with sign +1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd

OBS_FILE = re.compile(r"^(?P<site>[A-Z]{2}-[A-Za-z0-9]{3})_daily_aggregated_.*_Flux\.nc$")


@dataclass(frozen=True)
class ObsVariable:
    """How a CalLMIP variable is compared with an observed flux-site variable."""

    model_variable: str  # CalLMIP name (Table 3)
    site_variable: str  # name in the flux file
    uncertainty: str  # its uncertainty variable in the flux file
    units: str  # the flux file's units, canonical spelling
    sign: float  # multiply the model value (converted to ``units``) by this
    note: str


OBS_VARIABLES: tuple[ObsVariable, ...] = (
    ObsVariable("nep", "NEE_daily", "NEE_uc_daily", "gC m-2 d-1", -1.0,
                "compared as NEE = -nep, gC m-2 d-1, positive to the atmosphere"),
    ObsVariable("hfls", "Qle_daily", "Qle_uc_daily", "W m-2", 1.0, "latent heat flux"),
    ObsVariable("hfss", "Qh_daily", "Qh_uc_daily", "W m-2", 1.0, "sensible heat flux"),
)


@dataclass(frozen=True)
class ObservedSeries:
    """One observed variable at one site: daily values and 1-sigma uncertainties."""

    spec: ObsVariable
    value: np.ndarray
    uncertainty: np.ndarray


@dataclass(frozen=True)
class FluxObservations:
    """One tower's daily record, every calendar day of the period (leap days included)."""

    code: str
    path: Path
    lat: float
    lon: float
    dates: pd.DatetimeIndex
    series: dict[str, ObservedSeries]  # CalLMIP variable -> series

    @property
    def first_day(self) -> pd.Timestamp:
        return self.dates[0]

    @property
    def last_day(self) -> pd.Timestamp:
        return self.dates[-1]

    @property
    def n_days(self) -> int:
        return len(self.dates)

    @property
    def n_leap_days(self) -> int:
        return int(((self.dates.month == 2) & (self.dates.day == 29)).sum())

    def describe_period(self) -> str:
        return (f"{self.first_day:%Y-%m-%d}..{self.last_day:%Y-%m-%d}, {self.n_days} days "
                f"incl. {self.n_leap_days} leap days")


class ObservationFileError(ValueError):
    """An observation file cannot be used (names the file and the problem)."""


def observation_files(obs_dir: Path | str) -> dict[str, Path]:
    """Site code -> flux file in ``obs_dir`` (not recursive); codes as the file names spell them."""
    obs_dir = Path(obs_dir)
    if not obs_dir.is_dir():
        raise ObservationFileError(f"{obs_dir}: observation directory does not exist")
    out: dict[str, Path] = {}
    for path in sorted(obs_dir.glob("*.nc")):
        m = OBS_FILE.match(path.name)
        if m:
            if m["site"] in out:
                raise ObservationFileError(
                    f"{obs_dir}: two flux files for {m['site']}: {out[m['site']].name}, {path.name}"
                )
            out[m["site"]] = path
    return out


def _find_spec(name: str, var: netCDF4.Variable, units: str) -> ObsVariable | None:
    for spec in OBS_VARIABLES:
        if spec.site_variable == name:
            return spec
    cmip = str(getattr(var, "CMIP_short_name", ""))
    if not name.endswith("_daily") or "_uc_" in name or cmip in ("", "NULL"):
        return None
    from callmip.conform.table import TABLE  # late: keeps this module import-light

    if cmip not in TABLE or any(s.model_variable == cmip for s in OBS_VARIABLES):
        return None
    return ObsVariable(cmip, name, name.replace("_daily", "_uc_daily"), units, 1.0, cmip)


def read_observations(path: Path | str) -> FluxObservations:
    """Read one flux file; fill values become NaN, every day is kept."""
    path = Path(path)
    m = OBS_FILE.match(path.name)
    if m is None:
        raise ObservationFileError(f"{path}: not a CalLMIP flux file name "
                                   "(<site>_daily_aggregated_<y0>-<y1>_..._Flux.nc)")
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise ObservationFileError(f"{path}: not a readable NetCDF file ({exc})") from exc
    with ds:
        if "time" not in ds.variables:
            raise ObservationFileError(f"{path}: no time variable")
        t = ds.variables["time"]
        dates = netCDF4.num2date(np.asarray(t[:], float), t.units,
                                 getattr(t, "calendar", "standard"),
                                 only_use_cftime_datetimes=False,
                                 only_use_python_datetimes=True)
        index = pd.DatetimeIndex(pd.to_datetime(list(dates))).normalize()
        if len(index) > 1 and not (index[1:] - index[:-1] == pd.Timedelta(days=1)).all():
            raise ObservationFileError(f"{path}: time axis is not one step per calendar day")
        lat = float(np.ravel(ds.variables["latitude"][:])[0])
        lon = float(np.ravel(ds.variables["longitude"][:])[0])
        series: dict[str, ObservedSeries] = {}
        for name, var in ds.variables.items():
            units = str(getattr(var, "units", ""))
            spec = _find_spec(name, var, units)
            if spec is None or spec.uncertainty not in ds.variables:
                continue
            value = np.ravel(np.ma.filled(var[:].astype(float), np.nan))
            unc = np.ravel(np.ma.filled(ds.variables[spec.uncertainty][:].astype(float), np.nan))
            series[spec.model_variable] = ObservedSeries(spec, value, unc)
    return FluxObservations(m["site"], path, lat, lon, index, series)
