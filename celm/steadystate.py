"""``spinup_mode: analytic``: find the periodic state of the namelist's forcing cycle, then run
the cycle once from it.

Contract: :func:`run` takes a validated :class:`~celm.namelist.Namelist` whose years are one
pass through the forcing cycle (at fixed, usually pre-industrial, CO2) and returns the
:class:`~celm.simulate.RunSummary` of the final cycle. It starts from the namelist's restart (or
a cold start), iterates in memory to the periodic state (:func:`celm.cycling.accelerated_spinup`:
cycles, semi-analytic solves, Anderson acceleration; nothing is written), then runs the
namelist's years once more from the end of the last iterated cycle, writing the outputs and the
restart exactly as ``python -m celm run`` does. So the job's outputs describe a normal cycle
of the model, and the restart is the model's own state: the orchestrator's drift criteria judge
the following normal cycles against it as against any other cycle.

The iteration's stop rule comes from the namelist's ``steady_state`` block (defaults:
:class:`celm.cycling.SpinupOptions`); the progress of every cycle is logged on stderr, and
what the iteration cost is written to ``<output_dir>/steady_state.json`` (per tile: cycles,
simulated years, land-cell years, converged, seconds), so the orchestrator can report the
years a spin-up really simulated, not only the cycles it ran as jobs.

With land use (``landuse_dir``), each cell's natural and managed tiles are spun up separately
(their land is weighted by 1 - f and f in the stop rule): the spin-up holds land use at one
year, so no land moves between the tiles and they are independent; a cycle whose land use
changes from year to year is refused (it has no periodic state).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from celm.cycling import SpinupOptions, accelerated_spinup
from celm.errors import CelmInputError
from celm.forcing import forcing_path, read_grid
from celm.namelist import STEADY_STATE_COST, Namelist
from celm.params import kernel_params, load_params
from celm.simulate import ForcingYears, ManagedTile, RunSummary, cell_day_length, initial_state
from celm.simulate import run as run_years
from celm.spinup import total_carbon

log = logging.getLogger(__name__)


class _CycleForcing(Sequence):
    """The forcing of the cycle's years, read through the run's cache on access (a 20-year
    cycle at 0.5 degree does not fit in memory at once)."""

    def __init__(self, forcing: ForcingYears, years: list[int]) -> None:
        self._forcing = forcing
        self._years = years

    def __len__(self) -> int:
        return len(self._years)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self._forcing(y) for y in self._years[i]]
        return self._forcing(self._years[i])


def options(nml: Namelist) -> SpinupOptions:
    """The iteration's options: the namelist's ``steady_state`` values over the defaults."""
    given = {k: v for k, v in nml.steady_state.model_dump().items() if v is not None}
    return SpinupOptions(**given)


def run(nml: Namelist) -> RunSummary:
    """Spin up to the periodic state, then run the cycle once; see the module docstring."""
    p = kernel_params(load_params(nml.params_file, nml.ensemble_member))
    grid = read_grid(forcing_path(nml.forcing_dir, nml.years[0].forcing_year))
    forcing = ForcingYears(nml.forcing_dir, grid)
    state = initial_state(nml, grid, p, forcing)
    cold = nml.restart_in is None
    cycle_forcing = _CycleForcing(forcing, [y.forcing_year for y in nml.years])
    co2 = [y.co2_ppm for y in nml.years]
    daylen = cell_day_length(grid)
    weights = grid.land_weights
    tiles = [("natural", p, state, weights)]
    tile = None
    if nml.landuse_dir is not None:
        levels = {y.landuse_year for y in nml.years}
        if len(levels) != 1:
            raise CelmInputError(
                nml.landuse_dir, "years",
                f"spinup_mode analytic needs one land-use year for the whole cycle, got "
                f"{sorted(levels)}",
            )  # fmt: skip
        tile = ManagedTile(nml, grid, p, state, cold=cold)
        tiles = [("natural", p, state, weights * (1.0 - tile.f)),
                 ("managed", tile.p, tile.state, weights * tile.f)]  # fmt: skip
    ends = {}
    cost: dict[str, dict] = {}
    for name, params, start, tile_weights in tiles:
        if not np.any(tile_weights > 0):  # e.g. no managed land anywhere: nothing to spin up
            ends[name] = start
            continue
        t0 = time.perf_counter()
        cycle, slog = accelerated_spinup(p=params, state=start, forcing=cycle_forcing,
                                         daylen=daylen, co2=co2, weights=tile_weights,
                                         options=options(nml), cold=cold)  # fmt: skip
        mean = _land_mean(total_carbon(start), tile_weights)
        log.info(
            "celm: steady state of the %s tile %s after %d cycles (%d simulated years, %.0f%% of "
            "them on every cell) in %.1f s; land-mean total carbon %.1f -> %.1f gC m-2",
            name,
            "reached" if slog.converged else "NOT reached (last cycle of each cell kept)",
            slog.cycles,
            slog.years,
            100.0 * slog.cell_years / max(slog.years * grid.ncell, 1),
            time.perf_counter() - t0,
            mean,
            _land_mean(total_carbon(cycle.end), tile_weights),
        )
        ends[name] = cycle.end
        cost[name] = {"cycles": slog.cycles, "years": slog.years, "cell_years": slog.cell_years,
                      "land_cells": grid.ncell, "converged": slog.converged,
                      "seconds": round(time.perf_counter() - t0, 3)}
    write_cost(Path(nml.output_dir), cost, len(nml.years))
    final = nml.model_copy(update={"spinup_mode": None})
    return run_years(final, state=ends["natural"], forcing=forcing, managed=ends.get("managed"))


def write_cost(output_dir: Path, tiles: dict[str, dict], cycle_years: int) -> Path:
    """Write :data:`celm.namelist.STEADY_STATE_COST` (temporary name, then rename): ``tiles``
    per tile, plus the cycle's length. The run that follows writes the cycle's outputs once
    more; it is not counted here."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / STEADY_STATE_COST
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"cycle_years": cycle_years, "tiles": tiles}, indent=1))
    os.replace(tmp, path)
    return path


def _land_mean(values: np.ndarray, weights: np.ndarray) -> float:
    return float(np.sum(values * weights) / max(float(np.sum(weights)), 1e-300))
