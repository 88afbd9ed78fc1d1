"""Reader for CRU-JRA v2.5 files (real or synthetic, ``.nc`` or ``.nc.gz``).

Contract:

* :func:`crujra_filename` / :func:`crujra_path` know the file naming and find ``.nc`` or
  ``.nc.gz`` (a missing file is a :class:`ForcingError` naming the variable and year).
* :class:`CrujraReader` opens one variable-year, checks the header (variable present, dims
  (time, lat, lon), regular global lat/lon, 1460 6-hourly steps of the file's year on a
  365-day calendar, accepted units) and then streams the land values block by block, checking
  each block (no NaN over land, fixed land-sea mask, physical bounds). Memory is bounded by the
  block size, whatever the file size.
* :func:`open_crujra` is the convenience API: full check, then an ``xr.DataArray`` (time, lat,
  lon) with NaN over the ocean, lazily backed by the file (loaded into memory for ``.nc.gz``).

Any failure raises :class:`ForcingError` with file, variable, problem, value and place; a
truncated or corrupt file (gzip stream ended early, HDF5/netCDF read error) included. The
layout conventions relied on are documented in :mod:`forcing.conventions`.
"""

from __future__ import annotations

import gzip
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import cftime
import netCDF4
import numpy as np

from callmip.ncfiles import classic_size_problem
from forcing.checks import Locator, check_land_block
from forcing.chunks import DirectChunks
from forcing.conventions import (
    CRUJRA_SPECS,
    CRUJRA_VERSION,
    NOLEAP_CALENDARS,
    STEPS_PER_YEAR,
)
from forcing.errors import ForcingError
from forcing.fileio import gunzip_file

if TYPE_CHECKING:  # xarray (and pandas) cost seconds to import; only readers need them
    import xarray as xr

logger = logging.getLogger(__name__)

_GRID_TOL = 1e-4


def crujra_filename(variable: str, year: int, version: str = CRUJRA_VERSION) -> str:
    """``crujra.v2.5.5d.<var>.<year>.365d.noc.nc`` (the uncompressed name)."""
    return f"crujra.v{version}.5d.{variable}.{year}.365d.noc.nc"


def crujra_path(directory: Path, variable: str, year: int, version: str = CRUJRA_VERSION) -> Path:
    """The file for ``variable`` and ``year`` in ``directory``: ``.nc`` if present, else
    ``.nc.gz``; raises :class:`ForcingError` when neither exists."""
    if variable not in CRUJRA_SPECS:
        raise ValueError(f"unknown CRU-JRA variable {variable!r}")
    plain = Path(directory) / crujra_filename(variable, year, version)
    gz = plain.with_name(plain.name + ".gz")
    if plain.exists():
        return plain
    if gz.exists():
        return gz
    raise ForcingError(
        plain, variable, f"missing input: no {plain.name} or {gz.name} for year {year}"
    )


def year_from_filename(path: Path) -> int | None:
    """The year in a CRU-JRA file name, or None if the name does not follow the layout."""
    parts = Path(path).name.split(".")
    for i, part in enumerate(parts[:-1]):
        if part.isdigit() and len(part) == 4 and parts[i + 1] == "365d":
            return int(part)
    return None


