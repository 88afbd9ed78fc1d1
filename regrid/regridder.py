"""The xarray-facing :class:`Regridder` and the :func:`regrid_to` convenience.

Contract: a ``Regridder`` holds two :class:`~regrid.grid.Grid` objects, a method name and one
immutable weight matrix (built by a backend, loaded from the on-disk cache, or read from an
ESMF/SCRIP file). Calling it on a DataArray or Dataset returns the same type on the
destination grid: only the lat/lon dimensions change, every other dimension (time, levels,
PFTs...) and its coordinates are left alone, dask arrays stay lazy (chunked along time; each
chunk goes through :func:`regrid.apply.apply_weights`), and CF attributes are kept with
``cell_methods`` updated (:mod:`regrid.metadata`). The regridder never changes its own
settings after construction, so one instance can be reused for any number of fields.
"""

from __future__ import annotations

import copy
import logging
import os
from functools import partial
from pathlib import Path
from typing import Any, overload

import numpy as np
import scipy.sparse as sp
import xarray as xr

from regrid.apply import apply_weights, mask_sources, scale_columns, valid_fraction
from regrid.backends import BACKENDS, get_backend
from regrid.errors import GridMismatchError, RegridError
from regrid.grid import Grid, describe, find_lat_lon
from regrid.metadata import add_history, history_line, regridded_attrs
from regrid.methods import METHODS, Method
from regrid.weights import WeightsCache, WeightsFormat, read_weights, write_weights

log = logging.getLogger(__name__)

_COORD_TOL_DEG = 1e-4  # data coordinates stored as float32 match the grid to this accuracy
_ENCODING_KEPT = ("dtype", "_FillValue", "missing_value", "zlib", "complevel", "shuffle",
                  "units", "calendar")


def _as_grid(obj: Grid | xr.Dataset | xr.DataArray) -> Grid:
    return obj if isinstance(obj, Grid) else Grid.from_dataset(obj)


