"""Reader for ISIMIP3b bias-adjusted daily scenario forcing (2015-2100, ssp126/370/585).

Contract:

* :func:`isimip_filename`, :func:`isimip_decades` and :func:`isimip_path` know the ISIMIP3b
  naming ``<gcm>_<member>_w5e5_<ssp>_<var>_global_daily_<y0>_<y1>.nc`` and its decadal split
  (2015_2020, 2021_2030, ..., 2091_2100).
* :class:`IsimipReader` opens one variable file, checks the header (variable, dims, regular
  global grid in either latitude order, accepted units, a decodable daily time axis) and returns
  one year as a (365, lat, lon) float32 array on a south-to-north grid: 29 February is dropped,
  because the model calendar is 365-day ('noleap') while ISIMIP3b is proleptic_gregorian. Values
  are checked on the given land mask (finite, within physical bounds) and set to NaN elsewhere.

Conventions relied on are listed in :mod:`forcing.conventions` (ISIMIP protocol and the
ISIMIP project's own isimip-utils: ``days since 1601-1-1 00:00:00``, proleptic_gregorian,
latitude north to south, fill 1e20, lowercase ``sfcwind``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cftime
import netCDF4
import numpy as np

from callmip.constants import SCENARIO_FIRST_YEAR, SCENARIO_LAST_YEAR
from forcing.checks import Locator, check_bounds
from forcing.conventions import (
    DAYS_PER_YEAR,
    ISIMIP_GCM_MEMBERS,
    ISIMIP_SPECS,
    ISIMIP_SSPS,
)
from forcing.errors import ForcingError

_CALENDARS = frozenset(
    {"standard", "gregorian", "proleptic_gregorian", "noleap", "365_day", "julian"}
)


def isimip_member(gcm: str) -> str:
    gcm = gcm.lower()
    if gcm not in ISIMIP_GCM_MEMBERS:
        raise ValueError(f"unknown ISIMIP3b GCM {gcm!r}; known: {sorted(ISIMIP_GCM_MEMBERS)}")
    return ISIMIP_GCM_MEMBERS[gcm]


def isimip_filename(gcm: str, ssp: str, variable: str, y0: int, y1: int) -> str:
    """ISIMIP3b file name for a GCM, SSP, variable and year range."""
    if ssp not in ISIMIP_SSPS:
        raise ValueError(f"unknown SSP {ssp!r}; known: {ISIMIP_SSPS}")
    if variable not in ISIMIP_SPECS:
        raise ValueError(f"unknown ISIMIP3b variable {variable!r}")
    return f"{gcm.lower()}_{isimip_member(gcm)}_w5e5_{ssp}_{variable}_global_daily_{y0}_{y1}.nc"


def isimip_decade(year: int) -> tuple[int, int]:
    """The ISIMIP3b scenario file period holding ``year`` (2015_2020, then 2021_2030, ...)."""
    if not SCENARIO_FIRST_YEAR <= year <= SCENARIO_LAST_YEAR:
        raise ValueError(
            f"year {year} outside the ISIMIP3b scenario period "
            f"{SCENARIO_FIRST_YEAR}-{SCENARIO_LAST_YEAR}"
        )
    if year <= 2020:
        return 2015, 2020
    y0 = (year - 1) // 10 * 10 + 1
    return y0, min(y0 + 9, SCENARIO_LAST_YEAR)


def isimip_decades(years: Iterable[int]) -> dict[tuple[int, int], list[int]]:
    """Group years by the ISIMIP3b file period they live in (sorted)."""
    out: dict[tuple[int, int], list[int]] = {}
    for year in sorted(set(int(y) for y in years)):
        out.setdefault(isimip_decade(year), []).append(year)
    return out


def isimip_path(directory: Path, gcm: str, ssp: str, variable: str, year: int) -> Path:
    """The file holding ``year`` of ``variable``; :class:`ForcingError` if it is missing."""
    y0, y1 = isimip_decade(year)
    path = Path(directory) / isimip_filename(gcm, ssp, variable, y0, y1)
    if not path.exists():
        raise ForcingError(path, variable, f"missing input: no file for year {year}")
    return path


class IsimipReader:
    """Checked access to one ISIMIP3b variable file (use as a context manager)."""

    def __init__(self, path: Path, variable: str) -> None:
        if variable not in ISIMIP_SPECS:
            raise ValueError(f"unknown ISIMIP3b variable {variable!r}")
        self.path = Path(path)
        self.variable = variable
        self.spec = ISIMIP_SPECS[variable]
        self._ds: netCDF4.Dataset | None = None

    def _error(self, problem: str, value: object = None, where: str | None = None) -> ForcingError:
        return ForcingError(self.path, self.variable, problem, value=value, where=where)

    def __enter__(self) -> IsimipReader:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._ds is not None and self._ds.isopen():
            self._ds.close()
        self._ds = None

    def _open(self) -> None:
        if not self.path.exists():
            raise self._error("missing input file")
        try:
            self._ds = netCDF4.Dataset(self.path, "r")
        except OSError as exc:
            raise self._error(
                f"cannot open as netCDF (truncated or corrupted file?): {exc}"
            ) from exc
        ds = self._ds
        if self.variable not in ds.variables:
            raise self._error(f"missing variable: the file holds {sorted(ds.variables)}")
        var = ds.variables[self.variable]
        var.set_auto_maskandscale(False)
        self._var = var
        if var.dimensions != ("time", "lat", "lon"):
            raise self._error(f"dimensions {var.dimensions}, expected ('time', 'lat', 'lon')")
        units = getattr(var, "units", None)
        if units is None or not self.spec.accepts_units(units):
            raise self._error(f"wrong units {units!r} (expected '{self.spec.units}')")
        lat = np.asarray(ds.variables["lat"][:], dtype=np.float64)
        lon = np.asarray(ds.variables["lon"][:], dtype=np.float64)
        self._flip = lat.size > 1 and lat[0] > lat[-1]
        self.lat = lat[::-1].copy() if self._flip else lat
        self.lon = lon
        for name, axis, span in (("lat", self.lat, 180.0), ("lon", self.lon, 360.0)):
            if axis.size < 2 or not np.allclose(np.diff(axis), span / axis.size, atol=1e-4):
                raise self._error(f"{name} is not a regular global axis", value=axis[:3].tolist())
        tvar = ds.variables["time"]
        calendar = getattr(tvar, "calendar", "standard")
        if calendar not in _CALENDARS:
            raise self._error(f"unsupported calendar {calendar!r}")
        try:
            self.times = cftime.num2date(np.asarray(tvar[:]), tvar.units, calendar=calendar)
        except (ValueError, AttributeError) as exc:
            raise self._error(f"undecodable time axis: {exc}") from exc
        fills = [getattr(var, a) for a in ("_FillValue", "missing_value") if hasattr(var, a)]
        self.fill_values = np.asarray(fills, dtype=np.float32)

    def read_year(self, year: int, land_mask: np.ndarray, days_per_block: int = 31) -> np.ndarray:
        """Land values of ``year``: (365, land cells) float32, checked, 29 February dropped.

        ``land_mask`` is (lat, lon) south to north; cells are taken in its flattened order.
        The year is read in blocks of ``days_per_block`` days to bound memory.
        """
        days = [
            i
            for i, t in enumerate(self.times)
            if t.year == year and not (t.month == 2 and t.day == 29)
        ]
        if len(days) != DAYS_PER_YEAR:
            raise self._error(
                f"{len(days)} days of {year} (without 29 February), expected {DAYS_PER_YEAR}"
            )
        if np.any(np.diff(days) != 1) and not _only_leap_gap(self.times, days):
            raise self._error(f"days of {year} are not consecutive")
        grid_shape = (self.lat.size, self.lon.size)
        if land_mask.shape != grid_shape:
            raise self._error(f"grid {grid_shape} does not match the land mask {land_mask.shape}")
        land_index = np.flatnonzero(land_mask.ravel())
        loc = Locator(
            str(self.path), self.variable, self.lat, self.lon, [self.times[d] for d in days]
        )
        out = np.empty((len(days), land_index.size), dtype=np.float32)
        for k0 in range(0, len(days), days_per_block):
            sel = np.asarray(days[k0 : k0 + days_per_block])
            try:
                raw = np.asarray(self._var[sel[0] : sel[-1] + 1], dtype=np.float32)
            except (OSError, RuntimeError, IndexError, ValueError) as exc:
                raise self._error(
                    f"cannot read {year} (truncated or corrupted file?): {exc}"
                ) from exc
            raw = raw[sel - sel[0]]
            if self._flip:
                raw = raw[:, ::-1, :]
            vals = raw.reshape(raw.shape[0], -1)[:, land_index]
            bad = ~np.isfinite(vals)
            for fv in self.fill_values:
                bad |= vals == fv
            if bad.any():
                s, k = np.argwhere(bad)[0]
                what = "NaN" if np.isnan(vals[s, k]) else "missing value (fill)"
                raise loc.error(f"{what} over land", float(vals[s, k]), k0 + s, land_index[k])
            check_bounds(vals, self.spec, land_index, k0, loc)
            out[k0 : k0 + vals.shape[0]] = vals
        return out


def _only_leap_gap(times: object, days: list[int]) -> bool:
    gaps = np.flatnonzero(np.diff(days) != 1)
    return all(
        np.diff(days)[g] == 2 and (times[days[g] + 1].month, times[days[g] + 1].day) == (2, 29)  # type: ignore[index]
        for g in gaps
    )
