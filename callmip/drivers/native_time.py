"""Normalise the time axis of models' monthly output to what the conform stage expects.

Models stamp a monthly mean differently: CLM at the end of the month (January's mean is dated
1 February 00:00, so a naive year selection puts December in the next year), XIOS (ORCHIDEE) at
the centre, CABLE at the end of the averaging period, some with bounds and some without. Here
every monthly record becomes the 15th of its month in the 365-day 'noleap' calendar with
[first of month, first of next month) bounds, taken from the bounds when the file has them
and otherwise from the driver's declared stamp convention.
"""

from __future__ import annotations

from datetime import timedelta

import cftime
import numpy as np
import xarray as xr

BOUNDS_NAMES = ("time_bnds", "time_bounds", "time_counter_bounds", "time_counter_bnds")


class TimeAxisError(ValueError):
    """A native file's time axis cannot be read as monthly means."""


def _month_of(stamp: cftime.datetime, convention: str) -> tuple[int, int]:
    """(year, month) of the record stamped ``stamp`` under ``convention``."""
    if convention == "end":
        # end of the period: step back one hour, into the month being averaged
        t = stamp - timedelta(hours=1)
        return t.year, t.month
    return stamp.year, stamp.month


def monthly_axis(ds: xr.Dataset, convention: str, source: str = "native output") -> xr.Dataset:
    """Return ``ds`` with a mid-month noleap ``time`` and ``time_bnds`` (see module docstring).

    ``convention`` is how the model stamps records when the file has no bounds: 'start', 'mid'
    or 'end' of the averaging period. Bounds, when present, win.
    """
    if "time" not in ds.dims and "time_counter" in ds.dims:
        ds = ds.rename({"time_counter": "time"})
    if "time" not in ds.dims:
        raise TimeAxisError(f"{source}: no time dimension (has {sorted(map(str, ds.dims))})")
    bounds = next((b for b in BOUNDS_NAMES if b in ds.variables), None)
    times = ds["time"].values
    if not len(times) or not isinstance(times[0], cftime.datetime):
        raise TimeAxisError(f"{source}: time is not decoded to cftime (open with use_cftime)")
    if bounds is not None:
        edges = np.asarray(ds[bounds].values)  # read once: the file may be lazily opened
        mids = [lo + (hi - lo) / 2 for lo, hi in edges]
        months = [(m.year, m.month) for m in mids]
    else:
        months = [_month_of(t, convention) for t in times]
    if len(set(months)) != len(months):
        raise TimeAxisError(f"{source}: several records fall in the same month; not monthly")
    new_time = [cftime.DatetimeNoLeap(y, m, 15) for y, m in months]
    new_bnds = np.array(
        [[cftime.DatetimeNoLeap(y, m, 1),
          cftime.DatetimeNoLeap(y + (m == 12), m % 12 + 1, 1)] for y, m in months]
    )
    drop = [v for v in (*BOUNDS_NAMES, "time_centered", "time_centered_bounds") if v in ds]
    ds = ds.drop_vars(drop)
    ds = ds.assign_coords(time=("time", new_time))
    ds["time_bnds"] = (("time", "bnds"), new_bnds)
    return ds


def annual_means(ds: xr.Dataset) -> xr.Dataset:
    """Annual means of monthly (time, lat, lon) data, weighted by month length (noleap).

    A year needs all 12 months; partial years raise, because a mean of 7 months is not an
    annual mean. Cells missing in any month stay missing.
    """
    bnds = ds["time_bnds"].values
    days = np.array([(b[1] - b[0]).days for b in bnds], dtype="float64")
    years = np.array([t.year for t in ds["time"].values])
    out_vars: dict[str, list] = {v: [] for v in ds.data_vars if v != "time_bnds"}
    stamps, yb = [], []
    for y in np.unique(years):
        sel = years == y
        if sel.sum() != 12:
            raise TimeAxisError(f"year {y} has {int(sel.sum())} monthly records, not 12")
        w = xr.DataArray(days[sel] / days[sel].sum(), dims="time")
        for v, parts in out_vars.items():
            block = ds[v].isel(time=np.flatnonzero(sel))
            parts.append((block * w).sum("time", skipna=False).astype(ds[v].dtype))
        stamps.append(cftime.DatetimeNoLeap(int(y), 7, 2, 12))
        yb.append([cftime.DatetimeNoLeap(int(y), 1, 1), cftime.DatetimeNoLeap(int(y) + 1, 1, 1)])
    out = xr.Dataset({v: xr.concat(parts, dim="time") for v, parts in out_vars.items()})
    out = out.assign_coords(time=("time", stamps))
    out["time_bnds"] = (("time", "bnds"), np.array(yb))
    return out
