"""Run CELM for the years of a namelist: forcing in, state through the kernel, files out.

Contract: :func:`run` executes a validated :class:`~celm.namelist.Namelist` and returns a
:class:`RunSummary`. Inputs are checked before the first simulated day (parameters, grid of the
first forcing file, restart grid); each forcing file is checked when read. Per simulated year it
reads the forcing year, runs the kernel month by month, writes the requested monthly/annual/daily
files and logs one progress line. At the end it writes the restart. The accelerated spin-up
(``spinup_mode: analytic``) is :mod:`celm.steadystate`, which finds the periodic state and then
calls :func:`run` from it.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from celm import kernel
from celm.energy import aerodynamic_coefficient
from celm.forcing import DAYS, forcing_path, read_forcing_year, read_grid
from celm.grid import LandGrid
from celm.landuse import (
    FRACTION_NAME,
    MANAGED_SUFFIX,
    PRODUCT_NAMES,
    change_land_use,
    decay_products,
    harvest_share,
    managed_params,
    read_managed_fraction,
)
from celm.namelist import Namelist
from celm.output import DailyWriter, RunInfo, derive_outputs, write_period_file
from celm.params import KernelParams, kernel_params, load_params, param_kind
from celm.phenology import day_length
from celm.state import cold_start, read_restart, read_restart_extra, write_restart
from celm.step import DIAG_VARS, NDIAG, STATE_VARS

log = logging.getLogger(__name__)
#: memory budget of decoded forcing years kept between simulated years
FORCING_CACHE_BYTES = 2 * 1024**3

#: days per month of the 365-day calendar
MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
MONTH_START = np.concatenate([[0], np.cumsum(MONTH_DAYS)])
_WOOD = STATE_VARS.index("C_WOOD")
_GPP, _RA = DIAG_VARS.index("GPP"), DIAG_VARS.index("RA")


@dataclass
class RunSummary:
    """What a run did (for the CLI and tests)."""

    years: list[int] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    restart: Path | None = None
    ncell: int = 0
    model_seconds: float = 0.0
    read_seconds: float = 0.0
    write_seconds: float = 0.0


def cell_day_length(grid: LandGrid) -> np.ndarray:
    """Hours of daylight (365, ncell) float32 for the grid's land cells."""
    rows = grid.land_index // grid.lon.size
    table = day_length(grid.lat, np.arange(1, DAYS + 1))
    return np.ascontiguousarray(table[:, rows], dtype=np.float32)


