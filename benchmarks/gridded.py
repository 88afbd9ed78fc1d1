"""Read reference products and CalLMIP model files into one in-memory form.

Contract: :class:`GriddedSeries` is a (time, lat, lon) float64 array (NaN = missing) in stated
units with ascending latitudes, cell bounds, and the calendar year and month of every step
(steps are matched between model and reference by (year, month), which is calendar-proof:
GLEAM stamps months at their last day on a Gregorian calendar, FLUXCOM at mid-month on a
365-day calendar, the models on 'noleap'). :func:`read_reference` converts a product to the
requested units; :func:`read_model_variable` checks a CalLMIP file (global attributes, units
exactly as the protocol writes them) and raises :class:`~benchmarks.errors.ModelOutputError`
naming file, variable and problem, or :class:`~benchmarks.errors.NotComparableError` when the
file simply lacks the variable.
"""

from __future__ import annotations

import calendar as pycalendar
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from benchmarks.errors import ModelOutputError, NotComparableError, ReferenceDataError
from benchmarks.fields import DAYS_PER_MONTH, MONTH_EDGES, bounds_from_centres
from benchmarks.units import convert, needs_period_length
from benchmarks.variables import CALLMIP_UNITS, DERIVED, SEMANTIC_UNITS, accepted_units

logger = logging.getLogger(__name__)

REQUIRED_ATTRIBUTES = ("Model", "Calibration_stage")


@dataclass(frozen=True)
class GriddedSeries:
    """A variable on a rectilinear grid with (year, month) labels per step."""

    values: np.ndarray
    year: np.ndarray
    month: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    lat_bounds: np.ndarray
    lon_bounds: np.ndarray
    units: str
    source: str = ""
    static: bool = False
    days: np.ndarray | None = None  # length of each step on the data's own calendar
    #: ilamb3's weight of each step [days]: the file's own bounds, or without bounds the
    #: spacing of the time centres (``ilamb3.dataset.compute_time_measures``)
    step_days: np.ndarray | None = None
    annual: bool = False  # one step per calendar year (``month`` is then 1 everywhere)
    #: ILAMB 2.7's centre of each step (noleap days since 1850), which differs from the middle
    #: of the month when a file on another calendar has no bounds
    ilamb_time: np.ndarray | None = None

    @property
    def time_bounds(self) -> np.ndarray:
        """Bounds in days since 1850-01-01 on the 365-day calendar (ILAMB's convention)."""
        if self.annual:
            start = (self.year - 1850) * 365.0
            return np.stack([start, start + 365.0], axis=1)
        start = (self.year - 1850) * 365.0 + MONTH_EDGES[self.month - 1]
        return np.stack([start, start + DAYS_PER_MONTH[self.month - 1]], axis=1)

    def same_grid(self, other: GriddedSeries) -> bool:
        return (
            self.lat.shape == other.lat.shape
            and self.lon.shape == other.lon.shape
            and np.allclose(self.lat, other.lat)
            and np.allclose(self.lon, other.lon)
        )

    def select(self, index: np.ndarray) -> GriddedSeries:
        """The steps at ``index`` (a view when they are contiguous, else a copy)."""
        index = np.asarray(index)
        contiguous = index.size > 0 and np.array_equal(index, np.arange(index[0], index[-1] + 1))
        take = slice(int(index[0]), int(index[-1]) + 1) if contiguous else index
        return GriddedSeries(
            values=self.values[take],
            year=self.year[index],
            month=self.month[index],
            lat=self.lat,
            lon=self.lon,
            lat_bounds=self.lat_bounds,
            lon_bounds=self.lon_bounds,
            units=self.units,
            source=self.source,
            static=self.static,
            days=None if self.days is None else self.days[index],
            step_days=None if self.step_days is None else self.step_days[index],
            annual=self.annual,
            ilamb_time=None if self.ilamb_time is None else self.ilamb_time[index],
        )

    def with_values(self, values: np.ndarray, units: str | None = None) -> GriddedSeries:
        return GriddedSeries(
            values=values,
            year=self.year,
            month=self.month,
            lat=self.lat,
            lon=self.lon,
            lat_bounds=self.lat_bounds,
            lon_bounds=self.lon_bounds,
            units=units or self.units,
            source=self.source,
            static=self.static,
            days=self.days,
            step_days=self.step_days,
            annual=self.annual,
            ilamb_time=self.ilamb_time,
        )