class CrujraReader:
    """Checked, streaming access to one CRU-JRA variable-year (use as a context manager)."""

    def __init__(
        self,
        path: Path,
        variable: str,
        year: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        if variable not in CRUJRA_SPECS:
            raise ValueError(f"unknown CRU-JRA variable {variable!r}")
        self.path = Path(path)
        self.variable = variable
        self.spec = CRUJRA_SPECS[variable]
        self.year = year if year is not None else year_from_filename(self.path)
        self.cache_dir = cache_dir
        self._unpacked: Path | None = None
        self._ds: netCDF4.Dataset | None = None
        self._direct: DirectChunks | None = None

    # --------------------------------------------------------------- open / header
    def __enter__(self) -> CrujraReader:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()
            self._direct = None
        if self._ds is not None and self._ds.isopen():
            self._ds.close()
        self._ds = None
        if self._unpacked is not None:
            self._unpacked.unlink(missing_ok=True)
            self._unpacked = None

    def _error(self, problem: str, value: object = None, where: str | None = None) -> ForcingError:
        return ForcingError(self.path, self.variable, problem, value=value, where=where)

    def _open(self) -> None:
        if not self.path.exists():
            raise self._error("missing input file")
        nc_path = self.path
        if self.path.suffix == ".gz":
            nc_path = self._gunzip()
        try:
            self._ds = netCDF4.Dataset(nc_path, "r")
        except OSError as exc:
            raise self._error(
                f"cannot open as netCDF (truncated or corrupted file?): {exc}"
            ) from exc
        ds = self._ds
        _check_classic_size(ds, nc_path, self._error)
        if self.variable not in ds.variables:
            raise self._error(
                f"missing variable: the file holds {sorted(ds.variables)} (expected "
                f"'{self.variable}')"
            )
        self.comment = str(getattr(ds, "comment", ""))
        var = ds.variables[self.variable]
        var.set_auto_maskandscale(False)
        if ds.data_model.startswith("NETCDF4"):
            # each chunk is read exactly once, in order: a cache would only hold memory
            var.set_var_chunk_cache(size=4 * 1024 * 1024)
            # deflated time-slab chunks: inflated by libdeflate, 3x faster than netCDF-C's zlib
            self._direct = DirectChunks.open(nc_path, self.variable)
        self._var = var
        if var.dimensions != ("time", "lat", "lon"):
            raise self._error(f"dimensions {var.dimensions}, expected ('time', 'lat', 'lon')")
        units = getattr(var, "units", None)
        if units is None:
            raise self._error(f"no units attribute (expected '{self.spec.units}')")
        if not self.spec.accepts_units(units):
            raise self._error(
                f"wrong units '{units}' (expected '{self.spec.units}'; the layout does not "
                "allow conversion)"
            )
        self.lat = self._coord("lat")
        self.lon = self._coord("lon")
        self._check_axis("lat", self.lat, -90.0, 180.0)
        self._check_axis("lon", self.lon, None, 360.0)
        self.times = self._check_time()
        fills = [getattr(var, a) for a in ("_FillValue", "missing_value") if hasattr(var, a)]
        self.fill_values = np.unique(np.asarray(fills, dtype=np.float32))
        self.shape = (len(self.times), self.lat.size, self.lon.size)
        first = self._read(0, 1).reshape(1, -1)
        invalid0 = self._invalid(first)[0]
        self.land_index = np.flatnonzero(~invalid0 & ~np.isnan(first[0]))
        self.n_ocean = first.shape[1] - self.land_index.size
        if self.land_index.size == 0:
            raise self._error("no land cell holds data in the first step (all fill or NaN)")
        self.locator = Locator(str(self.path), self.variable, self.lat, self.lon, self.times)

    def _gunzip(self) -> Path:
        base = self.cache_dir or Path(tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        target = base / f".{self.path.name[:-3]}.{os.getpid()}.{id(self)}.unpacked.tmp"
        try:
            gunzip_file(self.path, target)
        except (OSError, EOFError) as exc:
            raise self._error(f"cannot decompress (truncated or corrupted .gz?): {exc}") from exc
        self._unpacked = target
        return target

    def _coord(self, name: str) -> np.ndarray:
        assert self._ds is not None
        if name not in self._ds.variables:
            raise self._error(f"missing coordinate variable '{name}'")
        return np.asarray(self._ds.variables[name][:], dtype=np.float64)

    def _check_axis(self, name: str, values: np.ndarray, start: float | None, span: float) -> None:
        n = values.size
        step = span / n if n else 0.0
        diffs = np.diff(values)
        if n < 2 or not np.allclose(diffs, step, atol=_GRID_TOL):
            raise self._error(
                f"{name} is not a regular global axis increasing in steps of {span}/{n}",
                value=values[:3].tolist(),
            )
        if start is not None and abs(values[0] - (start + step / 2.0)) > _GRID_TOL:
            raise self._error(
                f"{name} does not start at the cell centre {start + step / 2.0}", value=values[0]
            )

    def _check_time(self) -> list[object]:
        assert self._ds is not None
        if "time" not in self._ds.variables:
            raise self._error("missing coordinate variable 'time'")
        tvar = self._ds.variables["time"]
        calendar = getattr(tvar, "calendar", "standard")
        if calendar not in NOLEAP_CALENDARS:
            raise self._error(
                f"calendar '{calendar}', expected a 365-day calendar ({sorted(NOLEAP_CALENDARS)})"
            )
        values = np.asarray(tvar[:], dtype=np.float64)
        if values.size != STEPS_PER_YEAR:
            raise self._error(
                f"{values.size} time steps, expected {STEPS_PER_YEAR} (6-hourly, 365 days)"
            )
        try:
            times = cftime.num2date(values, tvar.units, calendar=calendar)
        except (ValueError, AttributeError) as exc:
            raise self._error(f"undecodable time axis: {exc}") from exc
        start = times[0]
        year = self.year if self.year is not None else start.year
        self.year = year
        expected0 = cftime.datetime(year, 1, 1, calendar="noleap")
        if (start.year, start.month, start.day, start.hour) != (year, 1, 1, 0):
            raise self._error(f"first time step is {start}, expected {expected0}")
        try:
            steps = np.diff(values) * _seconds_per_unit(tvar.units)
        except ValueError as exc:
            raise self._error(str(exc)) from exc
        if not np.allclose(steps, 21600.0, atol=1.0):
            bad = int(np.argmax(np.abs(steps - 21600.0) > 1.0))
            raise self._error(
                "time steps are not 6-hourly", value=float(steps[bad]), where=f"after {times[bad]}"
            )
        return list(times)

    def _invalid(self, raw: np.ndarray) -> np.ndarray:
        if self.fill_values.size == 0:
            return np.zeros(raw.shape, dtype=bool)
        invalid = raw == self.fill_values[0]
        for fv in self.fill_values[1:]:
            invalid |= raw == fv
        return invalid

    # --------------------------------------------------------------- data
    def _read(self, t0: int, t1: int) -> np.ndarray:
        try:
            if self._direct is not None:
                return self._direct.read(t0, t1)
            return np.asarray(self._var[t0:t1], dtype=np.float32)
        except (OSError, RuntimeError, IndexError, ValueError) as exc:
            raise self._error(
                f"cannot read steps {t0}..{t1 - 1} (truncated or corrupted file?): {exc}"
            ) from exc

    def blocks(self, steps_per_block: int = 124) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_step, land_values)`` with land_values float32 (steps, land cells),
        every block checked before it is handed out."""
        nt = self.shape[0]
        for t0 in range(0, nt, steps_per_block):
            t1 = min(nt, t0 + steps_per_block)
            raw = self._read(t0, t1).reshape(t1 - t0, -1)
            yield t0, check_land_block(raw, self.fill_values, self.land_index, self.n_ocean, t0,
                                       self.locator, self.spec)  # fmt: skip

    def check_all(self, steps_per_block: int = 124) -> None:
        """Stream through the whole file, checking every block."""
        for _ in self.blocks(steps_per_block):
            pass

    @property
    def land_mask(self) -> np.ndarray:
        mask = np.zeros(self.lat.size * self.lon.size, dtype=bool)
        mask[self.land_index] = True
        return mask.reshape(self.lat.size, self.lon.size)


def _check_classic_size(ds: netCDF4.Dataset, path: Path, error) -> None:
    """A truncated classic (netCDF-3) file opens fine and reads zeros past its end."""
    problem = classic_size_problem(ds, path)
    if problem:
        raise error(problem)


def _seconds_per_unit(units: str) -> float:
    unit = units.split(" since ", maxsplit=1)[0].strip().lower()
    table = {
        "days": 86400.0,
        "day": 86400.0,
        "hours": 3600.0,
        "hour": 3600.0,
        "minutes": 60.0,
        "seconds": 1.0,
    }
    if unit not in table:
        raise ValueError(f"unsupported time unit {units!r}")
    return table[unit]


def check_crujra_header(
    path: Path, variable: str, year: int | None = None
) -> tuple[np.ndarray, Locator] | None:
    """Open and check the header (and first step) only: the cheap pre-flight check.

    Returns the land cells of the first step and a locator (to compare land masks between
    variables before any work), or None for ``.nc.gz`` files, which are only tested for a
    readable gzip stream start here; their full decompression happens when they are processed.
    """
    path = Path(path)
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rb") as fh:
                fh.read(8)
        except (OSError, EOFError) as exc:
            raise ForcingError(path, variable, f"not a readable gzip file: {exc}") from exc
        return None
    with CrujraReader(path, variable, year) as reader:
        return reader.land_index, reader.locator


def check_year_headers(files: dict[str, Path], year: int) -> None:
    """Pre-flight for one year: every file's header, and one land mask shared by all."""
    ref: tuple[str, np.ndarray, Locator] | None = None
    for variable, path in files.items():
        found = check_crujra_header(path, variable, year)
        if found is None:
            continue
        land, loc = found
        if ref is None:
            ref = (variable, land, loc)
        elif not np.array_equal(land, ref[1]):
            diff = np.setxor1d(land, ref[1])
            raise ForcingError(
                path,
                variable,
                f"land mask differs from {ref[0]}'s ({diff.size} cells)",
                where=loc.where(0, int(diff[0])),
            )


def open_crujra(path: Path, variable: str, cache_dir: Path | None = None) -> xr.DataArray:
    """Fully check a CRU-JRA file and return its variable as (time, lat, lon), NaN over ocean.

    The returned array is lazily backed by the file for ``.nc``; ``.nc.gz`` files are
    decompressed to a temporary file, loaded into memory and the temporary file is removed.
    """
    import xarray as xr

    path = Path(path)
    with CrujraReader(path, variable, cache_dir=cache_dir) as reader:
        reader.check_all()
        unpacked = reader._unpacked
        if unpacked is not None:
            with xr.open_dataset(
                unpacked, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)
            ) as ds:
                da = ds[variable].load()
        else:
            ds = xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
            da = ds[variable]
    da.attrs["source_file"] = str(path)
    return da
