"""Weight files in ESMF and SCRIP netCDF format, and the on-disk weights cache.

Contract: weights live in memory as a ``scipy.sparse.csr_matrix`` ``(n_dst, n_src)`` in the
*destination-area* convention (``W[i, j]`` = share of destination cell ``i`` covered by source
cell ``j``; rows sum to the destination coverage). This module converts to and from the two
file conventions other tools use, so weights can be exchanged both ways:

* **ESMF** (``ESMF_RegridWeightGen``, xESMF, NCO ``ncremap``): ``S``, ``row``, ``col``
  (1-based), plus grid centres/corners/areas/fractions (``xc_a``, ``yv_b``, ``area_a``,
  ``frac_b``...). Written with ``normalization = "destarea"`` like ESMF's default.
* **SCRIP** (CDO ``gencon``/``genbil``/``gennn``, SCRIP, NCO): ``remap_matrix``,
  ``src_address``, ``dst_address`` (1-based), plus ``src_grid_*``/``dst_grid_*`` fields.
  CDO applies the stored numbers as they are, so conservative maps are written with
  ``normalization = "fracarea"`` (each row divided by the destination coverage, which goes in
  ``dst_grid_frac``); that gives the right answer on partially covered cells in CDO's
  ``remap`` and is converted back exactly on read.

On read, conservative maps are converted to destination-area weights: ``fracarea`` rows are
multiplied by the destination fraction, ``none`` (raw overlap areas) divided by the
destination area; non-conservative maps are taken as stored. Files are written to a temporary
name in the target directory and moved into place, so a crash never leaves half a file.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import netCDF4
import numpy as np
import scipy.sparse as sp

from callmip.atomic import atomic_path
from regrid.errors import GridMismatchError, WeightsFileError
from regrid.grid import Grid, sin_difference

log = logging.getLogger(__name__)

WeightsFormat = Literal["esmf", "scrip"]
WEIGHTS_VERSION = "1"
"""Bumped whenever our weight generation changes, so stale cache entries are not reused."""

_MAP_METHOD = {
    # CDO only accepts this exact prefix for 1-weight conservative maps (YAC-style).
    "conservative": "Conservative remapping using clipping on sphere",
    "bilinear": "Bilinear remapping",
    "nearest": "Nearest neighbor remapping",
}
_ESMF_METHOD = {
    "conservative": "First-order Conservative",
    "bilinear": "Bilinear",
    "nearest": "Nearest source to destination",
}
_CENTRE_TOL_DEG = 1e-3  # centres written as float32 by some tools are only this accurate


@dataclass(frozen=True)
class WeightsFile:
    """What a weights file holds, already converted to destination-area weights.

    ``src_centres``/``dst_centres`` are flattened ``(lat, lon)`` in degrees when the file
    stores them (ESMF ``yc_a``/``xc_a``, SCRIP ``src_grid_center_lat``...), else ``None``.
    """

    path: Path
    format: WeightsFormat
    weights: sp.csr_matrix
    method: str | None
    src_dims: tuple[int, ...] | None
    dst_dims: tuple[int, ...] | None
    src_centres: tuple[np.ndarray, np.ndarray] | None
    dst_centres: tuple[np.ndarray, np.ndarray] | None

    def check_grids(self, src: Grid, dst: Grid) -> None:
        """Raise :class:`GridMismatchError` unless the file was made for ``src`` -> ``dst``
        with the same cell order (catches flipped latitude or swapped grids)."""
        n_dst, n_src = self.weights.shape
        if (n_src, n_dst) != (src.size, dst.size):
            raise GridMismatchError(
                f"weights file '{self.path}' maps {n_src} source cells to {n_dst} destination "
                f"cells, but the grids have {src.size} ({src.shape[0]}x{src.shape[1]}) and "
                f"{dst.size} ({dst.shape[0]}x{dst.shape[1]}) cells"
            )
        for role, dims, grid in (("source", self.src_dims, src), ("destination", self.dst_dims,
                                                                  dst)):
            if dims is not None and len(dims) == 2 and tuple(dims) != (grid.lon.size,
                                                                       grid.lat.size):
                raise GridMismatchError(
                    f"weights file '{self.path}': {role} grid dims (nlon, nlat) = {dims}, "
                    f"expected {(grid.lon.size, grid.lat.size)}"
                )
        for role, centres, grid in (("source", self.src_centres, src),
                                    ("destination", self.dst_centres, dst)):
            if centres is not None:
                _check_centres(self.path, role, centres, grid)


def _check_centres(path: Path, role: str, centres: tuple[np.ndarray, np.ndarray],
                   grid: Grid) -> None:
    lat, lon = centres
    g_lat, g_lon = (a.ravel() for a in np.meshgrid(grid.lat, grid.lon, indexing="ij"))
    d_lat = np.abs(lat - g_lat)
    d_lon = np.abs((lon - g_lon + 180.0) % 360.0 - 180.0)
    # longitude is meaningless at the poles; tolerate any lon there
    d_lon = np.where(np.abs(g_lat) > 90.0 - _CENTRE_TOL_DEG, 0.0, d_lon)
    if d_lat.max() <= _CENTRE_TOL_DEG and d_lon.max() <= _CENTRE_TOL_DEG:
        return
    hint = ""
    flipped_lat = np.repeat(grid.lat[::-1], grid.lon.size)
    if np.abs(lat - flipped_lat).max() <= _CENTRE_TOL_DEG:
        hint = " (the file's latitude runs the other way: flip the data or the grid)"
    k = int(np.argmax(np.maximum(d_lat, d_lon)))
    raise GridMismatchError(
        f"weights file '{path}': {role} cell {k} is centred at lat={lat[k]:g}, lon={lon[k]:g} "
        f"but the {role} grid has lat={g_lat[k]:g}, lon={g_lon[k]:g}{hint}"
    )


# ----------------------------------------------------------------------------- reading
def read_weights(
    path: str | os.PathLike[str], shape: tuple[int, int] | None = None
) -> WeightsFile:
    """Read an ESMF or SCRIP weights file (format detected from its variables).

    ``shape`` = ``(n_dst, n_src)`` sizes the matrix for files that do not record the grid
    sizes (xESMF writes only ``S``/``row``/``col``); without it they are inferred from the
    largest indices, which undercounts when the last cells have no links.
    """
    path = Path(path)
    try:
        nc = netCDF4.Dataset(path, "r")
    except (OSError, RuntimeError) as err:
        raise WeightsFileError(f"cannot open weights file '{path}': {err}") from err
    try:
        nc.set_auto_mask(False)
        names = set(nc.variables)
        if {"S", "row", "col"} <= names:
            return _read_esmf(nc, path, shape)
        if {"remap_matrix", "src_address", "dst_address"} <= names:
            return _read_scrip(nc, path)
        raise WeightsFileError(
            f"'{path}' is not a weights file: expected ESMF variables S/row/col or SCRIP "
            f"variables remap_matrix/src_address/dst_address, found {sorted(names)}"
        )
    finally:
        nc.close()


def _attr(nc: netCDF4.Dataset, name: str) -> str | None:
    value = getattr(nc, name, None)
    return None if value is None else str(value)


def _method_from_text(text: str | None) -> str | None:
    if not text:
        return None
    low = text.lower()
    if "conserv" in low:
        return "conservative"
    if "bilinear" in low:
        return "bilinear"
    if "nearest" in low or "neighbor" in low or "neighbour" in low:
        return "nearest"
    return None


def _size(nc: netCDF4.Dataset, dim: str, var: str | None = None) -> int | None:
    if dim in nc.dimensions:
        return len(nc.dimensions[dim])
    if var is not None and var in nc.variables:
        return int(nc.variables[var].shape[0])
    return None


def _degrees(nc: netCDF4.Dataset, lat_var: str, lon_var: str) -> tuple[np.ndarray,
                                                                        np.ndarray] | None:
    if lat_var not in nc.variables or lon_var not in nc.variables:
        return None
    lat = np.asarray(nc.variables[lat_var][:], dtype=np.float64).ravel()
    lon = np.asarray(nc.variables[lon_var][:], dtype=np.float64).ravel()
    units = str(getattr(nc.variables[lat_var], "units", "degrees")).lower()
    if units.startswith("rad"):
        lat, lon = np.rad2deg(lat), np.rad2deg(lon)
    return lat, lon


def _dims(nc: netCDF4.Dataset, var: str) -> tuple[int, ...] | None:
    if var not in nc.variables:
        return None
    return tuple(int(v) for v in np.asarray(nc.variables[var][:]).ravel())


def _to_csr(path: Path, vals: np.ndarray, rows1: np.ndarray, cols1: np.ndarray, n_dst: int,
            n_src: int) -> sp.csr_matrix:
    rows = np.asarray(rows1, dtype=np.int64) - 1
    cols = np.asarray(cols1, dtype=np.int64) - 1
    if rows.size and (rows.min() < 0 or rows.max() >= n_dst):
        raise WeightsFileError(
            f"weights file '{path}': destination index out of range 1..{n_dst} "
            f"(found {rows.min() + 1}..{rows.max() + 1})"
        )
    if cols.size and (cols.min() < 0 or cols.max() >= n_src):
        raise WeightsFileError(
            f"weights file '{path}': source index out of range 1..{n_src} "
            f"(found {cols.min() + 1}..{cols.max() + 1})"
        )
    if not np.all(np.isfinite(vals)):
        raise WeightsFileError(f"weights file '{path}' contains non-finite weights")
    w = sp.csr_matrix((np.asarray(vals, dtype=np.float64), (rows, cols)), shape=(n_dst, n_src))
    w.sum_duplicates()
    w.sort_indices()
    return w


def _to_destarea(path: Path, w: sp.csr_matrix, method: str | None, normalization: str | None,
                 frac: np.ndarray | None, area: np.ndarray | None) -> sp.csr_matrix:
    if method != "conservative" or normalization in (None, "destarea"):
        return w
    if normalization == "fracarea":
        if frac is None:
            log.warning("weights file '%s' is 'fracarea' without destination fractions; "
                        "assuming fully covered destination cells", path)
            return w
        return sp.diags(np.asarray(frac, dtype=np.float64)) @ w
    if normalization == "none":
        if area is None:
            raise WeightsFileError(
                f"weights file '{path}' has normalization 'none' (raw overlap areas) but no "
                "destination cell areas to normalise them"
            )
        area = np.asarray(area, dtype=np.float64)
        inv = np.divide(1.0, area, out=np.zeros_like(area), where=area > 0)
        return sp.diags(inv) @ w
    raise WeightsFileError(f"weights file '{path}': unknown normalization {normalization!r}")


def _read_esmf(nc: netCDF4.Dataset, path: Path, shape: tuple[int, int] | None) -> WeightsFile:
    method = _method_from_text(_attr(nc, "map_method")) or _method_from_text(
        _attr(nc, "ESMF_regrid_method"))
    n_src = _size(nc, "n_a", "xc_a")
    n_dst = _size(nc, "n_b", "xc_b")
    rows, cols = nc.variables["row"][:], nc.variables["col"][:]
    if n_src is None or n_dst is None:
        # xESMF writes only S/row/col: sizes come from the caller's grids, else from the
        # largest index (checked later against the grids by check_grids)
        if shape is not None:
            n_dst, n_src = (shape[0] if n_dst is None else n_dst,
                            shape[1] if n_src is None else n_src)
        n_dst = int(rows.max()) if n_dst is None else n_dst
        n_src = int(cols.max()) if n_src is None else n_src
    w = _to_csr(path, nc.variables["S"][:], rows, cols, n_dst, n_src)
    frac = nc.variables["frac_b"][:] if "frac_b" in nc.variables else None
    area = nc.variables["area_b"][:] if "area_b" in nc.variables else None
    w = _to_destarea(path, w, method, _attr(nc, "normalization"), frac, area)
    return WeightsFile(
        path=path, format="esmf", weights=w.tocsr(), method=method,
        src_dims=_dims(nc, "src_grid_dims"), dst_dims=_dims(nc, "dst_grid_dims"),
        src_centres=_degrees(nc, "yc_a", "xc_a"), dst_centres=_degrees(nc, "yc_b", "xc_b"),
    )


def _read_scrip(nc: netCDF4.Dataset, path: Path) -> WeightsFile:
    method = _method_from_text(_attr(nc, "map_method"))
    n_src = _size(nc, "src_grid_size", "src_grid_center_lat")
    n_dst = _size(nc, "dst_grid_size", "dst_grid_center_lat")
    if n_src is None or n_dst is None:
        raise WeightsFileError(f"SCRIP weights file '{path}' lacks src/dst_grid_size")
    matrix = np.asarray(nc.variables["remap_matrix"][:], dtype=np.float64)
    vals = matrix[:, 0] if matrix.ndim == 2 else matrix
    w = _to_csr(path, vals, nc.variables["dst_address"][:], nc.variables["src_address"][:],
                n_dst, n_src)
    frac = nc.variables["dst_grid_frac"][:] if "dst_grid_frac" in nc.variables else None
    area = nc.variables["dst_grid_area"][:] if "dst_grid_area" in nc.variables else None
    w = _to_destarea(path, w, method, _attr(nc, "normalization"), frac, area)
    return WeightsFile(
        path=path, format="scrip", weights=w.tocsr(), method=method,
        src_dims=_dims(nc, "src_grid_dims"), dst_dims=_dims(nc, "dst_grid_dims"),
        src_centres=_degrees(nc, "src_grid_center_lat", "src_grid_center_lon"),
        dst_centres=_degrees(nc, "dst_grid_center_lat", "dst_grid_center_lon"),
    )


# ----------------------------------------------------------------------------- writing
@dataclass(frozen=True)
class _GridFields:
    """Flattened per-cell fields of a grid, in file order (C order of (lat, lon))."""

    lat: np.ndarray
    lon: np.ndarray
    corner_lat: np.ndarray  # (n, 4) counter-clockwise from south-west
    corner_lon: np.ndarray
    area_sr: np.ndarray  # steradians ("square radians")
    dims: np.ndarray  # (nlon, nlat)


def _grid_fields(grid: Grid) -> _GridFields:
    ny, nx = grid.shape
    south, north = grid.lat_intervals()
    west, width = grid.lon_intervals()
    lat, lon = (a.ravel() for a in np.meshgrid(grid.lat, grid.lon, indexing="ij"))
    s2, w2 = (a.ravel() for a in np.meshgrid(south, west, indexing="ij"))
    n2, e2 = (a.ravel() for a in np.meshgrid(north, west + width, indexing="ij"))
    area = np.outer(sin_difference(south, north), np.deg2rad(width)).ravel()
    return _GridFields(
        lat=lat, lon=lon,
        corner_lat=np.column_stack([s2, s2, n2, n2]),
        corner_lon=np.column_stack([w2, e2, e2, w2]),
        area_sr=area, dims=np.array([nx, ny], dtype=np.int32),
    )


def write_weights(
    path: str | os.PathLike[str],
    weights: sp.csr_matrix,
    src: Grid,
    dst: Grid,
    method: str,
    format: WeightsFormat = "esmf",
) -> Path:
    """Write destination-area ``weights`` for ``src`` -> ``dst`` as an ESMF or SCRIP file.

    The write is atomic (temporary file in the same directory, then ``os.replace``).
    """
    path = Path(path)
    if weights.shape != (dst.size, src.size):
        raise GridMismatchError(
            f"cannot write '{path}': weights have shape {weights.shape}, grids need "
            f"{(dst.size, src.size)}"
        )
    if format not in ("esmf", "scrip"):
        raise WeightsFileError(f"unknown weights format {format!r}; use 'esmf' or 'scrip'")
    coo = weights.tocoo()
    order = np.lexsort((coo.col, coo.row))  # sorted by destination, as ESMF/CDO write them
    rows, cols, vals = coo.row[order], coo.col[order], coo.data[order]
    frac_dst = np.asarray(weights.sum(axis=1)).ravel()
    with atomic_path(path) as tmp_name, netCDF4.Dataset(tmp_name, "w", format="NETCDF4") as nc:
        writer = _write_esmf if format == "esmf" else _write_scrip
        writer(nc, rows, cols, vals, frac_dst, _grid_fields(src), _grid_fields(dst),
               method)
        nc.setncattr("source", "callmip-global regrid")
        nc.setncattr("weights_version", WEIGHTS_VERSION)
        nc.setncattr("src_grid_hash", src.hash())
        nc.setncattr("dst_grid_hash", dst.hash())
    log.info("wrote %s weights (%d links) to %s", format, vals.size, path)
    return path


def _var(nc: netCDF4.Dataset, name: str, dtype: str, dims: tuple[str, ...],
         data: np.ndarray, units: str | None = None) -> None:
    var = nc.createVariable(name, dtype, dims)
    if units is not None:
        var.units = units
    var[:] = data


def _write_esmf(nc: netCDF4.Dataset, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
                frac_dst: np.ndarray, a: _GridFields, b: _GridFields, method: str) -> None:
    nc.createDimension("n_s", vals.size)
    for tag, g, frac in (("a", a, np.ones(a.lat.size)), ("b", b, frac_dst)):
        nc.createDimension(f"n_{tag}", g.lat.size)
        nc.createDimension(f"nv_{tag}", 4)
        _var(nc, f"yc_{tag}", "f8", (f"n_{tag}",), g.lat, "degrees")
        _var(nc, f"xc_{tag}", "f8", (f"n_{tag}",), g.lon, "degrees")
        _var(nc, f"yv_{tag}", "f8", (f"n_{tag}", f"nv_{tag}"), g.corner_lat, "degrees")
        _var(nc, f"xv_{tag}", "f8", (f"n_{tag}", f"nv_{tag}"), g.corner_lon, "degrees")
        _var(nc, f"mask_{tag}", "i4", (f"n_{tag}",), np.ones(g.lat.size, np.int32))
        _var(nc, f"area_{tag}", "f8", (f"n_{tag}",), g.area_sr, "square radians")
        _var(nc, f"frac_{tag}", "f8", (f"n_{tag}",), frac)
    nc.createDimension("src_grid_rank", 2)
    nc.createDimension("dst_grid_rank", 2)
    _var(nc, "src_grid_dims", "i4", ("src_grid_rank",), a.dims)
    _var(nc, "dst_grid_dims", "i4", ("dst_grid_rank",), b.dims)
    _var(nc, "col", "i4", ("n_s",), cols + 1)
    _var(nc, "row", "i4", ("n_s",), rows + 1)
    _var(nc, "S", "f8", ("n_s",), vals)
    nc.setncatts({
        "title": ("ESMF Offline Regridding Weight Generator format (written by callmip-global "
                  "regrid, not by ESMF)"),
        "normalization": "destarea",
        "map_method": _MAP_METHOD.get(method, method),
        "ESMF_regrid_method": _ESMF_METHOD.get(method, method),
        "conventions": "NCAR-CSM",
        "domain_a": "lonlat", "domain_b": "lonlat",
        "grid_file_src": "rectilinear lat-lon", "grid_file_dst": "rectilinear lat-lon",
    })


def _write_scrip(nc: netCDF4.Dataset, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
                 frac_dst: np.ndarray, a: _GridFields, b: _GridFields, method: str) -> None:
    conservative = method == "conservative"
    if conservative:
        # CDO uses remap_matrix as is: store fracarea weights (row / coverage)
        vals = vals / frac_dst[rows]
    nc.createDimension("src_grid_size", a.lat.size)
    nc.createDimension("dst_grid_size", b.lat.size)
    nc.createDimension("src_grid_corners", 4)
    nc.createDimension("dst_grid_corners", 4)
    nc.createDimension("src_grid_rank", 2)
    nc.createDimension("dst_grid_rank", 2)
    nc.createDimension("num_links", vals.size)
    nc.createDimension("num_wgts", 1)
    _var(nc, "src_grid_dims", "i4", ("src_grid_rank",), a.dims)
    _var(nc, "dst_grid_dims", "i4", ("dst_grid_rank",), b.dims)
    for tag, g in (("src", a), ("dst", b)):
        size, corners = f"{tag}_grid_size", f"{tag}_grid_corners"
        _var(nc, f"{tag}_grid_center_lat", "f8", (size,), np.deg2rad(g.lat), "radians")
        _var(nc, f"{tag}_grid_center_lon", "f8", (size,), np.deg2rad(g.lon), "radians")
        _var(nc, f"{tag}_grid_corner_lat", "f8", (size, corners), np.deg2rad(g.corner_lat),
             "radians")
        _var(nc, f"{tag}_grid_corner_lon", "f8", (size, corners), np.deg2rad(g.corner_lon),
             "radians")
    _var(nc, "src_grid_imask", "i4", ("src_grid_size",), np.ones(a.lat.size, np.int32),
         "unitless")
    _var(nc, "dst_grid_imask", "i4", ("dst_grid_size",), (frac_dst > 0).astype(np.int32),
         "unitless")
    _var(nc, "src_grid_area", "f8", ("src_grid_size",), a.area_sr, "square radians")
    _var(nc, "dst_grid_area", "f8", ("dst_grid_size",), b.area_sr, "square radians")
    _var(nc, "src_grid_frac", "f8", ("src_grid_size",), np.ones(a.lat.size), "unitless")
    _var(nc, "dst_grid_frac", "f8", ("dst_grid_size",), frac_dst, "unitless")
    _var(nc, "src_address", "i4", ("num_links",), cols + 1)
    _var(nc, "dst_address", "i4", ("num_links",), rows + 1)
    _var(nc, "remap_matrix", "f8", ("num_links", "num_wgts"), vals[:, None])
    nc.setncatts({
        "title": "callmip-global regrid weights (SCRIP format)",
        "normalization": "fracarea" if conservative else "none",
        "map_method": _MAP_METHOD.get(method, method),
        "conventions": "SCRIP",
        "source_grid": "lonlat",
        "dest_grid": "lonlat",
    })


# ----------------------------------------------------------------------------- cache
class WeightsCache:
    """Weights cached on disk as ESMF files, keyed by both grids' hashes and the method.

    The key also includes the backend and :data:`WEIGHTS_VERSION`, so weights from CDO and
    from us never mix and a change to our generator invalidates old entries.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path(self, src: Grid, dst: Grid, method: str, backend: str = "native") -> Path:
        """File that holds (or would hold) these weights."""
        key = hashlib.sha256(
            f"{src.hash()}|{dst.hash()}|{method}|{backend}|v{WEIGHTS_VERSION}".encode()
        ).hexdigest()[:20]
        (sy, sx), (dy, dx) = src.shape, dst.shape
        return self.directory / f"{method}_{backend}_{sy}x{sx}_to_{dy}x{dx}_{key}.nc"

    def load(self, src: Grid, dst: Grid, method: str,
             backend: str = "native") -> sp.csr_matrix | None:
        """Cached weights, or ``None`` when absent or unusable (logged, then rebuilt)."""
        path = self.path(src, dst, method, backend)
        if not path.exists():
            return None
        try:
            wf = read_weights(path)
            wf.check_grids(src, dst)
        except (WeightsFileError, GridMismatchError) as err:
            log.warning("ignoring unusable cached weights %s: %s", path, err)
            return None
        log.debug("loaded cached weights %s", path)
        return wf.weights

    def store(self, weights: sp.csr_matrix, src: Grid, dst: Grid, method: str,
              backend: str = "native") -> Path:
        """Write weights into the cache (atomically) and return the file."""
        return write_weights(self.path(src, dst, method, backend), weights, src, dst, method,
                             "esmf")