def days_in_month(year: np.ndarray, month: np.ndarray, calendar: str) -> np.ndarray:
    """Length in days of each (year, month) on ``calendar``."""
    cal = calendar.lower()
    if cal in ("noleap", "365_day"):
        return DAYS_PER_MONTH[month - 1].astype(float)
    if cal == "360_day":
        return np.full(month.shape, 30.0)
    if cal in ("all_leap", "366_day"):
        out = DAYS_PER_MONTH[month - 1].astype(float)
        out[month == 2] = 29.0
        return out
    return np.array(
        [pycalendar.monthrange(int(y), int(m))[1] for y, m in zip(year, month, strict=True)], float
    )


def _coord(ds: netCDF4.Dataset, names: Sequence[str], path: Path) -> tuple[str, np.ndarray]:
    for name in names:
        if name in ds.variables:
            return name, np.asarray(ds.variables[name][:], dtype=float)
    raise ReferenceDataError(f"{path}: no coordinate among {list(names)}")


def _bounds(ds: netCDF4.Dataset, name: str, centres: np.ndarray) -> np.ndarray:
    var = ds.variables[name]
    bname = getattr(var, "bounds", None)
    if bname and bname in ds.variables:
        return np.asarray(ds.variables[bname][:], dtype=float)
    return bounds_from_centres(centres)


@dataclass(frozen=True)
class TimeAxis:
    """What the readers need of a file's time axis."""

    year: np.ndarray
    month: np.ndarray
    calendar: str
    step_days: np.ndarray  # ilamb3's weights: bounds lengths, else centre spacing
    annual: bool
    ilamb_time: np.ndarray | None = None  # ILAMB 2.7's step centres (noleap days since 1850)


def _centre_spacing(values: np.ndarray) -> np.ndarray:
    """ilamb3's step lengths without bounds: mean of the spacings on either side."""
    if values.size < 2:
        return np.ones(values.size)
    d = np.diff(values)
    d = np.concatenate([[d[0]], d, [d[-1]]])
    return 0.5 * (d[:-1] + d[1:])


def _time_axis(
    ds: netCDF4.Dataset, path: Path, years: tuple[int, int] | None = None
) -> TimeAxis:
    """Year and month of each step, from the bounds' midpoint when bounds exist.

    Without bounds the time value labels its step. A file stamped at the *end* of each month
    at 00:00 of the next month's first day (2004-02-01 for January) is recognised from the
    years its name promises (``years``): its labels then run from February of the first year to
    January of the year after the last, and are moved back one month.
    """
    if "time" not in ds.variables:
        raise ReferenceDataError(f"{path}: no 'time' variable")
    t = ds.variables["time"]
    cal = str(getattr(t, "calendar", "standard"))
    units = getattr(t, "units", None)
    if not units:
        raise ModelOutputError(f"{path}: time has no units attribute")
    values = np.ma.filled(np.ma.asarray(t[:], dtype=float), np.nan)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ModelOutputError(f"{path}: time values are missing or not finite")
    bname = getattr(t, "bounds", None)
    if not (bname and bname in ds.variables):
        bname = next((n for n in ("time_bnds", "time_bounds") if n in ds.variables), None)
    bounds = None
    if bname:
        b = np.ma.filled(np.ma.asarray(ds.variables[bname][:], dtype=float), np.nan)
        if b.shape == (values.size, 2) and np.all(np.isfinite(b)):
            bounds = b
    centres = bounds.mean(axis=1) if bounds is not None else values
    try:
        dates = netCDF4.num2date(centres, units, cal)
    except (ValueError, TypeError) as exc:
        raise ModelOutputError(f"{path}: cannot decode time ({units!r}, {cal!r}): {exc}") from exc
    year = np.array([d.year for d in dates], dtype=int)
    month = np.array([d.month for d in dates], dtype=int)
    step = bounds[:, 1] - bounds[:, 0] if bounds is not None else _centre_spacing(values)
    annual = bool(np.median(step) > 300.0)
    if annual:
        month = np.ones_like(month)
    elif (
        bounds is None
        and years is not None
        and all(d.day == 1 and d.hour == 0 and d.minute == 0 for d in dates)
        and (year[0], month[0]) == (years[0], 2)
        and (year[-1], month[-1]) == (years[1] + 1, 1)
    ):
        month = month - 1
        year = np.where(month == 0, year - 1, year)
        month = np.where(month == 0, 12, month)
    return TimeAxis(year, month, cal, np.asarray(step, float), annual,
                    _ilamb27_centres(values, bounds, units, cal))


