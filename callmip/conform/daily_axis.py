"""Decode the daily time axis of a Phase 1 site file into calendar days, stating the convention.

Protocol v2 section 6.2: ``units = "days since <first day of available FLUXNET data>"``, steps of
exactly one day with values ``0, 1, 2, ...`` or ``1, 2, 3, ...`` or ``0.5, 1.5, ...`` (not
``1.4583...``), leap days included, as many days as the site's flux file. The official CLASSIC
template writes ``days since 1996-12-31 00:00`` with values ``1..6574``, i.e. stamps at the start
of each day. Both ``0, 1, 2`` and ``1, 2, 3`` from the same origin are allowed, so an integer
value can stamp the start of its day or its end: :func:`decode_daily_axis` takes the start-of-day
reading unless that puts the first day one day after the observations' first day (or, with no
observations, on 2 January after an origin of 1 January), in which case the values stamp the
end of their day. Half-integer values stamp mid-day. The chosen reading is reported.

Leap-day convention: the calendar must contain 29 February (``standard``, ``gregorian``,
``proleptic_gregorian``, ``julian`` for the years concerned); a ``noleap``/``365_day`` or
``360_day`` axis cannot cover the observation days and is an error (the protocol leaves the
*filling* of 29 February to the model group, e.g. the mean of 28 February and 1 March, but the
day must be there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import cftime
import numpy as np
import pandas as pd

LEAP_CALENDARS = ("standard", "gregorian", "proleptic_gregorian", "julian")
NO_LEAP_CALENDARS = ("noleap", "365_day", "360_day", "all_leap", "366_day")
_UNITS = re.compile(r"^\s*days\s+since\s+\d{1,4}-\d{1,2}-\d{1,2}")


@dataclass
class DailyAxis:
    """The decoded axis: calendar days, or the problems that prevented decoding them."""

    dates: pd.DatetimeIndex | None
    convention: str = ""
    calendar: str = "standard"
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_leap_days(self) -> int:
        if self.dates is None:
            return 0
        return int(((self.dates.month == 2) & (self.dates.day == 29)).sum())

    def describe(self) -> str:
        if self.dates is None or len(self.dates) == 0:
            return "no days"
        return (f"{self.dates[0]:%Y-%m-%d}..{self.dates[-1]:%Y-%m-%d}, {len(self.dates)} days "
                f"incl. {self.n_leap_days} leap days (29 Feb), calendar {self.calendar!r}, "
                f"{self.convention}")


def decode_daily_axis(
    values: np.ndarray,
    units: str | None,
    calendar: str | None,
    obs_first_day: pd.Timestamp | None = None,
) -> DailyAxis:
    """Decode ``values`` (one per day) to calendar days; see the module docstring."""
    axis = DailyAxis(None)
    if units is None or not _UNITS.match(units):
        axis.errors.append(f"units {units!r}: the protocol requires 'days since YYYY-MM-DD ...'")
        return axis
    if calendar is None:
        axis.warnings.append("no calendar attribute; read as 'standard' (the protocol asks for "
                             "leap days)")
        calendar = "standard"
    calendar = str(calendar).lower()
    axis.calendar = calendar
    if calendar in NO_LEAP_CALENDARS:
        axis.errors.append(f"calendar {calendar!r} has no 29 February or adds days; the protocol "
                           "requires every calendar day including leap days, as in the flux files")
        return axis
    if calendar not in LEAP_CALENDARS:
        axis.errors.append(f"unknown calendar {calendar!r}")
        return axis
    v = np.ma.filled(np.asarray(values, dtype=float), np.nan).ravel()
    if v.size == 0:
        axis.errors.append("time axis is empty")
        return axis
    if not np.isfinite(v).all():
        axis.errors.append("time values contain missing values")
        return axis
    steps = np.diff(v)
    if steps.size and not np.allclose(steps, 1.0, rtol=0, atol=1e-6):
        bad = int(np.argmax(~np.isclose(steps, 1.0, rtol=0, atol=1e-6)))
        axis.errors.append(f"steps must be exactly 1 day; step {bad} is {steps[bad]:g} days "
                           f"({v[bad]:g} -> {v[bad + 1]:g})")
        return axis
    frac = float(v[0] - np.floor(v[0]))
    if np.isclose(frac, 0.5, atol=1e-6):
        convention = "mid-day stamps (x.5)"
        shift = 0
    elif np.isclose(frac, 0.0, atol=1e-6) or np.isclose(frac, 1.0, atol=1e-6):
        convention, shift = "start-of-day stamps", 0
    else:
        axis.errors.append(f"values like {v[0]:.8g} are not accepted: the protocol allows whole "
                           "days (0, 1, 2, ... or 1, 2, 3, ...) or half days (0.5, 1.5, ...)")
        return axis
    try:
        origin = cftime.num2date(0.0, units, calendar)
        first = cftime.num2date(float(np.floor(v[0] + 1e-6)), units, calendar)
    except (ValueError, TypeError) as exc:
        axis.errors.append(f"cannot decode units {units!r} with calendar {calendar!r}: {exc}")
        return axis
    first_day = pd.Timestamp(first.year, first.month, first.day)
    if convention == "start-of-day stamps":
        origin_day = pd.Timestamp(origin.year, origin.month, origin.day)
        one = pd.Timedelta(days=1)
        end_stamps = (
            first_day - one == obs_first_day
            if obs_first_day is not None
            else (origin_day.month, origin_day.day, first_day - origin_day) == (1, 1, one)
        )
        if end_stamps:
            convention, shift = "end-of-day stamps (value 1 = the first day)", -1
    first_day += pd.Timedelta(days=shift)
    axis.dates = pd.date_range(first_day, periods=v.size, freq="D")
    axis.convention = f"{convention}, origin {units.split('since', 1)[1].strip()!r}"
    if calendar == "julian" and (axis.dates.year > 1582).any():
        axis.warnings.append("julian calendar: dates after 1582 differ from the observations' "
                             "Gregorian calendar by 10+ days")
    return axis
