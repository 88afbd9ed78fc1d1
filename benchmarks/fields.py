"""Comparable reference/model data, packed to the cells that both cover, and temporal helpers.

Contract: a :class:`Field` is one variable on one grid as a ``(time, cell)`` float64 array (NaN
where a value is missing) with CF-style time bounds in *days since 1850-01-01 on a 365-day
calendar* (the convention ILAMB 2.7 converts everything to). :class:`Cells` says where the
packed cells sit on the (lat, lon) grid, their areas and their region membership. Packing the
land cells once (about 30% of a global grid) is what makes scoring fast; every analysis works
on these arrays and never changes them.

The temporal helpers reproduce ILAMB 2.7's definitions exactly (they are used by the
``ilamb27`` mode and checked against ILAMB 2.7 in tests/benchmarks/test_parity_ilamb27.py):
period means weight each step by its length, ``rms`` weights steps by bounds *re-created from
the time centres* (ILAMB's ``Variable.rms`` drops the real bounds), and the annual cycle
averages whole years starting at the first January found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from callmip.constants import EARTH_RADIUS_M

#: Mid-month day of year and month edges of the 365-day calendar (ILAMB's constants).
MID_MONTHS = np.array(
    [15.5, 45.0, 74.5, 105.0, 135.5, 166.0, 196.5, 227.5, 258.0, 288.5, 319.0, 349.5]
)
MONTH_EDGES = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365], float)
DAYS_PER_MONTH = np.diff(MONTH_EDGES)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class Field:
    """One variable as ``values[time, cell]`` with time bounds in noleap days since 1850.

    Quantities several analyses need (period mean, annual cycles, centred RMS) are computed
    once per field and cached read-only, so sharing them cannot let one analysis change what
    the next one sees.
    """

    values: np.ndarray
    time_bounds: np.ndarray
    units: str
    #: Length of each step [days] used to weight means when it is not the bounds' length:
    #: ilamb3 weights a source by its own calendar's bounds (or, without bounds, by the
    #: spacing of its time centres), where ILAMB 2.7 uses the 365-day bounds.
    step_days: np.ndarray | None = None
    #: Step centres when they are not the bounds' midpoints: ILAMB 2.7 converts a file's times
    #: to the 365-day calendar date by date, so a 360_day file's centres move (see
    #: ``benchmarks.gridded._ilamb27_centres``); its cycles and IAV use them.
    centres: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise ValueError(f"Field values must be (time, cell), got shape {self.values.shape}")
        if self.time_bounds.shape != (self.values.shape[0], 2):
            raise ValueError(
                f"time_bounds shape {self.time_bounds.shape} does not match "
                f"{self.values.shape[0]} time steps"
            )

    @property
    def time(self) -> np.ndarray:
        """Time centres (``centres`` when given, else the midpoints of the bounds)."""
        if self.centres is not None:
            return self.centres
        return self.time_bounds.mean(axis=1)

    @property
    def dt(self) -> np.ndarray:
        """Length of each time step in days (``step_days`` when given, else the bounds')."""
        if self.step_days is not None:
            return self.step_days
        return self.time_bounds[:, 1] - self.time_bounds[:, 0]

    @property
    def is_monthly_steps(self) -> bool:
        """True when the bounds are calendar months (the 365-day bounds made from labels)."""
        d = self.time_bounds[:, 1] - self.time_bounds[:, 0]
        return bool(abs(float(d.mean()) - 30.0) <= 3.0)

    @property
    def month(self) -> np.ndarray:
        """Calendar month (1-12) of each time step, from its centre."""
        doy = self.time % 365.0
        return np.searchsorted(MONTH_EDGES, doy, side="right").clip(1, 12)

    @property
    def ntime(self) -> int:
        return int(self.values.shape[0])

    @property
    def is_monthly(self) -> bool:
        """ILAMB's test: mean step length within 3 days of 30 (on the 365-day bounds)."""
        return self.is_monthly_steps

    @cached_property
    def mean(self) -> np.ndarray:
        """Period mean weighting steps by their length (ILAMB ``integrateInTime(mean=True)``)."""
        return _frozen(time_mean(self.values, self.dt))

    @cached_property
    def cycle_ilamb(self) -> np.ndarray:
        """ILAMB 2.7's mean annual cycle (12, cell)."""
        return _frozen(annual_cycle_ilamb(self.values, self.time))

    @cached_property
    def cycle_by_month(self) -> np.ndarray:
        """Mean of each calendar month over all steps (12, cell)."""
        return _frozen(annual_cycle_by_month(self.values, self.month))

    @cached_property
    def centred_rms_recreated(self) -> np.ndarray:
        """RMS of the centred series, ILAMB's ``Variable.rms`` (bounds re-created)."""
        return _frozen(rms_ilamb(self.values - self.mean[None, :], self.time))

    @cached_property
    def centred_rms_real(self) -> np.ndarray:
        """RMS of the centred series weighted by the real step lengths."""
        return _frozen(rms_weighted(self.values - self.mean[None, :], self.dt))


@dataclass(frozen=True)
class Cells:
    """Where packed cells sit on the grid: flat indices, areas [m2] and region membership."""

    lat: np.ndarray
    lon: np.ndarray
    flat_index: np.ndarray
    area: np.ndarray
    regions: Mapping[str, np.ndarray] = field(default_factory=dict)
    #: Packed areas of a region's cells where a method measures them per region (ilamb3).
    region_area: Mapping[str, np.ndarray] = field(default_factory=dict)
    #: Packed areas ILAMB 2.7 integrates difference maps (bias, phase shift) with, when they
    #: differ from ``area`` (see :class:`benchmarks.common_grid.Nesting`).
    difference_area: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.lat.size), int(self.lon.size))

    @property
    def grid_size(self) -> int:
        return int(self.lat.size * self.lon.size)

    def region(self, name: str) -> np.ndarray:
        """Boolean membership of each packed cell in region ``name`` ('global' = all)."""
        if name == "global":
            return np.ones(self.flat_index.size, dtype=bool)
        return self.regions[name]

    def area_in(self, name: str) -> np.ndarray:
        """Packed cell areas used to average over region ``name``."""
        return self.region_area.get(name, self.area)

    def difference_area_in(self, name: str) -> np.ndarray:
        """Packed cell areas used to average a difference map (bias, phase shift)."""
        if self.difference_area is not None:
            return self.difference_area
        return self.area_in(name)

    def unpack(self, values: np.ndarray) -> np.ndarray:
        """Scatter packed ``(..., cell)`` values onto the full ``(..., lat, lon)`` grid (NaN)."""
        lead = values.shape[:-1]
        full = np.full((*lead, self.grid_size), np.nan)
        full[..., self.flat_index] = values
        return full.reshape(*lead, *self.shape)