def _ilamb27_centres(
    values: np.ndarray, bounds: np.ndarray | None, units: str, calendar: str
) -> np.ndarray | None:
    """The step centres ILAMB 2.7 works with (``ilamblib.GetTime``): the midpoints of the
    bounds - the file's, or made from the times with the guessed position in the interval -
    converted date by date to noleap days since 1850-01-01. None when ILAMB itself could not
    convert them (a 29 February, a 30 February)."""
    import cftime

    if bounds is None:
        if values.size < 2:
            return None
        d = np.diff(values)
        dt = d[0]
        try:
            t0 = cftime.num2date(values[0], units, calendar)
            if abs(dt - 365.0) <= 10 or abs(dt - 30.0) > 4:
                alpha = 0.5
            else:
                m0 = cftime.date2num(cftime.datetime(t0.year, 1, 1, calendar=calendar), units,
                                     calendar)
                alpha = float(np.clip(np.round((values[0] - m0) / dt, 1), 0, 1))
        except (ValueError, TypeError):
            return None
        d = np.concatenate([[d[0]], d, [d[-1]]])
        bounds = np.stack([values - alpha * d[:-1], values + (1.0 - alpha) * d[1:]], axis=1)
    centres = bounds.mean(axis=1)
    if calendar == "noleap" and units.startswith("days since 1850-01-01"):
        return centres
    try:
        dates = cftime.num2date(centres, units, calendar)
        return np.asarray([
            cftime.date2num(cftime.datetime(x.year, x.month, x.day, x.hour, x.minute, x.second),
                            "days since 1850-01-01 00:00:00", calendar="noleap")
            for x in dates
        ], dtype=float)
    except (ValueError, TypeError):
        return None


LAT_NAMES = ("lat", "latitude")
LON_NAMES = ("lon", "longitude")


def _read_grid(ds: netCDF4.Dataset, path: Path) -> tuple[np.ndarray, ...]:
    lat_name, lat = _coord(ds, LAT_NAMES, path)
    lon_name, lon = _coord(ds, LON_NAMES, path)
    for name, centres in ((lat_name, lat), (lon_name, lon)):
        if centres.ndim != 1 or centres.size == 0 or not np.all(np.isfinite(centres)):
            raise ModelOutputError(f"{path}: coordinate {name!r} is not a 1-D finite axis "
                                   "(a regular lat-lon grid is required)")
        if centres.size > 1 and not (np.all(np.diff(centres) > 0)
                                     or np.all(np.diff(centres) < 0)):
            raise ModelOutputError(f"{path}: coordinate {name!r} is not monotonic")
    return lat, lon, _bounds(ds, lat_name, lat), _bounds(ds, lon_name, lon)


def _read_values(var: netCDF4.Variable, index: slice | tuple = slice(None)) -> np.ndarray:
    """Read ``var[index]`` as float32 with fill/missing values and non-finite values as NaN.

    Unpacked float variables are read raw and their fill values replaced in place (several
    times faster than netCDF4's masked arrays on half-gigabyte fields); packed integer data
    go through netCDF4's own unpacking.
    """
    if hasattr(var, "scale_factor") or hasattr(var, "add_offset") or var.dtype.kind != "f":
        data = np.ma.filled(np.ma.asarray(var[index]).astype(np.float32), np.nan)
    else:
        var.set_auto_maskandscale(False)
        try:
            data = np.asarray(var[index], dtype=np.float32)
        finally:
            var.set_auto_maskandscale(True)
        for attr in ("_FillValue", "missing_value"):
            if hasattr(var, attr):
                for fill in np.atleast_1d(getattr(var, attr)):
                    data[data == np.float32(fill)] = np.nan
    data[~np.isfinite(data)] = np.nan
    # CMOR's fill value 1e20 written without a _FillValue attribute is still missing
    data[np.abs(data) >= np.float32(9.99e19)] = np.nan
    return data


