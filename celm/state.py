"""Prognostic state: cold start, and the restart file.

Contract: the state is a float64 array (NSTATE, ncell) with rows ordered like
:data:`celm.step.STATE_VARS`. A restart is NetCDF4 with dimension ``land`` (ncell), one float64
variable per state row, ``land_index`` (flat row-major index into (lat, lon)), the 1-D ``lat`` and
``lon`` coordinates, and global attributes ``grid_hash``, ``model``, ``last_year``. Reading a
restart whose grid hash, land index or variables do not match raises
:class:`~celm.errors.CelmInputError`. Writing goes to a temporary name first, then ``os.replace``.
"""

from __future__ import annotations

import os
from pathlib import Path

import netCDF4
import numpy as np

from celm.constants import W1_FC
from celm.errors import CelmInputError, open_input
from celm.grid import LandGrid
from celm.params import KernelParams
from celm.step import NSTATE, STATE_VARS

#: cold-start carbon (gC m-2): a labile seed and a little foliage and root so growth can begin
COLD_START_CARBON = {"C_LABILE": 100.0, "C_LEAF": 10.0, "C_ROOT": 10.0}


def cold_start(grid: LandGrid, p: KernelParams, mean_tas: np.ndarray) -> np.ndarray:
    """Bare ground with a seed of carbon, soil at field capacity, no snow.

    ``mean_tas`` (ncell,) initialises the soil temperature (annual-mean air temperature).
    """
    state = np.zeros((NSTATE, grid.ncell), dtype=np.float64)
    row = {name: i for i, name in enumerate(STATE_VARS)}
    for name, value in COLD_START_CARBON.items():
        state[row[name]] = value
    state[row["W_TOP"]] = W1_FC
    state[row["W_SUB"]] = p.w2_fc
    state[row["T_SOIL"]] = mean_tas
    state[row["GSI"]] = 0.5
    return state


def write_restart(
    path: Path, state: np.ndarray, grid: LandGrid, last_year: int,
    extra: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write the restart atomically; ``extra``: more per-land-cell variables (the land-use
    tile, managed fraction and product pools, :mod:`celm.landuse`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.model = "celm"
        ds.grid_hash = grid.grid_hash
        ds.last_year = int(last_year)
        ds.title = "CELM restart: prognostic state per land cell"
        ds.createDimension("land", grid.ncell)
        ds.createDimension("lat", grid.lat.size)
        ds.createDimension("lon", grid.lon.size)
        ds.createVariable("lat", "f8", ("lat",))[:] = grid.lat
        ds.createVariable("lon", "f8", ("lon",))[:] = grid.lon
        idx = ds.createVariable("land_index", "i8", ("land",))
        idx[:] = grid.land_index
        idx.long_name = "flat row-major index of the land cell into (lat, lon)"
        for k, name in enumerate(STATE_VARS):
            var = ds.createVariable(name, "f8", ("land",), zlib=True, complevel=1)
            var[:] = state[k]
        for name, values in (extra or {}).items():
            var = ds.createVariable(name, "f8", ("land",), zlib=True, complevel=1)
            var[:] = values
    os.replace(tmp, path)
    return path


def read_restart(path: Path, grid: LandGrid) -> tuple[np.ndarray, int]:
    """The state (NSTATE, ncell) and last simulated year of a restart on ``grid``."""
    path = Path(path)
    with open_input(path, "restart file") as ds:
        found = str(getattr(ds, "grid_hash", ""))
        if found != grid.grid_hash:
            raise CelmInputError(
                path,
                "grid_hash",
                f"restart is for grid {found or '(none)'} but the forcing grid is "
                f"{grid.grid_hash} ({grid.lat.size}x{grid.lon.size}, {grid.ncell} land cells)",
            )
        if "land_index" not in ds.variables or not np.array_equal(
            ds.variables["land_index"][:], grid.land_index
        ):
            raise CelmInputError(path, "land_index", "land cells differ from the forcing grid's")
        state = np.empty((NSTATE, grid.ncell), dtype=np.float64)
        for k, name in enumerate(STATE_VARS):
            if name not in ds.variables:
                raise CelmInputError(path, name, "state variable missing from restart")
            values = np.asarray(ds.variables[name][:], dtype=np.float64)
            if not np.all(np.isfinite(values)):
                raise CelmInputError(path, name, "contains NaN or infinite values")
            state[k] = values
        return state, int(getattr(ds, "last_year", -1))


def read_restart_extra(path: Path, names: list[str]) -> dict[str, np.ndarray] | None:
    """The ``extra`` variables of a restart read by :func:`read_restart` (same file, already
    checked against the grid), or None when it has none of them (e.g. a restart written
    without land use). Partly present or non-finite values are an error."""
    path = Path(path)
    with netCDF4.Dataset(path) as ds:
        present = [n for n in names if n in ds.variables]
        if not present:
            return None
        if len(present) != len(names):
            missing = sorted(set(names) - set(present))
            raise CelmInputError(path, missing[0], "restart has only part of the land-use state")
        out = {}
        for name in names:
            values = np.asarray(ds.variables[name][:], dtype=np.float64)
            if not np.all(np.isfinite(values)):
                raise CelmInputError(path, name, "contains NaN or infinite values")
            out[name] = values
        return out