class Regridder:
    """Regrid fields from ``src`` to ``dst`` with precomputed sparse weights.

    Parameters
    ----------
    src, dst
        Source and destination grids (a Dataset is accepted and read with
        :meth:`Grid.from_dataset`).
    method
        ``"conservative"`` (exact first-order, area-conserving), ``"bilinear"`` or
        ``"nearest"``.
    cache_dir
        Directory for cached weights (ESMF files keyed by both grids' hashes, the method and
        the backend). ``None`` builds the weights in memory every time.
    backend
        Who builds the weights: ``"native"`` (ours), ``"cdo"`` or ``"xesmf"``.
    src_mask
        Fixed source mask, True where the fields can have data (e.g. the land mask of a
        land-only model's output): links from masked cells are dropped (:meth:`masked`),
        so they are never read. The cache keeps the unmasked weights.
    """

    def __init__(
        self,
        src: Grid | xr.Dataset,
        dst: Grid | xr.Dataset,
        method: Method = "conservative",
        cache_dir: Path | str | None = None,
        *,
        backend: str = "native",
        src_mask: np.ndarray | xr.DataArray | None = None,
    ) -> None:
        if method not in METHODS:
            raise RegridError(f"unknown regridding method {method!r}; choose one of {METHODS}")
        if backend not in BACKENDS:
            raise RegridError(f"unknown regrid backend {backend!r}; choose one of {BACKENDS}")
        self.src = _as_grid(src)
        self.dst = _as_grid(dst)
        self.method: str = method
        self.backend = backend
        self.weights_path: Path | None = None
        if cache_dir is None:
            weights = get_backend(backend)(self.src, self.dst, method)
        else:
            cache = WeightsCache(cache_dir)
            self.weights_path = cache.path(self.src, self.dst, method, backend)
            weights = cache.load(self.src, self.dst, method, backend)
            if weights is None:
                weights = get_backend(backend)(self.src, self.dst, method)
                cache.store(weights, self.src, self.dst, method, backend)
        self._weights = _canonical(weights)
        if src_mask is not None:
            self._weights = self._masked_weights(src_mask)

    @classmethod
    def from_weights_file(
        cls, path: str | os.PathLike[str], src: Grid | xr.Dataset, dst: Grid | xr.Dataset,
        method: str | None = None,
    ) -> Regridder:
        """A regridder applying the weights in an ESMF or SCRIP file (from ESMF, xESMF, CDO,
        NCO or us). The file's sizes, grid dims and cell centres are checked against the
        grids. ``method`` defaults to what the file's ``map_method`` says."""
        src_grid, dst_grid = _as_grid(src), _as_grid(dst)
        wf = read_weights(path, shape=(dst_grid.size, src_grid.size))
        wf.check_grids(src_grid, dst_grid)
        self = cls.__new__(cls)
        self.src, self.dst = src_grid, dst_grid
        self.method = method or wf.method or "file"
        self.backend = f"file:{wf.format}"
        self.weights_path = Path(path)
        self._weights = _canonical(wf.weights)
        return self

    # ------------------------------------------------------------------ weights
    @property
    def weights(self) -> sp.csr_matrix:
        """The ``(n_dst, n_src)`` weights (destination-area convention), a copy."""
        return self._weights.copy()

    def masked(self, src_mask: np.ndarray | xr.DataArray) -> Regridder:
        """A regridder whose weights ignore source cells where ``src_mask`` is False.

        ``src_mask`` is a boolean ``(nlat, nlon)`` array, or a boolean DataArray on the source
        grid. For a field that is NaN wherever the mask is False (land-only output with the
        model's land mask) the result is bit for bit the ``skipna`` result of the full
        weights, about twice as fast because masked cells are never read; values at masked
        cells are ignored even where not NaN, so give a fixed mask, not a time-varying one.
        This is what CDO's ``gencon`` does with the missing values of the first field.
        """
        other = copy.copy(self)
        other._weights = self._masked_weights(src_mask)
        return other

    def _masked_weights(self, src_mask: np.ndarray | xr.DataArray) -> sp.csr_matrix:
        if isinstance(src_mask, xr.DataArray):
            lat_dim, lon_dim = self._spatial_dims(src_mask)
            src_mask = src_mask.transpose(lat_dim, lon_dim).values
        mask = np.asarray(src_mask)
        if mask.shape != self.src.shape:
            raise GridMismatchError(
                f"source mask has shape {mask.shape}, the source grid is {self.src.shape}"
            )
        return _canonical(mask_sources(self._weights, mask.ravel()))

    def to_netcdf(self, path: str | os.PathLike[str], format: WeightsFormat = "esmf") -> Path:
        """Write the weights as an ESMF (``S``/``row``/``col``) or SCRIP file."""
        return write_weights(path, self._weights, self.src, self.dst, self.method, format)

    # ------------------------------------------------------------------ regridding
    @overload
    def __call__(self, obj: xr.DataArray, skipna: bool = True, *,
                 src_fraction: xr.DataArray | None = None) -> xr.DataArray: ...

    @overload
    def __call__(self, obj: xr.Dataset, skipna: bool = True, *,
                 src_fraction: xr.DataArray | None = None) -> xr.Dataset: ...

    def __call__(
        self,
        obj: xr.DataArray | xr.Dataset,
        skipna: bool = True,
        *,
        src_fraction: xr.DataArray | None = None,
    ) -> xr.DataArray | xr.Dataset:
        """Regrid a DataArray, or every lat/lon variable of a Dataset, to ``dst``.

        ``skipna`` averages over valid (non-NaN) source cells only, NaN where none is valid.
        ``src_fraction`` (values in [0, 1], or ``%`` units) weights each source cell by e.g.
        its land fraction, so the result is the land-only average; NaN counts as 0.
        """
        weights = self._weights_for(src_fraction)
        if isinstance(obj, xr.DataArray):
            return self._regrid_dataarray(obj, weights, skipna)
        if isinstance(obj, xr.Dataset):
            return self._regrid_dataset(obj, weights, skipna)
        raise TypeError(f"Regridder expects an xarray DataArray or Dataset, got {type(obj)}")

    def valid_fraction(
        self, da: xr.DataArray, src_fraction: xr.DataArray | None = None
    ) -> xr.DataArray:
        """Fraction of each destination cell covered by valid source area, in [0, 1].

        ``da`` is a boolean mask (True = valid) or a data field whose NaN pattern at the first
        index of every non-spatial dimension (e.g. the first time step) defines validity.
        ``sum(dst_area * valid_fraction * regridded)`` equals the source area integral.
        """
        lat_dim, lon_dim = self._spatial_dims(da)
        first = {d: 0 for d in da.dims if d not in (lat_dim, lon_dim)}
        field = da.isel(first).transpose(lat_dim, lon_dim)
        valid = field.values if field.dtype == bool else ~np.isnan(field.values.astype(float))
        frac = valid_fraction(self._weights_for(src_fraction), valid.ravel())
        return xr.DataArray(
            frac.reshape(self.dst.shape),
            dims=(self.dst.lat_name, self.dst.lon_name),
            coords=self._dst_coords(),
            name="valid_fraction",
            attrs={"long_name": "fraction of cell covered by valid source data", "units": "1"},
        )

    # ------------------------------------------------------------------ internals
    def _weights_for(self, src_fraction: xr.DataArray | None) -> sp.csr_matrix:
        if src_fraction is None:
            return self._weights
        lat_dim, lon_dim = self._spatial_dims(src_fraction)
        frac = src_fraction.transpose(lat_dim, lon_dim).values.astype(np.float64)
        if str(src_fraction.attrs.get("units", "")).strip() == "%":
            frac = frac / 100.0
        return scale_columns(self._weights, np.nan_to_num(frac, nan=0.0).ravel())

    def _spatial_dims(self, obj: xr.DataArray | xr.Dataset) -> tuple[str, str]:
        """Dimension names of latitude and longitude in ``obj``, checked against ``src``."""
        where = describe(obj)
        if self.src.lat_name in obj.dims and self.src.lon_name in obj.dims and (
            self.src.lat_name not in obj.coords or self.src.lon_name not in obj.coords
        ):
            lat_name, lon_name = self.src.lat_name, self.src.lon_name  # bare dims
        else:
            try:
                lat_name, lon_name = find_lat_lon(obj)
            except RegridError as err:
                raise GridMismatchError(str(err)) from err
        dims = []
        for name, centres, axis in ((lat_name, self.src.lat, "latitude"),
                                    (lon_name, self.src.lon, "longitude")):
            if name in obj.coords:
                coord = obj[name]
                if coord.ndim != 1:
                    raise GridMismatchError(f"{where}: {axis} '{name}' is not 1-D")
                dim = coord.dims[0]
                values = coord.values.astype(np.float64)
            else:
                dim, values = name, None
            if obj.sizes[dim] != centres.size:
                raise GridMismatchError(
                    f"{where}: {axis} dimension '{dim}' has {obj.sizes[dim]} cells, the "
                    f"regridder's source grid has {centres.size}"
                )
            if values is not None:
                diff = values - centres
                if axis == "longitude":
                    diff = (diff + 180.0) % 360.0 - 180.0
                if np.abs(diff).max() > _COORD_TOL_DEG:
                    hint = (" (latitude runs the other way)" if axis == "latitude" and np.allclose(
                        values[::-1], centres, atol=_COORD_TOL_DEG) else "")
                    raise GridMismatchError(
                        f"{where}: {axis} '{name}' does not match the regridder's source grid "
                        f"(data {values[0]:g}..{values[-1]:g}, grid {centres[0]:g}.."
                        f"{centres[-1]:g}){hint}"
                    )
            dims.append(dim)
        return dims[0], dims[1]

    def _dst_coords(self) -> dict[str, Any]:
        grid = self.dst.to_dataset()
        return {self.dst.lat_name: grid[self.dst.lat_name],
                self.dst.lon_name: grid[self.dst.lon_name]}

    def _regrid_dataarray(self, da: xr.DataArray, weights: sp.csr_matrix,
                          skipna: bool) -> xr.DataArray:
        lat_dim, lon_dim = self._spatial_dims(da)
        out_lat, out_lon = self.dst.lat_name, self.dst.lon_name
        others = [d for d in da.dims if d not in (lat_dim, lon_dim)]
        clash = {out_lat, out_lon} & set(others)
        if clash:
            raise GridMismatchError(
                f"{describe(da)}: destination dimension names {sorted(clash)} are already used "
                "by non-spatial dimensions"
            )
        out_dtype = np.float32 if da.dtype == np.float32 else np.float64
        if da.chunks is not None:
            da = da.chunk({lat_dim: -1, lon_dim: -1})
        block = partial(_apply_block, weights=weights, skipna=skipna, dst_shape=self.dst.shape)
        out = xr.apply_ufunc(
            block, da,
            input_core_dims=[[lat_dim, lon_dim]],
            output_core_dims=[[out_lat, out_lon]],
            exclude_dims={lat_dim, lon_dim},
            dask="parallelized",
            output_dtypes=[out_dtype],
            dask_gufunc_kwargs={"output_sizes": {out_lat: self.dst.shape[0],
                                                 out_lon: self.dst.shape[1]}},
            keep_attrs=True,
        )
        out = out.assign_coords(self._dst_coords())
        order = [out_lat if d == lat_dim else out_lon if d == lon_dim else d for d in da.dims]
        out = out.transpose(*order)
        out.attrs = regridded_attrs(da.attrs, self.method)
        out.encoding = {k: v for k, v in da.encoding.items() if k in _ENCODING_KEPT}
        return out

    def _regrid_dataset(self, ds: xr.Dataset, weights: sp.csr_matrix,
                        skipna: bool) -> xr.Dataset:
        lat_dim, lon_dim = self._spatial_dims(ds)
        lat_name, lon_name = find_lat_lon(ds)
        bounds = {ds[c].attrs.get("bounds") for c in (lat_name, lon_name)}
        bounds |= {f"{c}_{s}" for c in (lat_name, lon_name) for s in ("bnds", "bounds")}
        spatial = {lat_dim, lon_dim}
        variables: dict[str, xr.DataArray] = {}
        dropped = []
        for name, var in ds.data_vars.items():
            if name in bounds:
                continue
            touched = spatial & set(var.dims)
            if touched == spatial:
                variables[str(name)] = self._regrid_dataarray(var, weights, skipna)
            elif not touched:
                variables[str(name)] = var
            else:
                dropped.append(str(name))
        if dropped:
            log.warning("%s: dropped %s: they have only one of the dimensions %s, so they can "
                        "be neither regridded nor passed through", describe(ds), dropped,
                        sorted(spatial))
        coords = {k: v for k, v in ds.coords.items()
                  if not (spatial & set(v.dims)) and k not in bounds}
        out = xr.Dataset(variables, coords=coords)
        out = out.assign_coords(self.dst.to_dataset().coords)
        out.attrs = add_history(ds.attrs, history_line(self.method, self.src.shape,
                                                       self.dst.shape))
        return out

    def __repr__(self) -> str:
        return (f"Regridder({self.method}, backend={self.backend}, {self.src!r} -> "
                f"{self.dst!r}, {self._weights.nnz} links)")


def _canonical(weights: sp.spmatrix) -> sp.csr_matrix:
    """A private float64 CSR copy with sorted, summed indices (what the kernel expects).

    Not made read-only: numba compiles slower code for read-only arrays; the public
    ``weights`` property hands out copies instead.
    """
    csr = sp.csr_matrix(weights, dtype=np.float64, copy=True)
    csr.sum_duplicates()
    csr.sort_indices()
    return csr


def _apply_block(x: np.ndarray, *, weights: sp.csr_matrix, skipna: bool,
                 dst_shape: tuple[int, int]) -> np.ndarray:
    lead = x.shape[:-2]
    flat = x.reshape((*lead, x.shape[-2] * x.shape[-1]))
    return apply_weights(weights, flat, skipna=skipna).reshape((*lead, *dst_shape))


def regrid_to(
    obj: xr.DataArray | xr.Dataset,
    target: Grid | xr.Dataset,
    method: Method = "conservative",
    cache_dir: Path | str | None = None,
) -> xr.DataArray | xr.Dataset:
    """Regrid ``obj`` onto ``target`` (a Grid, or a dataset whose grid is read) in one call."""
    return Regridder(Grid.from_dataset(obj), _as_grid(target), method, cache_dir)(obj)
