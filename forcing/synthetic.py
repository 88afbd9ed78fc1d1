"""Synthetic forcing files in exactly the real layouts (CRU-JRA v2.5, ISIMIP3b, N deposition,
LUH2 states), so the same readers process synthetic and real inputs.

Contract: ``write_crujra_years`` and ``write_isimip3b`` write one file per variable and year
(CRU-JRA) or per variable and decade (ISIMIP3b), deterministic for a given seed, atomically
(temporary name, then ``os.replace``), and return the paths written. Physics lives in
:mod:`forcing.weather`; the N-deposition and LUH2 generators live with their readers
(:mod:`forcing.ndep`, :mod:`forcing.luh2`) and are re-exported here.

Layout details written (see :mod:`forcing.conventions` for the sources):

* CRU-JRA: ``crujra.v2.5.5d.<var>.<year>.365d.noc.nc`` (or ``.nc.gz`` holding a classic netCDF
  file, as distributed), dimensions time (unlimited, 1460), lon (-179.75..), lat (-89.75..);
  variables in the order time, lon, lat, <var>; float32 data with _FillValue and missing_value
  9.96921e36 over the ocean; time in days since 1901-01-01 on a 365_day calendar.
  ``compress=True`` writes netCDF-4 with zlib level 1 (one chunk per time step) instead of the
  distributed classic format, which is smaller and faster for the demo; readers accept both.
* Only land cells are simulated (the CRU-JRA land mask from the GLOBE land fraction: majority
  land, north of 60 S); ocean cells are filled. Years are generated in parallel processes.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path

import cftime
import netCDF4
import numpy as np

from callmip.constants import SCENARIO_FIRST_YEAR
from forcing.conventions import (
    CRUJRA_CALENDAR,
    CRUJRA_FILL_VALUE,
    CRUJRA_SPECS,
    CRUJRA_TIME_UNITS,
    CRUJRA_VARIABLES,
    ISIMIP_CALENDAR,
    ISIMIP_FILL_VALUE,
    ISIMIP_GCM_MEMBERS,
    ISIMIP_SPECS,
    ISIMIP_SSPS,
    ISIMIP_TIME_UNITS,
    ISIMIP_TO_MODEL,
    ISIMIP_VARIABLES,
    MODEL_VARIABLES,
    STEPS_PER_DAY,
    STEPS_PER_YEAR,
)
from forcing.crujra import crujra_filename
from forcing.fileio import atomic_path, gzip_file
from forcing.grids import lat_centres, lon_centres
from forcing.isimip import isimip_decades, isimip_filename
from forcing.landmask import crujra_land_mask, land_fraction
from forcing.luh2 import write_luh2_states
from forcing.ndep import write_ndep
from forcing.weather import TREND_REFERENCE_YEAR, Cells, WeatherModel

__all__ = [
    "SSP_WARMING_2100_K",
    "write_crujra_year",
    "write_crujra_years",
    "write_isimip3b",
    "write_luh2_states",
    "write_ndep",
]

logger = logging.getLogger(__name__)

SSP_WARMING_2100_K = {"ssp126": 0.9, "ssp370": 3.3, "ssp585": 4.6}
"""Land-mean warming 2015 -> 2100 per SSP (roughly the CMIP6 multi-model land means)."""


# ---------------------------------------------------------------------------- CRU-JRA
def generator_fingerprint() -> str:
    """12 hex digits of the generator's own sources (this module, the weather physics, the land
    mask and the layout conventions): files in a cache keyed by it are exactly what the
    generator writes now, and any edit of the generator starts a new cache entry."""
    import hashlib

    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in ("synthetic.py", "weather.py", "landmask.py", "conventions.py", "grids.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:12]


def cached_crujra_years(
    years: Iterable[int],
    res_deg: float,
    seed: int,
    cache_dir: Path | None = None,
    trend_k_per_century: float = 0.0,
) -> Path:
    """The directory of synthetic CRU-JRA files for ``years`` in the user cache, generating
    only the years not there yet.

    Generation is deterministic per (year, resolution, seed, generator sources) and costs
    about 10 s of CPU per year at 2 degrees (mostly zlib), so campaigns, the demo and
    repeated runs share one copy:
    ``<cache>/synthetic/crujra_<res>deg_seed<seed>[_trend<K>]_<fingerprint>``
    (``cache_dir`` or :func:`forcing.landmask.default_cache_dir`). Files are written
    atomically, so an interrupted generation leaves no partial file behind.
    """
    from forcing.crujra import crujra_path
    from forcing.errors import ForcingError
    from forcing.landmask import default_cache_dir

    root = (cache_dir or default_cache_dir()) / "synthetic"
    trend = f"_trend{trend_k_per_century:g}" if trend_k_per_century else ""
    directory = root / f"crujra_{res_deg:g}deg_seed{seed}{trend}_{generator_fingerprint()}"

    def complete(year: int) -> bool:
        try:
            return all(crujra_path(directory, v, year) for v in CRUJRA_VARIABLES)
        except ForcingError:
            return False

    missing = [y for y in sorted(set(int(y) for y in years)) if not complete(y)]
    if missing:
        write_crujra_years(directory, missing, res_deg=res_deg, seed=seed,
                           trend_k_per_century=trend_k_per_century)  # fmt: skip
    return directory


def write_crujra_years(
    out_dir: Path,
    years: Iterable[int],
    res_deg: float = 0.5,
    seed: int = 0,
    variables: Sequence[str] = CRUJRA_VARIABLES,
    trend_k_per_century: float = 0.0,
    compress: bool = True,
    *,
    gzip: bool = False,
    keep_bits: int | None = 12,
    workers: int | None = None,
    block_days: int = 32,
    cache_dir: Path | None = None,
) -> list[Path]:
    """Write synthetic CRU-JRA v2.5 files for ``years``; returns the paths (year-major order).

    ``trend_k_per_century`` adds a linear warming relative to 1901. ``gzip=True`` writes the
    distributed form: a classic netCDF file gzipped to ``.nc.gz``. ``keep_bits`` rounds the
    float32 mantissa to that many bits (BitRound, relative error <= 2**-(keep_bits+1), 1.2e-4
    for 12 bits: 0.04 K at 300 K) so zlib compresses the noise twice as fast; None keeps full
    precision. Years run in up to ``workers`` subprocesses (default: one per core).
    """
    years = sorted(set(int(y) for y in years))
    unknown = [v for v in variables if v not in CRUJRA_SPECS]
    if unknown:
        raise ValueError(f"unknown CRU-JRA variables {unknown}; known: {CRUJRA_VARIABLES}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    land_fraction(res_deg, cache_dir)  # fill the cache once, before workers need it
    kwargs = dict(
        out_dir=out_dir,
        res_deg=res_deg,
        seed=seed,
        variables=tuple(variables),
        trend_k_per_century=trend_k_per_century,
        compress=compress,
        gzip=gzip,
        block_days=block_days,
        cache_dir=cache_dir,
        keep_bits=keep_bits,
    )
    n_workers = min(len(years), workers or os.cpu_count() or 1)
    if n_workers <= 1:
        per_year = [write_crujra_year(year=y, **kwargs) for y in years]
    else:
        per_year = _run_years_in_subprocesses(years, kwargs, n_workers)
    return [p for paths in per_year for p in paths]


def _run_years_in_subprocesses(years: list[int], kwargs: dict, n_workers: int) -> list[list[Path]]:
    """Run ``write_crujra_year`` per year in fresh interpreters, ``n_workers`` at a time.

    Plain subprocesses rather than multiprocessing: 'spawn' would demand a main-module guard
    from every caller and 'fork' is unsafe in threaded hosts (dask workers, Prefect).
    """
    pending = list(years)
    running: list[tuple[int, subprocess.Popen]] = []
    # the children must import this very package, wherever the caller's cwd is
    root = str(Path(__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p),
    }
    failures = []
    while pending or running:
        while pending and len(running) < n_workers:
            year = pending.pop(0)
            args = {
                **kwargs,
                "year": year,
                "out_dir": str(kwargs["out_dir"]),
                "cache_dir": None if kwargs["cache_dir"] is None else str(kwargs["cache_dir"]),
            }
            proc = subprocess.Popen(
                [sys.executable, "-m", "forcing.synthetic", json.dumps(args)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            running.append((year, proc))
        year, proc = running.pop(0)
        _, err = proc.communicate()
        if proc.returncode != 0:
            failures.append(f"year {year}: exit {proc.returncode}: {err.strip()[-2000:]}")
    if failures:
        raise RuntimeError("synthetic CRU-JRA generation failed: " + "; ".join(failures))
    return [
        [
            Path(kwargs["out_dir"]) / (crujra_filename(v, y) + (".gz" if kwargs["gzip"] else ""))
            for v in kwargs["variables"]
        ]
        for y in years
    ]


def write_crujra_year(
    out_dir: Path,
    year: int,
    res_deg: float,
    seed: int,
    variables: Sequence[str],
    trend_k_per_century: float,
    compress: bool,
    gzip: bool,
    block_days: int,
    cache_dir: Path | None,
    keep_bits: int | None = None,
) -> list[Path]:
    """Write one year of all requested variables (they share one weather simulation)."""
    mask = crujra_land_mask(res_deg, cache_dir)
    lat, lon = lat_centres(res_deg), lon_centres(res_deg)
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    cells = Cells.from_points(lat2[mask], lon2[mask])
    land_index = np.flatnonzero(mask.ravel())
    warming = trend_k_per_century * (year - TREND_REFERENCE_YEAR) / 100.0
    model = WeatherModel(cells, year, seed, ndays=365, warming_k=warming)

    suffix = ".gz" if gzip else ""
    finals = {v: out_dir / f"{crujra_filename(v, year)}{suffix}" for v in variables}
    fmt = "NETCDF4" if (compress and not gzip) else "NETCDF3_64BIT_OFFSET"
    plain: dict[str, Path] = {}
    with ExitStack() as stack:
        datasets: dict[str, netCDF4.Dataset] = {}
        for v in variables:
            if gzip:  # classic file first, gzipped into place afterwards
                plain[v] = out_dir / f".{finals[v].name}.{os.getpid()}.plain.tmp"
                stack.callback(plain[v].unlink, missing_ok=True)
                target = plain[v]
            else:
                target = stack.enter_context(atomic_path(finals[v]))
            datasets[v] = _create_crujra_file(
                target,
                v,
                year,
                lat,
                lon,
                fmt,
                seed=seed,
                res_deg=res_deg,
                trend=trend_k_per_century,
            )
            stack.callback(_close, datasets[v])
        npix = lat.size * lon.size
        full = np.empty((block_days * STEPS_PER_DAY, npix), dtype=np.float32)
        for block in model.blocks(block_days):
            t0 = block.first_day * STEPS_PER_DAY
            nt = block.ndays * STEPS_PER_DAY
            for v in variables:
                full[:nt].fill(CRUJRA_FILL_VALUE)
                full[:nt, land_index] = bitround(block.six_hourly(v), keep_bits)
                datasets[v].variables[v][t0 : t0 + nt] = full[:nt].reshape(nt, lat.size, lon.size)
        for ds in datasets.values():
            _close(ds)
        for v, src in plain.items():
            gzip_file(src, finals[v])
    logger.info("wrote synthetic CRU-JRA %d (%d variables) in %s", year, len(finals), out_dir)
    return list(finals.values())


def bitround(values: np.ndarray, keep_bits: int | None) -> np.ndarray:
    """Round float32 mantissas to ``keep_bits`` bits (round half up on the bit pattern).

    The same idea as netCDF's BitRound quantisation: the dropped bits become zeros, which
    compress well, and the value moves by at most half a unit in the last kept place.
    """
    if keep_bits is None or keep_bits >= 23:
        return values
    drop = 23 - keep_bits
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    half = np.uint32(1 << (drop - 1))
    mask = np.uint32((0xFFFFFFFF << drop) & 0xFFFFFFFF)
    return ((bits + half) & mask).view(np.float32)


def _close(ds: netCDF4.Dataset) -> None:
    if ds.isopen():
        ds.close()


def _time_chunk(lat: np.ndarray, lon: np.ndarray) -> int:
    """Steps per HDF5 chunk: about 1 MiB chunks (one step at 0.5 degree, more when coarser)."""
    return int(np.clip((1 << 20) // (4 * lat.size * lon.size), 1, STEPS_PER_YEAR))


def _create_crujra_file(
    path: Path,
    variable: str,
    year: int,
    lat: np.ndarray,
    lon: np.ndarray,
    fmt: str,
    *,
    seed: int,
    res_deg: float,
    trend: float,
) -> netCDF4.Dataset:
    spec = CRUJRA_SPECS[variable]
    ds = netCDF4.Dataset(path, "w", format=fmt)
    ds.createDimension("time", None)
    ds.createDimension("lon", lon.size)
    ds.createDimension("lat", lat.size)
    time = ds.createVariable("time", "f8", ("time",))
    time.long_name = "time"
    time.units = CRUJRA_TIME_UNITS
    time.calendar = CRUJRA_CALENDAR
    vlon = ds.createVariable("lon", "f4", ("lon",))
    vlon.long_name = "Longitude"
    vlon.units = "degrees_east"
    vlat = ds.createVariable("lat", "f4", ("lat",))
    vlat.long_name = "Latitude"
    vlat.units = "degrees_north"
    kw: dict = {"fill_value": CRUJRA_FILL_VALUE}
    if fmt == "NETCDF4":
        kw.update(
            zlib=True,
            complevel=1,
            shuffle=True,
            chunksizes=(_time_chunk(lat, lon), lat.size, lon.size),
        )
    data = ds.createVariable(variable, "f4", ("time", "lat", "lon"), **kw)
    data.long_name = spec.long_name
    data.units = spec.units
    data.missing_value = CRUJRA_FILL_VALUE
    vlon[:] = lon
    vlat[:] = lat
    day0 = (year - 1901) * 365.0
    time[:] = day0 + np.arange(STEPS_PER_YEAR, dtype=np.float64) / STEPS_PER_DAY
    ds.title = f"Synthetic weather in the CRU JRA v2.5 layout: {spec.long_name}"
    ds.source = (
        f"callmip-global forcing.synthetic (seed={seed}, res={res_deg} deg, "
        f"trend={trend} K/century)"
    )
    ds.comment = (
        "SYNTHETIC DATA, not observations: written in the CRU JRA v2.5 file layout so that the "
        "real-data readers are exercised."
    )
    return ds


# ---------------------------------------------------------------------------- ISIMIP3b
def ssp_warming(ssp: str, year: int) -> float:
    """Land-mean warming (K) relative to 2015 under ``ssp``.

    ssp126 stabilises (exponential approach), ssp370 and ssp585 keep accelerating.
    """
    if ssp not in SSP_WARMING_2100_K:
        raise ValueError(f"unknown SSP {ssp!r}; known: {ISIMIP_SSPS}")
    x = max(0.0, (year - SCENARIO_FIRST_YEAR) / (2100 - SCENARIO_FIRST_YEAR))
    w2100 = SSP_WARMING_2100_K[ssp]
    if ssp == "ssp126":
        return w2100 * (1.0 - np.exp(-3.0 * x)) / (1.0 - np.exp(-3.0))
    return w2100 * x**1.3


def write_isimip3b(
    out_dir: Path,
    gcm: str,
    ssp: str,
    years: Iterable[int],
    res_deg: float = 0.5,
    seed: int = 0,
    *,
    variables: Sequence[str] = ISIMIP_VARIABLES,
    cache_dir: Path | None = None,
) -> list[Path]:
    """Write synthetic ISIMIP3b bias-adjusted daily files covering ``years``.

    Files follow the decadal ISIMIP3b split (2015_2020, 2021_2030, ...); a file holds only the
    requested years that fall in its decade (its name still says the decade, as a partial
    download would). Global coverage (ISIMIP3b/W5E5 include the ocean), proleptic_gregorian
    calendar with leap days, latitude north to south. Warming follows :func:`ssp_warming`,
    doubled toward the poles (polar amplification).
    """
    gcm = gcm.lower()
    if gcm not in ISIMIP_GCM_MEMBERS:
        raise ValueError(f"unknown ISIMIP3b GCM {gcm!r}; known: {sorted(ISIMIP_GCM_MEMBERS)}")
    ssp_warming(ssp, SCENARIO_FIRST_YEAR)  # validates the SSP name
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lat = lat_centres(res_deg, descending=True)
    lon = lon_centres(res_deg)
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    cells = Cells.from_points(lat2, lon2)
    amplification = 1.0 + 0.8 * np.abs(np.sin(np.deg2rad(cells.lat)))
    gcm_seed = seed * 1000 + sorted(ISIMIP_GCM_MEMBERS).index(gcm)
    paths = []
    for (y0, y1), decade_years in isimip_decades(years).items():
        finals = {v: out_dir / isimip_filename(gcm, ssp, v, y0, y1) for v in variables}
        with _IsimipWriters(finals, lat, lon) as writers:
            for year in decade_years:
                ndays = 366 if _is_leap(year) else 365
                model = WeatherModel(
                    cells,
                    year,
                    gcm_seed,
                    ndays=ndays,
                    warming_k=ssp_warming(ssp, year) * amplification,
                )
                for block in model.blocks(61):
                    daily = block.daily_isimip()
                    writers.append(year, block.first_day, daily)
        paths.extend(finals.values())
    logger.info("wrote synthetic ISIMIP3b %s %s (%d files)", gcm, ssp, len(paths))
    return paths


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


class _IsimipWriters:
    """Open one ISIMIP3b file per variable, append days, and move them in place on exit."""

    def __init__(self, finals: dict[str, Path], lat: np.ndarray, lon: np.ndarray) -> None:
        self.finals = finals
        self.lat, self.lon = lat, lon
        self._stack = ExitStack()
        self._ds: dict[str, netCDF4.Dataset] = {}
        self._n = 0

    def __enter__(self) -> _IsimipWriters:
        with ExitStack() as stack:
            for v, final in self.finals.items():
                tmp = stack.enter_context(atomic_path(final))
                self._ds[v] = self._create(tmp, v)
                stack.callback(_close, self._ds[v])
            self._stack = stack.pop_all()
        return self

    def _create(self, path: Path, variable: str) -> netCDF4.Dataset:
        spec = ISIMIP_SPECS[variable]
        mv = MODEL_VARIABLES[ISIMIP_TO_MODEL[variable]]
        ds = netCDF4.Dataset(path, "w", format="NETCDF4_CLASSIC")
        ds.createDimension("time", None)
        ds.createDimension("lat", self.lat.size)
        ds.createDimension("lon", self.lon.size)
        t = ds.createVariable("time", "f8", ("time",))
        t.standard_name, t.long_name, t.axis = "time", "Time", "T"
        t.units, t.calendar = ISIMIP_TIME_UNITS, ISIMIP_CALENDAR
        la = ds.createVariable("lat", "f8", ("lat",))
        la.standard_name, la.long_name, la.units, la.axis = (
            "latitude",
            "Latitude",
            "degrees_north",
            "Y",
        )
        lo = ds.createVariable("lon", "f8", ("lon",))
        lo.standard_name, lo.long_name, lo.units, lo.axis = (
            "longitude",
            "Longitude",
            "degrees_east",
            "X",
        )
        la[:] = self.lat
        lo[:] = self.lon
        var = ds.createVariable(
            variable,
            "f4",
            ("time", "lat", "lon"),
            fill_value=ISIMIP_FILL_VALUE,
            zlib=True,
            complevel=1,
            chunksizes=(min(_time_chunk(self.lat, self.lon), 366), self.lat.size, self.lon.size),
        )
        var.standard_name = mv.standard_name
        var.long_name = spec.long_name
        var.units = spec.units
        var.missing_value = ISIMIP_FILL_VALUE
        ds.title = "Synthetic daily weather in the ISIMIP3b bias-adjusted layout"
        ds.comment = "SYNTHETIC DATA, not model output: written in the ISIMIP3b file layout."
        ds.source = "callmip-global forcing.synthetic"
        return ds

    def append(self, year: int, first_day: int, daily: dict[str, np.ndarray]) -> None:
        nd = next(iter(daily.values())).shape[0]
        start = netCDF4.date2num(
            cftime.datetime(year, 1, 1, calendar=ISIMIP_CALENDAR),
            ISIMIP_TIME_UNITS,
            ISIMIP_CALENDAR,
        )
        times = start + first_day + np.arange(nd, dtype=np.float64)
        shape = (nd, self.lat.size, self.lon.size)
        for v, ds in self._ds.items():
            ds.variables["time"][self._n : self._n + nd] = times
            ds.variables[v][self._n : self._n + nd] = daily[v].reshape(shape)
        self._n += nd

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stack.__exit__(exc_type, exc, tb)


if __name__ == "__main__":  # worker entry for _run_years_in_subprocesses
    _args = json.loads(sys.argv[1])
    _args["out_dir"] = Path(_args["out_dir"])
    _args["cache_dir"] = None if _args["cache_dir"] is None else Path(_args["cache_dir"])
    _args["variables"] = tuple(_args["variables"])
    write_crujra_year(**_args)
