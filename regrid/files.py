"""File-to-file regridding of netCDF, streamed in chunks along the leading dimension.

Contract: :func:`regrid_file` reads a CF netCDF file with netCDF4 directly, regrids every
variable whose last two dimensions are (lat, lon) chunk by chunk along its leading dimension
(time), copies every other variable and all attributes unchanged (``cell_methods`` updated,
``history`` extended), and writes the result atomically (temporary name, then
``os.replace``). It is the CDO-style path for big forcing files: memory is bounded by the chunk
size whatever the file size, and raw values equal to ``_FillValue``/``missing_value`` are
treated as missing inside the kernel and the source fill value is written back, so the data
are never decoded to NaN and re-encoded (two full passes saved). Packed or integer variables
(``scale_factor``/``add_offset``) are unpacked and written as float32 with fill 1e20.
Results equal ``Regridder(...)(xr.open_dataset(src))``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import xarray as xr

from callmip.atomic import atomic_path
from regrid.apply import apply_weights
from regrid.errors import RegridError
from regrid.grid import Grid, find_lat_lon
from regrid.metadata import add_history, history_line, regridded_attrs
from regrid.methods import Method
from regrid.regridder import Regridder

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 2**20  # source data per chunk
_PACKED_FILL = np.float32(1e20)
_UNPACK_DROP = ("scale_factor", "add_offset", "valid_min", "valid_max", "valid_range")


def regrid_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    target: Grid | xr.Dataset,
    method: Method = "conservative",
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    skipna: bool = True,
    regridder: Regridder | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Path:
    """Regrid netCDF file ``src`` onto ``target`` and write ``dst``; returns ``dst``.

    ``regridder`` reuses prebuilt weights (its source grid must be the file's grid);
    otherwise they are built (or loaded from ``cache_dir``).
    """
    src, dst = Path(src), Path(dst)
    with xr.open_dataset(src, decode_cf=False, mask_and_scale=False) as meta:
        src_grid = Grid.from_dataset(meta)
        lat_name, lon_name = find_lat_lon(meta)
        lat_dim, lon_dim = meta[lat_name].dims[0], meta[lon_name].dims[0]
        bounds = {lat_name: meta[lat_name].attrs.get("bounds"),
                  lon_name: meta[lon_name].attrs.get("bounds")}
    if regridder is None:
        dst_grid = target if isinstance(target, Grid) else Grid.from_dataset(target)
        regridder = Regridder(src_grid, dst_grid, method, cache_dir)
    elif regridder.src != src_grid:
        raise RegridError(f"'{src}': its grid differs from the regridder's source grid")
    job = _Job(src, regridder, lat_name, lon_name, lat_dim, lon_dim, bounds, skipna,
               chunk_bytes)
    with atomic_path(dst) as tmp, netCDF4.Dataset(src, "r") as nc_in:
        nc_in.set_auto_maskandscale(False)
        with netCDF4.Dataset(tmp, "w", format=nc_in.data_model) as nc_out:
            job.run(nc_in, nc_out)
    log.info("regridded %s -> %s (%s)", src, dst, regridder.method)
    return dst


class _Job:
    """One file's worth of copying and regridding (state of a single ``regrid_file`` call)."""

    def __init__(self, src: Path, regridder: Regridder, lat_name: str, lon_name: str,
                 lat_dim: str, lon_dim: str, bounds: dict[str, str | None], skipna: bool,
                 chunk_bytes: int) -> None:
        self.src = src
        self.regridder = regridder
        self.weights = regridder._weights  # same package, read-only use
        self.names = {lat_name: "lat", lon_name: "lon"}
        self.lat_dim, self.lon_dim = lat_dim, lon_dim
        self.bounds = {b: self.names[c] for c, b in bounds.items() if b}
        self.skipna = skipna
        self.chunk_bytes = chunk_bytes

    # ------------------------------------------------------------------ structure
    def run(self, nc_in: netCDF4.Dataset, nc_out: netCDF4.Dataset) -> None:
        dst = self.regridder.dst
        sizes = {self.lat_dim: dst.lat.size, self.lon_dim: dst.lon.size}
        for name, dim in nc_in.dimensions.items():
            nc_out.createDimension(name, None if dim.isunlimited() else
                                   sizes.get(name, len(dim)))
        missing_bounds = [c for c, b in (("lat", self._bounds_name("lat")),
                                         ("lon", self._bounds_name("lon"))) if b is None]
        if missing_bounds and "bnds" not in nc_out.dimensions:
            nc_out.createDimension("bnds", 2)
        attrs = {k: nc_in.getncattr(k) for k in nc_in.ncattrs()}
        nc_out.setncatts(add_history(attrs, history_line(
            self.regridder.method, self.regridder.src.shape, dst.shape)))
        for name, var in nc_in.variables.items():
            self._variable(name, var, nc_out)
        for axis in missing_bounds:
            coord = next(c for c, a in self.names.items() if a == axis)
            bname = f"{coord}_bnds"
            nc_out.variables[coord].setncattr("bounds", bname)
            out = nc_out.createVariable(bname, "f8", (nc_out.variables[coord].dimensions[0],
                                                      "bnds"))
            out[:] = dst.lat_bounds if axis == "lat" else dst.lon_bounds

    def _bounds_name(self, axis: str) -> str | None:
        return next((b for b, a in self.bounds.items() if a == axis), None)

    def _variable(self, name: str, var: Any, nc_out: netCDF4.Dataset) -> None:
        dst = self.regridder.dst
        dims = var.dimensions
        attrs = {k: var.getncattr(k) for k in var.ncattrs() if k != "_FillValue"}
        if name in self.names:
            out = self._create(nc_out, name, var, dims, attrs, dtype="f8")
            out[:] = dst.lat if self.names[name] == "lat" else dst.lon
        elif name in self.bounds:
            values = dst.lat_bounds if self.bounds[name] == "lat" else dst.lon_bounds
            out = self._create(nc_out, name, var, dims, attrs)
            out[:] = values if dims[0] in (self.lat_dim, self.lon_dim) else values.T
        elif self.lat_dim in dims and self.lon_dim in dims:
            self._regrid_variable(name, var, nc_out, attrs)
        elif self.lat_dim in dims or self.lon_dim in dims:
            log.warning("'%s': dropped variable '%s' %s: it has only one of the horizontal "
                        "dimensions", self.src, name, dims)
        else:
            self._create(nc_out, name, var, dims, attrs)[...] = var[...]

    def _create(self, nc_out: netCDF4.Dataset, name: str, var: Any, dims: tuple[str, ...],
                attrs: dict[str, Any], dtype: Any = None, fill: Any = None,
                chunks: list[int] | None = None) -> Any:
        kwargs: dict[str, Any] = {}
        filters = var.filters() if nc_out.data_model.startswith("NETCDF4") else None
        if filters and (filters.get("zlib") or filters.get("complevel")):
            kwargs.update(zlib=True, complevel=filters.get("complevel") or 4,
                          shuffle=bool(filters.get("shuffle")))
            if chunks is not None:
                kwargs["chunksizes"] = chunks
        if fill is None and "_FillValue" in var.ncattrs():
            fill = var.getncattr("_FillValue")
        out = nc_out.createVariable(name, dtype or var.dtype, dims, fill_value=fill, **kwargs)
        out.set_auto_maskandscale(False)
        out.setncatts(attrs)
        return out

    # ------------------------------------------------------------------ regridding
    def _regrid_variable(self, name: str, var: Any, nc_out: netCDF4.Dataset,
                         attrs: dict[str, Any]) -> None:
        dims = var.dimensions
        if dims[-2:] != (self.lat_dim, self.lon_dim):
            raise RegridError(
                f"'{self.src}': variable '{name}' has dimensions {dims}; file-to-file "
                f"regridding needs (..., {self.lat_dim}, {self.lon_dim}) last; open it with "
                "xarray and use Regridder instead"
            )
        dst = self.regridder.dst
        packed = (not np.issubdtype(var.dtype, np.floating)
                  or "scale_factor" in attrs or "add_offset" in attrs)
        if packed:
            dtype, fill, missing = np.float32, _PACKED_FILL, None
            attrs = {k: v for k, v in attrs.items() if k not in _UNPACK_DROP}
            var.set_auto_maskandscale(True)
        else:
            dtype = var.dtype
            missing = _raw_missing(var)
            fill = missing if missing is not None else np.nan
        lead = var.shape[:-2]
        chunks = [1] * len(lead) + list(dst.shape)
        out = self._create(nc_out, name, var, dims, regridded_attrs(attrs,
                                                                    self.regridder.method),
                           dtype=dtype, fill=None if np.isnan(fill) else fill, chunks=chunks)
        per_step = int(np.prod(lead[1:], dtype=np.int64)) * self.regridder.src.size
        step = max(1, self.chunk_bytes // max(1, per_step * np.dtype(var.dtype).itemsize))
        n_lead = lead[0] if lead else 1
        for t0 in range(0, n_lead, step):
            index = (slice(t0, min(t0 + step, n_lead)),) if lead else ()
            raw = var[index]
            if packed:
                raw = np.ma.filled(np.ma.asarray(raw, dtype=np.float64), np.nan)
            flat = np.asarray(raw).reshape(-1, self.regridder.src.size)
            result = apply_weights(self.weights, flat, skipna=self.skipna,
                                   missing_value=missing, fill_value=fill)
            out[index] = result.astype(dtype, copy=False).reshape(
                (*np.shape(raw)[:-2], *dst.shape))


def _raw_missing(var: Any) -> float | None:
    """The raw value marking missing data in ``var`` (CF/netCDF rules), if any."""
    for attr in ("_FillValue", "missing_value"):
        if attr in var.ncattrs():
            value = np.asarray(var.getncattr(attr)).ravel()[0]
            return None if np.isnan(value) else float(value)
    default = netCDF4.default_fillvals.get(var.dtype.str[1:])
    return None if default is None else float(default)
