"""Merge the land-vector outputs of a run's chunks into one (time, lat, lon) native file.

Each chunk writes ``(time, land)`` and ``(time, soil, land)`` vectors for its own cells
(``output%grid = 'land'``: the gridded writer of this branch crashes in the CASA output). The
merged file puts every cell back at its place on the campaign grid (NaN elsewhere), with 1-D
``lat``/``lon`` and CABLE's own time axis, names, units and long names, so the driver's
mapping reads it like any native output. Before a value is placed, the chunk's
``local_lat``/``local_lon`` must match the cell it is placed at, and every chunk must have the
same time axis: a chunk of another domain or run cannot be merged silently.

Only the variables asked for are merged (the mapping's natives), one at a time, so memory is
one variable of the whole grid. The file is written under a temporary name and renamed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import netCDF4
import numpy as np

from callmip.atomic import atomic_path
from callmip.drivers.base import NativeOutputError

MERGED_FILL = np.float32(1e20)
CABLE_FILL_LIMIT = 1e30  # CABLE writes -1e33 as its fill value
COORD_TOLERANCE = 1e-3


def _read_chunk(ds: netCDF4.Dataset, name: str) -> np.ndarray:
    var = ds.variables[name]
    var.set_auto_mask(False)
    values = np.asarray(var[:], dtype="float32")
    return np.where(np.abs(values) > CABLE_FILL_LIMIT, np.nan, values)


def merge_chunks(
    chunk_files: Sequence[Path],
    chunk_cells: Sequence[np.ndarray],
    grid_lat: np.ndarray,
    grid_lon: np.ndarray,
    variables: Iterable[str],
    out: Path,
) -> Path:
    """Write ``out``: ``variables`` of every chunk on the (lat, lon) grid.

    ``chunk_cells[k]`` are the (row, column) indices on that grid of chunk k's land cells, in
    the order CABLE holds them.
    """
    if len(chunk_files) != len(chunk_cells):
        raise ValueError("one cell list per chunk file is needed")
    handles = []
    try:
        for path, cells in zip(chunk_files, chunk_cells, strict=True):
            try:
                ds = netCDF4.Dataset(path)
            except OSError as exc:
                raise NativeOutputError(f"{path}: cannot open chunk output: {exc}") from exc
            handles.append(ds)
            _check_cells(ds, path, cells, grid_lat, grid_lon)
        first = handles[0]
        time = np.asarray(first["time"][:])
        for path, ds in zip(chunk_files[1:], handles[1:], strict=True):
            if not np.array_equal(np.asarray(ds["time"][:]), time) or \
                    ds["time"].units != first["time"].units:
                raise NativeOutputError(f"{path}: time axis differs from {chunk_files[0]}'s")
        names = [v for v in variables if v in first.variables
                 and first.variables[v].dimensions[-1] == "land"]
        with atomic_path(out) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as dst:
            _define(dst, first, time, grid_lat, grid_lon)
            for name in names:
                _merge_variable(dst, handles, chunk_cells, name, grid_lat.size,
                                grid_lon.size)
            dst.source = "CABLE-POP land chunks merged by callmip-global"
            dst.chunks = len(handles)
    finally:
        for ds in handles:
            ds.close()
    return out


def _check_cells(ds: netCDF4.Dataset, path: Path, cells: np.ndarray, grid_lat: np.ndarray,
                 grid_lon: np.ndarray) -> None:
    n = len(ds.dimensions["land"]) if "land" in ds.dimensions else -1
    if n != len(cells):
        raise NativeOutputError(f"{path}: {n} land cells, the chunk has {len(cells)}")
    lat = np.asarray(ds["local_lat"][:], dtype="float64")
    lon = np.asarray(ds["local_lon"][:], dtype="float64")
    want_lat, want_lon = grid_lat[cells[:, 0]], grid_lon[cells[:, 1]]
    bad = (np.abs(lat - want_lat) > COORD_TOLERANCE) | (np.abs(lon - want_lon) > COORD_TOLERANCE)
    if bad.any():
        k = int(np.argmax(bad))
        raise NativeOutputError(
            f"{path}: land cell {k + 1} is at ({lat[k]:.3f}, {lon[k]:.3f}); the chunk's cell is "
            f"({want_lat[k]:.3f}, {want_lon[k]:.3f}): output of another domain or chunk")


def _define(dst: netCDF4.Dataset, src: netCDF4.Dataset, time: np.ndarray,
            grid_lat: np.ndarray, grid_lon: np.ndarray) -> None:
    dst.createDimension("time", None)
    dst.createDimension("lat", grid_lat.size)
    dst.createDimension("lon", grid_lon.size)
    if "soil" in src.dimensions:
        dst.createDimension("soil", len(src.dimensions["soil"]))
    t = dst.createVariable("time", "f8", ("time",))
    for attr in ("units", "calendar"):
        setattr(t, attr, getattr(src["time"], attr))
    t[:] = time
    for name, values, units in (("lat", grid_lat, "degrees_north"),
                                ("lon", grid_lon, "degrees_east")):
        v = dst.createVariable(name, "f8", (name,))
        v.units = units
        v[:] = values


def _merge_variable(dst: netCDF4.Dataset, handles: list[netCDF4.Dataset],
                    chunk_cells: Sequence[np.ndarray], name: str, nlat: int, nlon: int) -> None:
    src = handles[0].variables[name]
    dims = src.dimensions
    if dims not in (("time", "land"), ("time", "soil", "land")):
        return
    shape = (len(handles[0].dimensions["time"]), *(
        [len(handles[0].dimensions["soil"])] if "soil" in dims else []), nlat, nlon)
    grid = np.full(shape, np.nan, dtype="float32")
    for ds, cells in zip(handles, chunk_cells, strict=True):
        grid[..., cells[:, 0], cells[:, 1]] = _read_chunk(ds, name)
    out_dims = ("time", "soil", "lat", "lon") if "soil" in dims else ("time", "lat", "lon")
    var = dst.createVariable(name, "f4", out_dims, zlib=True, complevel=1,
                             fill_value=MERGED_FILL)
    for attr in ("units", "long_name"):
        if hasattr(src, attr):
            setattr(var, attr, getattr(src, attr))
    var[:] = np.where(np.isfinite(grid), grid, MERGED_FILL)