def _orient(
    values: np.ndarray, lat: np.ndarray, lat_b: np.ndarray, lon: np.ndarray, lon_b: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Make latitudes and longitudes ascending (flip data and bounds when they are not)."""
    if lat.size > 1 and lat[0] > lat[-1]:
        values, lat, lat_b = values[..., ::-1, :], lat[::-1], lat_b[::-1, ::-1]
    if lon.size > 1 and lon[0] > lon[-1]:
        values, lon, lon_b = values[..., ::-1], lon[::-1], lon_b[::-1, ::-1]
    return values, lat, lat_b, lon, lon_b


def read_reference(
    paths: Sequence[Path],
    file_variable: str,
    units: str,
    target_units: str | None,
    years: tuple[int, int],
) -> GriddedSeries:
    """Read a product's files (concatenated in time) and keep ``years``.

    With ``target_units`` the values are converted (float64); with None they stay float32 in
    the file's ``units`` and ``days`` holds each step's length, so the caller can convert after
    packing the cells it needs (a fraction of a global grid).
    """
    chunks: list[np.ndarray] = []
    years_l: list[np.ndarray] = []
    months_l: list[np.ndarray] = []
    steps_l: list[np.ndarray] = []
    centres_l: list[np.ndarray | None] = []
    grid = None
    calendar = "standard"
    static = False
    for path in sorted(paths):
        with netCDF4.Dataset(path) as ds:
            if file_variable not in ds.variables:
                raise ReferenceDataError(f"{path}: no variable {file_variable!r}")
            var = ds.variables[file_variable]
            var.set_auto_mask(True)
            g = _read_grid(ds, path)
            if grid is None:
                grid = g
            elif not (np.allclose(g[0], grid[0]) and np.allclose(g[1], grid[1])):
                raise ReferenceDataError(f"{path}: grid differs from {paths[0]}")
            if "time" in var.dimensions:
                axis = _time_axis(ds, path)
                year, month, calendar = axis.year, axis.month, axis.calendar
                keep = np.flatnonzero((year >= years[0]) & (year <= years[1]))
                if keep.size == 0:
                    continue
                data = _read_values(var, slice(keep[0], keep[-1] + 1))[keep - keep[0]]
                years_l.append(year[keep])
                months_l.append(month[keep])
                steps_l.append(axis.step_days[keep])
                centres_l.append(None if axis.ilamb_time is None else axis.ilamb_time[keep])
            else:
                static = True
                data = _read_values(var)[None, ...]
                years_l.append(np.array([years[0]]))
                months_l.append(np.array([1]))
                steps_l.append(np.array([1.0]))
                centres_l.append(None)
            if data.ndim != 3:
                raise ReferenceDataError(
                    f"{path}: {file_variable!r} has dimensions {var.dimensions}; "
                    "expected (time, lat, lon) or (lat, lon)"
                )
            chunks.append(data)
    if grid is None or not chunks:
        raise ReferenceDataError(
            f"{paths[0] if paths else '?'}: no data of {file_variable!r} in {years[0]}-{years[1]}"
        )
    lat, lon, lat_b, lon_b = grid
    values = chunks[0] if len(chunks) == 1 else np.concatenate(chunks, axis=0)
    year = np.concatenate(years_l)
    month = np.concatenate(months_l)
    step_days = np.concatenate(steps_l)
    ilamb_time = None if any(c is None for c in centres_l) else np.concatenate(centres_l)
    order = np.lexsort((month, year))
    if not np.array_equal(order, np.arange(order.size)):
        values, year, month = values[order], year[order], month[order]
        step_days = step_days[order]
        ilamb_time = None if ilamb_time is None else ilamb_time[order]
    days = days_in_month(year, month, calendar)
    if target_units is not None:
        period = days if needs_period_length(units) else None
        values = convert(values, units, target_units, days_in_period=period)
        units = target_units
    values, lat, lat_b, lon, lon_b = _orient(values, lat, lat_b, lon, lon_b)
    return GriddedSeries(
        values=values,
        year=year,
        month=month,
        lat=lat,
        lon=lon,
        lat_bounds=lat_b,
        lon_bounds=lon_b,
        units=units,
        source=str(paths[0]),
        static=static,
        days=days,
        step_days=step_days,
        ilamb_time=ilamb_time,
    )


def check_model_file(path: Path, stage: str) -> dict[str, str]:
    """Check a CalLMIP model file's global attributes; return them."""
    try:
        with netCDF4.Dataset(path) as ds:
            attrs = {k: str(ds.getncattr(k)) for k in ds.ncattrs()}
    except OSError as exc:
        raise ModelOutputError(f"{path}: not a readable NetCDF file ({exc})") from exc
    missing = [a for a in REQUIRED_ATTRIBUTES if a not in attrs]
    if missing:
        raise ModelOutputError(f"{path}: missing global attribute(s) {missing}")
    if attrs["Calibration_stage"] != stage:
        raise ModelOutputError(
            f"{path}: Calibration_stage is {attrs['Calibration_stage']!r} but the file was "
            f"given as stage {stage!r}"
        )
    return attrs


def _read_callmip(path: Path, name: str, years: tuple[int, int] | None) -> GriddedSeries:
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise ModelOutputError(f"{path}: not a readable NetCDF file ({exc})") from exc
    with ds:
        if name not in ds.variables:
            raise NotComparableError(f"{path}: model file has no variable {name!r}")
        var = ds.variables[name]
        units = getattr(var, "units", None)
        accepted = accepted_units(name)
        if units not in accepted:
            raise ModelOutputError(
                f"{path}: variable {name!r} has units {units!r}; CalLMIP requires "
                + " or ".join(repr(u) for u in accepted)
            )
        dims = tuple(var.dimensions)
        if (
            var.ndim != 3
            or dims[0] != "time"
            or dims[1] not in LAT_NAMES
            or dims[2] not in LON_NAMES
        ):
            raise ModelOutputError(
                f"{path}: variable {name!r} has dimensions {dims}; "
                "CalLMIP requires (time, lat, lon)"
            )
        axis = _time_axis(ds, path, years)
        lat, lon, lat_b, lon_b = _read_grid(ds, path)
        try:
            values = _read_values(var)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelOutputError(f"{path}: variable {name!r} cannot be read ({exc})") from exc
    if values.shape != (axis.year.size, lat.size, lon.size):
        raise ModelOutputError(f"{path}: variable {name!r} has shape {values.shape}, not "
                               f"(time, lat, lon) = {(axis.year.size, lat.size, lon.size)}")
    if not np.isfinite(values).any():
        raise ModelOutputError(f"{path}: variable {name!r} has no valid value (all missing)")
    values, lat, lat_b, lon, lon_b = _orient(values, lat, lat_b, lon, lon_b)
    return GriddedSeries(
        values=values,
        year=axis.year,
        month=axis.month,
        lat=lat,
        lon=lon,
        lat_bounds=lat_b,
        lon_bounds=lon_b,
        units=SEMANTIC_UNITS[name],
        source=str(path),
        days=axis.step_days if axis.annual else days_in_month(axis.year, axis.month,
                                                              axis.calendar),
        step_days=axis.step_days,
        annual=axis.annual,
        ilamb_time=None if axis.annual else axis.ilamb_time,
    )


def read_model_variable(
    path: Path, name: str, years: tuple[int, int] | None = None
) -> GriddedSeries:
    """Read CalLMIP (or derived) variable ``name`` from a conformed model file.

    ``years`` (the period the file name promises) lets the reader recognise time stamps at
    the end of each month when the file has no ``time_bnds``.
    """
    if name in DERIVED:
        derived = DERIVED[name]
        inputs = [_read_callmip(path, n, years) for n in derived.inputs]
        values = derived.compute(*(s.values for s in inputs))
        return inputs[0].with_values(values, derived.units)
    if name not in CALLMIP_UNITS:
        raise ModelOutputError(f"{path}: {name!r} is not a CalLMIP variable")
    return _read_callmip(path, name, years)


def field_nbytes(path: Path, name: str) -> int:
    """Decompressed float32 size of variable ``name`` (of a derived one's inputs) in ``path``.

    Used to decide whether reading in parallel processes pays; a file that cannot be opened
    counts 0 (its reader reports the problem).
    """
    names = DERIVED[name].inputs if name in DERIVED else (name,)
    try:
        with netCDF4.Dataset(path) as ds:
            return sum(4 * int(np.prod(ds.variables[n].shape)) for n in names
                       if n in ds.variables)
    except (OSError, RuntimeError, ValueError):
        return 0