def simulate_year(
    p,
    state: np.ndarray,
    forcing: np.ndarray,
    daylen: np.ndarray,
    co2: float,
    daily_sink=None,
    block=kernel.run_block,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Advance ``state`` in place through one year; return monthly means (12, NDIAG, ncell).

    ``forcing`` is the year's (365, NFORCING, ncell) float32 array (C-contiguous).

    ``daily_sink(day0, means (ndays, NDIAG, ncell))`` receives daily values when given (the kernel
    then runs one day at a time). ``block`` is the kernel (numba by default, or the numpy
    reference). ``out``: a float64 (12, NDIAG, ncell) C-contiguous buffer to write the monthly
    means into and return (a run reuses one for all its years: a fresh 60 MB array per year at 1
    degree costs its page faults, about 5% of the model time); allocated when None.
    """
    ncell = state.shape[1]
    shape = (12, NDIAG, ncell)
    if out is None:
        out = np.empty(shape, dtype=np.float64)
    elif out.shape != shape or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError(
            f"simulate_year: out must be C-contiguous float64 {shape}, got {out.dtype} {out.shape}"
        )
    for m in range(12):
        d0, d1 = MONTH_START[m], MONTH_START[m + 1]
        ga_coef = aerodynamic_coefficient(state[_WOOD])
        acc = out[m]  # a contiguous view: the kernel sums into it, then it becomes the mean
        acc.fill(0.0)
        if daily_sink is None:
            block(p, state, forcing[d0:d1], daylen[d0:d1], ga_coef, co2, acc)
        else:
            days = np.zeros((d1 - d0, NDIAG, ncell), dtype=np.float64)
            for d in range(d0, d1):
                block(p, state, forcing[d : d + 1], daylen[d : d + 1], ga_coef, co2, days[d - d0])
            daily_sink(d0, days)
            days.sum(axis=0, out=acc)
        acc *= 1.0 / (d1 - d0)
    return out


def _contiguous_forcing(forcing: np.ndarray) -> np.ndarray:
    return forcing if forcing.flags.c_contiguous else np.ascontiguousarray(forcing)


class ForcingYears:
    """Decoded forcing years of one run, read on first use and kept in memory.

    Spin-up and transient runs recycle a few forcing years over and over: keep decoded years
    (least recently used first out) up to :data:`FORCING_CACHE_BYTES` instead of re-reading and
    decompressing the same file every simulated year. ``read_seconds`` sums the reading time.
    """

    def __init__(self, forcing_dir: Path, grid: LandGrid) -> None:
        self.forcing_dir = Path(forcing_dir)
        self.grid = grid
        self.read_seconds = 0.0
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def __call__(self, year: int) -> np.ndarray:
        """The (365, NFORCING, ncell) float32 C-contiguous forcing of ``year``."""
        cache = self._cache
        if year in cache:
            cache.move_to_end(year)
            return cache[year]
        t0 = time.perf_counter()
        path = forcing_path(self.forcing_dir, year)
        forcing = _contiguous_forcing(read_forcing_year(path, self.grid))
        self.read_seconds += time.perf_counter() - t0
        cache[year] = forcing
        while len(cache) > 1 and sum(a.nbytes for a in cache.values()) > FORCING_CACHE_BYTES:
            cache.popitem(last=False)
        return forcing


def initial_state(nml: Namelist, grid: LandGrid, p, forcing: ForcingYears) -> np.ndarray:
    """The namelist's restart, or a cold start from the first forcing year's mean temperature."""
    if nml.restart_in is not None:
        state, last = read_restart(nml.restart_in, grid)
        log.info("celm: restart %s (last year %d), %d land cells", nml.restart_in, last, grid.ncell)
        return state
    log.info("celm: cold start, %d land cells", grid.ncell)
    first = forcing(nml.years[0].forcing_year)
    return cold_start(grid, p, first[:, 0].mean(axis=0, dtype=np.float64))


class ManagedTile:
    """The managed (crop + pasture) tile of every land cell and its bookkeeping
    (:mod:`celm.landuse`): its state, this year's managed fraction, the product pools and the
    year's land-use fluxes. The natural tile is the run's ``state``."""

    def __init__(self, nml: Namelist, grid: LandGrid, p: KernelParams, natural: np.ndarray,
                 cold: bool) -> None:
        self.nml, self.grid = nml, grid
        self.p = managed_params(p)
        self.harvest = harvest_share(self.p)
        self._fractions: dict[int, np.ndarray] = {}
        first = self.fraction(nml.years[0].landuse_year)
        names = [f"{v}{MANAGED_SUFFIX}" for v in STATE_VARS] + [FRACTION_NAME, *PRODUCT_NAMES]
        extra = None if cold else read_restart_extra(nml.restart_in, names)
        if extra is not None:
            self.state = np.stack([extra[f"{v}{MANAGED_SUFFIX}"] for v in STATE_VARS])
            self.f = extra[FRACTION_NAME]
            self.products = np.stack([extra[n] for n in PRODUCT_NAMES])
        elif cold:  # bare ground everywhere: the managed land is simply there from the start
            self.state, self.f = natural.copy(), first
            self.products = np.zeros((len(PRODUCT_NAMES), grid.ncell))
        else:  # a restart without land use: all managed land is cleared in the first year
            self.state, self.f = natural.copy(), np.zeros(grid.ncell)
            self.products = np.zeros((len(PRODUCT_NAMES), grid.ncell))
            self.state[_WOOD] = 0.0
        self.buffer = np.empty((12, NDIAG, grid.ncell), dtype=np.float64)
        self.emitted = np.zeros(grid.ncell)

    def fraction(self, year: int) -> np.ndarray:
        if year not in self._fractions:
            path = self.nml.landuse_dir / f"landuse_{year:04d}.nc"
            self._fractions[year] = read_managed_fraction(path, self.grid)
        return self._fractions[year]

    def begin_year(self, natural: np.ndarray, landuse_year: int) -> None:
        """Move land between the tiles to this year's fraction."""
        f1 = self.fraction(landuse_year)
        self.emitted = change_land_use(natural, self.state, self.f, f1, self.products)\
            .to_atmosphere
        self.f = f1

    def end_year(self, natural_monthly: np.ndarray, managed_monthly: np.ndarray,
                 monthly: np.ndarray) -> dict[str, np.ndarray]:
        """Combine the tiles' monthly means into ``monthly`` (in place), decay the products,
        and return the land-use outputs per month (12, ncell)."""
        f = self.f
        np.multiply(natural_monthly, 1.0 - f, out=monthly)
        monthly += managed_monthly * f
        harvest = f * self.harvest * (managed_monthly[:, _GPP] - managed_monthly[:, _RA])
        self.emitted = self.emitted + decay_products(self.products)
        fluc = np.broadcast_to(self.emitted / DAYS, harvest.shape)
        return {"FHARVEST": harvest, "FLUC": fluc,
                "C_PRODUCT": np.broadcast_to(self.products.sum(axis=0), harvest.shape),
                "MANAGED_FRAC": np.broadcast_to(f, harvest.shape)}

    def restart_extra(self) -> dict[str, np.ndarray]:
        extra = {f"{v}{MANAGED_SUFFIX}": self.state[k] for k, v in enumerate(STATE_VARS)}
        extra[FRACTION_NAME] = self.f
        extra.update(zip(PRODUCT_NAMES, self.products, strict=True))
        return extra


def run(
    nml: Namelist,
    state: np.ndarray | None = None,
    forcing: ForcingYears | None = None,
    managed: np.ndarray | None = None,
) -> RunSummary:
    """Run the namelist's years; see the module docstring.

    ``state`` (NSTATE, ncell): start from it instead of the namelist's restart or a cold start
    (the steady-state command hands over its periodic state), and ``managed`` likewise for the
    managed tile when the namelist has land use; ``forcing``: reuse the forcing years another
    stage of the same process already read.
    """
    values = load_params(nml.params_file, nml.ensemble_member)
    p = kernel_params(values)
    kind = param_kind(nml.params_file)
    grid = read_grid(forcing_path(nml.forcing_dir, nml.years[0].forcing_year))
    summary = RunSummary(ncell=grid.ncell)
    daylen = cell_day_length(grid)
    if forcing is None:
        forcing = ForcingYears(nml.forcing_dir, grid)
    read_before = forcing.read_seconds
    state = initial_state(nml, grid, p, forcing) if state is None else state.copy()

    tile = (ManagedTile(nml, grid, p, state, cold=nml.restart_in is None)
            if nml.landuse_dir is not None else None)
    if tile is not None and managed is not None:
        tile.state = managed.copy()
    monthly_buffer = np.empty((12, NDIAG, grid.ncell), dtype=np.float64)
    combined = np.empty_like(monthly_buffer) if tile is not None else monthly_buffer
    out_dir = Path(nml.output_dir)
    for spec in nml.years:
        t_year = time.perf_counter()
        met = forcing(spec.forcing_year)
        info = RunInfo(
            params_file=str(nml.params_file),
            params_kind=kind,
            ensemble_member=nml.ensemble_member,
            forcing_year=spec.forcing_year,
            co2_ppm=spec.co2_ppm,
            landuse_year=spec.landuse_year,
        )
        writer = None
        if nml.output.daily:
            writer = DailyWriter(out_dir / f"daily_{spec.year:04d}.nc", grid, spec.year, info)
        natural_days: dict[int, np.ndarray] = {}
        sink = sink_managed = None
        if writer is not None and tile is None:

            def sink(_day0: int, days: np.ndarray, w: DailyWriter = writer) -> None:
                w.append(derive_outputs(np.moveaxis(days, 0, 1), p))

        elif writer is not None and tile is not None:

            def sink(day0: int, days: np.ndarray, store: dict = natural_days) -> None:
                store[day0] = days

            def sink_managed(day0: int, days: np.ndarray, w: DailyWriter = writer,
                             t: ManagedTile = tile, store: dict = natural_days) -> None:
                cell = store.pop(day0) * (1.0 - t.f) + days * t.f
                harvest = t.f * t.harvest * (days[:, _GPP] - days[:, _RA])
                zeros = np.zeros_like(harvest)
                w.append(derive_outputs(np.moveaxis(cell, 0, 1), p, {
                    "FHARVEST": harvest, "FLUC": zeros, "C_PRODUCT": zeros,
                    "MANAGED_FRAC": np.broadcast_to(t.f, harvest.shape)}))

        t0 = time.perf_counter()
        try:
            if tile is not None:
                tile.begin_year(state, spec.landuse_year)
            monthly = simulate_year(
                p, state, met, daylen, spec.co2_ppm, daily_sink=sink, out=monthly_buffer
            )
            landuse = None
            if tile is not None:
                managed_monthly = simulate_year(tile.p, tile.state, met, daylen, spec.co2_ppm,
                                                daily_sink=sink_managed, out=tile.buffer)
                landuse = tile.end_year(monthly, managed_monthly, combined)
                monthly = combined
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        summary.model_seconds += time.perf_counter() - t0
        annual = np.tensordot(MONTH_DAYS / DAYS, monthly, axes=(0, 0))
        annual_landuse = None
        if landuse is not None:
            annual_landuse = {k: np.tensordot(MONTH_DAYS / DAYS, v, axes=(0, 0))[None]
                              for k, v in landuse.items()}
            annual_landuse["C_PRODUCT"] = landuse["C_PRODUCT"][-1][None]

        t0 = time.perf_counter()
        if writer is not None:
            summary.files.append(writer.close())
        if nml.output.monthly:
            bounds = np.stack([MONTH_START[:-1], MONTH_START[1:]], axis=1).astype(np.float64)
            summary.files.append(
                write_period_file(
                    out_dir / f"monthly_{spec.year:04d}.nc",
                    derive_outputs(np.moveaxis(monthly, 0, 1), p, landuse),
                    bounds,
                    grid,
                    spec.year,
                    info,
                    "monthly",
                )
            )
        if nml.output.annual:
            summary.files.append(
                write_period_file(
                    out_dir / f"annual_{spec.year:04d}.nc",
                    derive_outputs(annual[:, None, :], p, annual_landuse),
                    np.array([[0.0, float(DAYS)]]),
                    grid,
                    spec.year,
                    info,
                    "annual",
                )
            )
        summary.write_seconds += time.perf_counter() - t0
        summary.years.append(spec.year)
        log.info(
            "celm: year %d (forcing %d, CO2 %.1f ppm%s) done in %.2f s",
            spec.year,
            spec.forcing_year,
            spec.co2_ppm,
            "" if tile is None else f", land use {spec.landuse_year}",
            time.perf_counter() - t_year,
        )

    summary.read_seconds = forcing.read_seconds - read_before
    summary.restart = write_restart(nml.restart_out, state, grid, nml.years[-1].year,
                                    tile.restart_extra() if tile is not None else None)
    return summary
