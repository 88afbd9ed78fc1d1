"""The grid on which a model and a reference are compared, as ILAMB 2.7 and ilamb3 build it.

Contract: :func:`nest` takes the reference's and the model's grids (ascending latitudes, cell
centres and bounds as read) and a rule (``'ilamb27'`` or ``'ilamb3'``) and returns a
:class:`Nesting`: the composed grid and, for every composed cell, which reference cell and which
model cell it copies (-1: none), plus the cell areas the rule integrates with. Nothing is
interpolated conservatively: both ILAMB generations compare on the grid whose cell edges are
the union of both grids' edges and copy each source's nearest cell there, so no value is
smeared and a cell that straddles a coastline keeps its own value (Collier et al. 2018,
Fig. 2). The rules differ in details that move scores by up to a few hundredths on offset
grids, and each is reproduced from its tool's source:

``ilamb27`` (ILAMB 2.7.3: ``Variable.__init__``, ``ilamblib._composeGrids``,
``Variable.interpolate``, ``CellAreas``)
    longitudes are moved to [-180, 180] and rolled to start at the smallest; a source's bounds
    are its file's bounds or, without them, midpoints between centres extrapolated at the ends;
    latitude bounds are clipped to [-90, 90] and longitude bounds to [-180, 180]; the composed
    edges are the union of both sources' edges inside those ranges; a composed cell copies the
    source cell whose centre is nearest in latitude and, separately, in longitude (first index
    on ties; never missing); cells are measured on the composed edges.
``ilamb3`` (ilamb3 2025.9.9: ``compare.make_comparable``/``adjust_lon``,
``compare.nest_spatial_grids``, ``dataset.compute_cell_measures``)
    the model's longitudes are put in the reference's convention (0-360 when the reference's
    lie in [0, 360], else -180..180) and sorted; a source's edges are always re-created from its
    centres (cf_xarray ``add_bounds``: midpoints, ends extrapolated, no clipping) because the
    analyses nest bare data arrays; the composed centres are the midpoints of the union of both
    sources' edges; a composed cell copies the nearest source centre (ties to the lower) and is
    missing outside the span of the source's centres (xarray ``interp(method='nearest')``);
    cells are measured from the composed *centres* (bounds re-created from them).

Identical grids are never composed: both tools then compare cell by cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from benchmarks.fields import areas_from_centres, bounds_from_centres, cell_areas

NestRule = Literal["ilamb27", "ilamb3"]


@dataclass(frozen=True)
class GridAxes:
    """A rectilinear grid as read: ascending latitudes; centres and (n, 2) bounds."""

    lat: np.ndarray
    lon: np.ndarray
    lat_bounds: np.ndarray
    lon_bounds: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.lat.size), int(self.lon.size))


@dataclass(frozen=True)
class Nesting:
    """The composed grid and where each of its cells takes its values from.

    ``ref_index``/``com_index`` are flat indices into the reference's/model's (lat, lon) grid
    *as given to* :func:`nest`, -1 where the source has no cell there.
    """

    lat: np.ndarray
    lon: np.ndarray
    area: np.ndarray  # (nlat, nlon) m2, as the rule measures composed cells
    ref_index: np.ndarray  # (nlat * nlon,)
    com_index: np.ndarray
    rule: NestRule
    identity: bool = False
    #: ILAMB 2.7 integrates difference maps (bias, phase shift) with cells measured on bounds
    #: re-created from the composed centres (``Variable.spatialDifference`` builds a new
    #: Variable without areas); None where that equals ``area`` or the rule has no such maps
    difference_area: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.lat.size), int(self.lon.size))

    @property
    def size(self) -> int:
        return int(self.lat.size * self.lon.size)


def same_grid(a: GridAxes, b: GridAxes) -> bool:
    return (
        a.lat.shape == b.lat.shape
        and a.lon.shape == b.lon.shape
        and np.allclose(a.lat, b.lat)
        and np.allclose(a.lon, b.lon)
    )


# --------------------------------------------------------------------------- ILAMB 2.7
def _shift_lon(x: np.ndarray) -> np.ndarray:
    """ILAMB's ``_shiftLon``: values in (180, 540) move down by 360, below -180 up by 360."""
    x = np.asarray(x, float)
    return (x <= 180) * x + (x > 180) * (x - 360) + (x < -180) * 360


