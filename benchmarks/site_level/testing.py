"""Writers of real Phase 1 site files and PLUMBER2-layout met files, for tests and benchmarks.

Contract: :func:`truth` turns a tower's observations into a complete daily series (observed days
as observed, the gaps filled with the site's own smoothed seasonal cycle), so a test can build
model output as ``a x truth + b`` with known ``a``, ``b`` and know every score in advance.
:func:`write_site_file` writes a protocol-conformant site file (every Table 3 variable, daily
axis of the observation days with leap days, ``(time, lat, lon)`` with size-1 lat/lon
coordinates, the section 6.3 attributes, optional ``_post_unc``) from series *in observation
units and sign*, converting them to CalLMIP units (nep = -NEE / 1000 / 86400); keyword
``mutate`` lets a test break one thing. :func:`write_met_file` writes a half-hourly
PLUMBER2-layout met file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd

from benchmarks.site_level.empirical import season_day, site_cycle
from benchmarks.units import convert
from callmip.conform.table import CAL_VAL, TABLE, post_unc_name, site_file_name
from callmip.fluxobs import FluxObservations

#: plausible constant values for the variables that are not observed (CalLMIP units)
FILLERS = {"gpp": 4e-8, "reco": 3e-8, "tran": 1e-5, "evspsblsoi": 5e-6, "hfg": 2.0, "ts": 285.0,
           "lai": 3.0, "cLiveBioAbove": 5.0, "cSoil": 15.0, "mrso": 900.0, "mrsos": 30.0}


def truth(obs: FluxObservations, variable: str) -> np.ndarray:
    """Observed values where valid, else the site's own smoothed seasonal cycle (or its mean)."""
    series = obs.series[variable].value
    cycle = site_cycle(obs.dates, series, obs.lat)[season_day(obs.dates, obs.lat)]
    filled = np.where(np.isfinite(series), series, cycle)
    return np.where(np.isfinite(filled), filled, np.nanmean(series))


def to_callmip(variable: str, values: np.ndarray, obs: FluxObservations) -> np.ndarray:
    """Observation units and sign -> the CalLMIP units of ``variable``."""
    spec = obs.series[variable].spec
    return convert(spec.sign * np.asarray(values, float), spec.units, TABLE[variable].units)


def write_site_file(
    directory: Path,
    obs: FluxObservations,
    model: str,
    version: str,
    stage: str,
    calval: str,
    series: Mapping[str, np.ndarray],
    *,
    post_unc: Mapping[str, np.ndarray] | None = None,
    scenario: int = 1,
    site: str | None = None,
    mutate: Callable[[netCDF4.Dataset], None] | None = None,
    time_units: str | None = None,
    time_values: np.ndarray | None = None,
    calendar: str = "standard",
) -> Path:
    """Write one site file; ``series`` and ``post_unc`` are in observation units and sign."""
    site = site or obs.code
    path = Path(directory) / site_file_name(model, version, scenario, site, calval, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = obs.n_days
    if time_values is None:
        time_values = np.arange(n, dtype=float)
        time_units = time_units or f"days since {obs.first_day:%Y-%m-%d} 00:00:00"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", len(time_values))
        ds.createDimension("lat", 1)
        ds.createDimension("lon", 1)
        t = ds.createVariable("time", "f8", ("time",))
        t.units = time_units
        t.calendar = calendar
        t[:] = time_values
        for name, value, units in (("lat", obs.lat, "degrees_north"),
                                   ("lon", obs.lon, "degrees_east")):
            v = ds.createVariable(name, "f8", (name,))
            v.units = units
            v.long_name = {"lat": "latitude", "lon": "longitude"}[name]
            v[:] = [value]
        data_by_name = {name: to_callmip(name, values, obs) for name, values in series.items()}
        if "nep" in data_by_name and not {"gpp", "reco"} & set(series):
            # keep gpp - reco = nep, as the checker's carbon-balance sign test expects
            nep = data_by_name["nep"]
            reco = np.full(n, max(0.0, -float(np.nanmin(nep))) + 2e-8)
            data_by_name.update(reco=reco, gpp=nep + reco)
        for name, spec in TABLE.items():
            v = ds.createVariable(name, "f8", ("time", "lat", "lon"), fill_value=1e20)
            v.units = spec.units
            v.long_name = spec.long_name
            if spec.standard_name:
                v.standard_name = spec.standard_name
            data = data_by_name[name] if name in data_by_name else np.full(n, FILLERS[name])
            if post_unc and name in post_unc:
                v.ancillary_variables = post_unc_name(name)
            v[:] = np.asarray(data, float)[: len(time_values)].reshape(-1, 1, 1)
        for name, sigma in (post_unc or {}).items():
            spec = TABLE[name]
            v = ds.createVariable(post_unc_name(name), "f8", ("time", "lat", "lon"),
                                  fill_value=1e20)
            v.units = spec.units
            if spec.standard_name:
                v.standard_name = f"{spec.standard_name} standard_error"
            unit = obs.series[name].spec.units
            v[:] = np.abs(convert(np.asarray(sigma, float), unit, spec.units)
                          )[: len(time_values)].reshape(-1, 1, 1)
        ds.setncatts({"Model": f"{model}.{version}", "CalLMIP_Phase": "Phase1b",
                      "Calibration_Scenario": f"Scen{scenario}", "Calibration_stage": stage,
                      "Cal_Val": CAL_VAL[calval], "Conventions": "CF-1.8"})
        if mutate is not None:
            mutate(ds)
    return path


def write_met_file(directory: Path, obs: FluxObservations, daily: pd.DataFrame,
                   steps_per_day: int = 48) -> Path:
    """A half-hourly PLUMBER2-layout met file whose daily means are ``daily`` (SWdown W m-2,
    Tair K, RH %) on the observation days: each day's steps carry the day's value, SWdown
    shaped by a half-sine daylight curve with the same daily mean."""
    y0, y1 = obs.first_day.year, obs.last_day.year
    path = Path(directory) / f"{obs.code}_{y0}-{y1}_FLUXNET2015_Met.nc"
    path.parent.mkdir(parents=True, exist_ok=True)
    n = obs.n_days * steps_per_day
    frac = (np.arange(steps_per_day) + 0.5) / steps_per_day
    shape = np.clip(np.sin(np.pi * (frac - 0.25) / 0.5), 0, None)  # daylight 06-18 h
    shape = shape / shape.mean()
    frame = daily.reindex(obs.dates)
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", n)
        ds.createDimension("y", 1)
        ds.createDimension("x", 1)
        t = ds.createVariable("time", "f8", ("time",))
        t.units = f"seconds since {obs.first_day:%Y-%m-%d} 00:00:00"
        t.calendar = "standard"
        t[:] = np.arange(n) * 86400.0 / steps_per_day
        for name, units, values in (
            ("SWdown", "W/m2", np.outer(frame["SWdown"].to_numpy(), shape).ravel()),
            ("Tair", "K", np.repeat(frame["Tair"].to_numpy(), steps_per_day)),
            ("RH", "%", np.repeat(frame["RH"].to_numpy(), steps_per_day)),
        ):
            v = ds.createVariable(name, "f4", ("time", "y", "x"), fill_value=-9999.0)
            v.units = units
            v[:] = values.reshape(-1, 1, 1)
        for name, value in (("latitude", obs.lat), ("longitude", obs.lon)):
            v = ds.createVariable(name, "f8", ("y", "x"))
            v[:] = [[value]]
    return path