def cell_areas(lat_bounds: np.ndarray, lon_bounds: np.ndarray) -> np.ndarray:
    """Spherical cell areas [m2] from (n, 2) latitude and longitude bounds in degrees."""
    lat_b = np.clip(np.asarray(lat_bounds, float), -90.0, 90.0)
    lon_b = np.asarray(lon_bounds, float)
    dsin = np.abs(np.sin(np.deg2rad(lat_b[:, 1])) - np.sin(np.deg2rad(lat_b[:, 0])))
    dlon = np.abs(np.deg2rad(lon_b[:, 1] - lon_b[:, 0]))
    return EARTH_RADIUS_M**2 * np.outer(dsin, dlon)


def areas_from_centres(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Cell areas [m2] with bounds re-created from the centres, unclipped (ilamb3's
    ``compute_cell_measures`` when a grid carries no bounds, as nested grids do)."""
    lat_b = bounds_from_centres(lat)
    lon_b = bounds_from_centres(lon)
    dsin = np.abs(np.sin(np.deg2rad(lat_b[:, 1])) - np.sin(np.deg2rad(lat_b[:, 0])))
    dlon = np.abs(np.deg2rad(lon_b[:, 1] - lon_b[:, 0]))
    return EARTH_RADIUS_M**2 * np.outer(dsin, dlon)


def bounds_from_centres(x: np.ndarray) -> np.ndarray:
    """(n, 2) bounds half-way between centres, extrapolated at the ends (ILAMB _createBnds)."""
    x = np.asarray(x, dtype=float)
    b = np.empty((x.size, 2))
    if x.size == 1:
        b[:] = x[0]
        return b
    mid = 0.5 * (x[:-1] + x[1:])
    b[1:, 0] = mid
    b[:-1, 1] = mid
    b[0, 0] = x[0] - 0.5 * (x[1] - x[0])
    b[-1, 1] = x[-1] + 0.5 * (x[-1] - x[-2])
    return b


def time_mean(values: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Mean over axis 0 weighting each step by ``dt``; missing steps do not count."""
    dt = np.asarray(dt, dtype=np.float64)
    if not np.isnan(values).any():  # the usual case: one matrix-vector product
        with np.errstate(invalid="ignore", divide="ignore"):
            return (dt @ values) / dt.sum()
    valid = ~np.isnan(values)
    total = dt @ np.where(valid, values, 0.0)
    wsum = dt @ valid
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(wsum > 0, total / wsum, np.nan)


def rms_ilamb(values: np.ndarray, time: np.ndarray) -> np.ndarray:
    """ILAMB 2.7 ``Variable.rms``: time-weighted RMS with bounds re-created from centres."""
    dt = np.diff(bounds_from_centres(time), axis=1)[:, 0]
    return np.sqrt(time_mean(values * values, dt))


def rms_weighted(values: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Time-weighted RMS using the real step lengths."""
    return np.sqrt(time_mean(values * values, dt))


def annual_cycle_ilamb(values: np.ndarray, time: np.ndarray) -> np.ndarray:
    """ILAMB 2.7 ``Variable.annualCycle``: mean of whole years from the first January.

    Requires at least 12 steps. Returns a (12, cell) array.
    """
    if values.shape[0] < 12:
        raise ValueError("an annual cycle needs at least 12 monthly steps")
    begin = int(np.argmin(time[:11] % 365.0))
    nyears = (values.shape[0] - begin) // 12
    block = values[begin : begin + 12 * nyears].reshape(nyears, 12, -1)
    if not np.isnan(block).any():
        return block.mean(axis=0)
    with np.errstate(invalid="ignore"):
        count = np.isfinite(block).sum(axis=0)
        total = np.where(np.isfinite(block), block, 0.0).sum(axis=0)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def annual_cycle_by_month(values: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Mean of all steps of each calendar month (xarray ``groupby('time.month')``)."""
    nstep = values.shape[0]
    if (
        nstep % 12 == 0
        and np.array_equal(month, np.tile(np.arange(1, 13), nstep // 12))
        and not np.isnan(values).any()
    ):  # whole years from January without gaps: a reshape, no copies
        return values.reshape(nstep // 12, 12, -1).mean(axis=0)
    out = np.full((12, values.shape[1]), np.nan)
    for m in range(1, 13):
        sel = values[month == m]
        if sel.shape[0]:
            count = np.isfinite(sel).sum(axis=0)
            total = np.where(np.isfinite(sel), sel, 0.0).sum(axis=0)
            with np.errstate(invalid="ignore"):
                out[m - 1] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out


def mid_month_spacing(time_bounds: np.ndarray) -> np.ndarray:
    """ilamb3's RMSE step weights [days]: steps moved to day 15 of their month on a 365-day
    calendar, each weighted by the mean spacing to its neighbours (the ends by their one
    spacing), ``ilamb3.dataset.compute_time_measures`` without bounds."""
    start = np.asarray(time_bounds, float)[:, 0]
    if start.size < 2:
        return np.ones(start.size)
    d = np.diff(start)
    d = np.concatenate([[d[0]], d, [d[-1]]])
    return 0.5 * (d[:-1] + d[1:])


def extend_cycle_index(time: np.ndarray) -> np.ndarray:
    """For each step, the month (0-11) of the annual cycle it belongs to (ILAMB's rule)."""
    return np.abs((time[:, None] % 365.0) - (MID_MONTHS % 365.0)).argmin(axis=1)


def regional_mean(
    values: np.ndarray, area: np.ndarray, member: np.ndarray, weight: np.ndarray | None = None
) -> float:
    """Area-(and optionally weight-)weighted mean over the member cells with finite values."""
    measure = area * (weight if weight is not None else 1.0)
    ok = member & np.isfinite(values) & np.isfinite(measure)
    denom = float(measure[ok].sum())
    if not ok.any() or denom == 0.0:
        return float("nan")
    return float((values[ok] * measure[ok]).sum() / denom)