def _ilamb27_axes(grid: GridAxes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                           np.ndarray]:
    """(lat, lon, lat_bounds, lon_bounds, column order) as ILAMB 2.7's Variable holds them."""
    lon = _shift_lon(grid.lon)
    lon_b = _shift_lon(grid.lon_bounds)
    shift = int(lon.argmin())
    order = np.roll(np.arange(lon.size), -shift)
    lon = lon[order]
    lon_b = lon_b[order].copy()
    if lon_b[0, 0] > lon_b[0, 1]:
        lon_b[0, 0] = max(lon_b[0, 0] - 360, -180)
    if lon_b[-1, 1] < lon_b[-1, 0]:
        lon_b[-1, 1] = min(lon_b[-1, 1] + 360, 180)
    lat_b = np.clip(grid.lat_bounds, -90.0, 90.0)
    lon_b = np.clip(lon_b, -180.0, 180.0)
    return grid.lat, lon, lat_b, lon_b, order


def _union_edges(a: np.ndarray, b: np.ndarray, lo: float, hi: float) -> np.ndarray:
    edges = np.unique(np.concatenate([np.ravel(a), np.ravel(b)]))
    return edges[(edges >= lo) & (edges <= hi)]


def _argmin_nearest(targets: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """ILAMB 2.7: index of the nearest centre, first one on ties (``argmin``)."""
    return np.abs(targets[:, None] - centres[None, :]).argmin(axis=1)


def _nest_ilamb27(ref: GridAxes, com: GridAxes) -> Nesting:
    r_lat, r_lon, r_latb, r_lonb, r_order = _ilamb27_axes(ref)
    c_lat, c_lon, c_latb, c_lonb, c_order = _ilamb27_axes(com)
    lat_e = _union_edges(r_latb, c_latb, -90.0, 90.0)
    lon_e = _union_edges(r_lonb, c_lonb, -180.0, 180.0)
    lat_b = np.stack([lat_e[:-1], lat_e[1:]], axis=1)
    lon_b = np.stack([lon_e[:-1], lon_e[1:]], axis=1)
    lat = lat_b.mean(axis=1)
    lon = lon_b.mean(axis=1)
    ref_index = _flat(_argmin_nearest(lat, r_lat), r_order[_argmin_nearest(lon, r_lon)],
                      ref.lon.size)
    com_index = _flat(_argmin_nearest(lat, c_lat), c_order[_argmin_nearest(lon, c_lon)],
                      com.lon.size)
    return Nesting(lat=lat, lon=lon, area=cell_areas(lat_b, lon_b), ref_index=ref_index,
                   com_index=com_index, rule="ilamb27",
                   difference_area=_recreated_areas(lat, lon))


def _recreated_areas(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """ILAMB 2.7's areas of a Variable made from centres only: ``_createBnds`` (midpoints,
    ends extrapolated), latitudes clipped to [-90, 90], longitudes to [-180, 180]."""
    lat_b = np.clip(bounds_from_centres(lat), -90.0, 90.0)
    lon_b = np.clip(bounds_from_centres(lon), -180.0, 180.0)
    return cell_areas(lat_b, lon_b)


# --------------------------------------------------------------------------- ilamb3
def _is_0_360(lon: np.ndarray) -> bool:
    return bool(lon.min() >= 0 and lon.max() <= 360)


def _ilamb3_lon(lon: np.ndarray, to_360: bool) -> tuple[np.ndarray, np.ndarray]:
    """(sorted longitudes, their order) after ilamb3's ``adjust_lon`` to a convention."""
    lon = np.asarray(lon, float)
    moved = lon % 360 if to_360 else (lon + 180) % 360 - 180
    order = np.argsort(moved, kind="stable")
    return moved[order], order


def _nearest_or_missing(targets: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """xarray ``interp(method='nearest')`` on an ascending axis: ties to the lower index,
    -1 outside [first centre, last centre]."""
    if centres.size == 1:
        return np.where(np.isclose(targets, centres[0]), 0, -1)
    mid = 0.5 * (centres[:-1] + centres[1:])
    idx = np.searchsorted(mid, targets, side="left")
    outside = (targets < centres[0]) | (targets > centres[-1])
    return np.where(outside, -1, idx)


def _nest_ilamb3(ref: GridAxes, com: GridAxes) -> Nesting:
    to_360 = _is_0_360(ref.lon)
    r_lon, r_order = _ilamb3_lon(ref.lon, to_360) if to_360 != _is_0_360(ref.lon) else (
        ref.lon, np.arange(ref.lon.size))
    c_lon, c_order = _ilamb3_lon(com.lon, to_360) if to_360 != _is_0_360(com.lon) else (
        com.lon, np.arange(com.lon.size))
    lat_e = np.union1d(bounds_from_centres(ref.lat).ravel(), bounds_from_centres(com.lat).ravel())
    lon_e = np.union1d(bounds_from_centres(r_lon).ravel(), bounds_from_centres(c_lon).ravel())
    lat = 0.5 * (lat_e[:-1] + lat_e[1:])
    lon = 0.5 * (lon_e[:-1] + lon_e[1:])
    rr, rc = _nearest_or_missing(lat, ref.lat), _nearest_or_missing(lon, r_lon)
    cr, cc = _nearest_or_missing(lat, com.lat), _nearest_or_missing(lon, c_lon)
    ref_index = _flat(rr, np.where(rc >= 0, r_order[np.maximum(rc, 0)], -1), ref.lon.size)
    com_index = _flat(cr, np.where(cc >= 0, c_order[np.maximum(cc, 0)], -1), com.lon.size)
    return Nesting(lat=lat, lon=lon, area=areas_from_centres(lat, lon), ref_index=ref_index,
                   com_index=com_index, rule="ilamb3")


# --------------------------------------------------------------------------- shared
def _flat(rows: np.ndarray, cols: np.ndarray, ncol: int) -> np.ndarray:
    """Flat (row, col) indices of the outer product; -1 where either is -1."""
    r = np.asarray(rows)[:, None]
    c = np.asarray(cols)[None, :]
    return np.where((r >= 0) & (c >= 0), r * ncol + c, -1).ravel()


def identity_nesting(grid: GridAxes, rule: NestRule) -> Nesting:
    """Both on one grid: each cell is its own (areas as the rule measures them)."""
    index = np.arange(grid.lat.size * grid.lon.size)
    if rule == "ilamb3":
        area = areas_from_centres(grid.lat, grid.lon)
    else:  # ILAMB 2.7 measures the shifted, rolled and clipped cells; put them back in place
        lat, lon, lat_b, lon_b, order = _ilamb27_axes(grid)
        rolled = cell_areas(lat_b, lon_b)
        area = np.empty_like(rolled)
        area[:, order] = rolled
        rolled = _recreated_areas(lat, lon)
        difference = np.empty_like(rolled)
        difference[:, order] = rolled
        return Nesting(lat=grid.lat, lon=grid.lon, area=area, ref_index=index,
                       com_index=index, rule=rule, identity=True, difference_area=difference)
    return Nesting(lat=grid.lat, lon=grid.lon, area=area, ref_index=index, com_index=index,
                   rule=rule, identity=True)


def nest(ref: GridAxes, com: GridAxes, rule: NestRule) -> Nesting:
    """The composed grid of ``ref`` and ``com`` under ``rule`` (see the module docstring)."""
    if same_grid(ref, com):
        return identity_nesting(ref, rule)
    if rule == "ilamb3":
        return _nest_ilamb3(ref, com)
    return _nest_ilamb27(ref, com)


def sample(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values[..., lat, lon]`` copied to the cells of ``index`` (NaN where index is -1)."""
    lead = values.shape[:-2]
    flat = values.reshape(*lead, -1)
    out = flat[..., np.maximum(index, 0)]
    if (index < 0).any():
        out = np.array(out, dtype=np.float64 if out.dtype.kind != "f" else out.dtype)
        out[..., index < 0] = np.nan
    return out
