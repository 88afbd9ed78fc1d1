"""Rectilinear latitude-longitude grids with cell bounds.

Contract: a :class:`Grid` is an immutable description of a rectilinear lat-lon grid: 1-D cell
centres and ``(n, 2)`` cell bounds in degrees, kept in the order the data are stored. Latitude
may run south->north or north->south; longitude increases eastwards and may be written in
0..360, -180..180 or cross the dateline. Everything downstream (weights, weight files, cache
keys) relies on three guarantees checked here:

* latitude bounds lie in [-90, 90] (bounds derived from centres are clipped at the poles);
* every centre lies inside its own cell, and every cell has a positive width;
* no two cells overlap (gaps are allowed: a regional or pole-less grid simply covers less).

Bounds missing from a file are derived from the centres: regularly spaced centres give exact
regular edges, smoothly varying spacing (e.g. Gaussian latitudes) gives midpoints, and spacing
that jumps (a hole in the grid) raises :class:`~regrid.errors.GridError` naming the coordinate,
because midpoints would silently invent cells that do not exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from callmip.constants import EARTH_RADIUS_M
from regrid.errors import GridError

_TOL_DEG = 1e-6  # tolerance (degrees) for "centre inside cell", overlap and closure checks
_REGULAR_RTOL = 1e-4  # spacings equal to this relative tolerance count as regular
_MAX_SPACING_RATIO = 1.5  # neighbouring spacings differing more than this cannot be bounded
_HASH_DECIMALS = 9  # coordinates are rounded to 1e-9 degrees before hashing

_LAT_NAMES = ("lat", "latitude", "nav_lat", "lat_0")
_LON_NAMES = ("lon", "longitude", "nav_lon", "lon_0")
_LAT_UNITS = ("degrees_north", "degree_north", "degree_n", "degrees_n", "degreen", "degreesn")
_LON_UNITS = ("degrees_east", "degree_east", "degree_e", "degrees_e", "degreee", "degreese")


@dataclass(frozen=True, eq=False)
class Grid:
    """A rectilinear lat-lon grid: centres and bounds in degrees, in storage order.

    Parameters
    ----------
    lat, lon
        Cell centres, shapes ``(ny,)`` and ``(nx,)``.
    lat_bounds, lon_bounds
        Cell bounds, shapes ``(ny, 2)`` and ``(nx, 2)``. Use :meth:`from_centres` to derive
        them from the centres.
    lat_name, lon_name
        Coordinate (and dimension) names used when the grid is turned into data.
    """

    lat: np.ndarray
    lon: np.ndarray
    lat_bounds: np.ndarray
    lon_bounds: np.ndarray
    lat_name: str = "lat"
    lon_name: str = "lon"

    def __post_init__(self) -> None:
        lat = _as_1d(self.lat, self.lat_name)
        lon = _as_1d(self.lon, self.lon_name)
        lat_b = _as_bounds(self.lat_bounds, lat.size, self.lat_name)
        lon_b = _as_bounds(self.lon_bounds, lon.size, self.lon_name)
        lat_b = _check_lat(lat, lat_b, self.lat_name)
        _check_lon(lon, lon_b, self.lon_name)
        for field, value in (("lat", lat), ("lon", lon), ("lat_bounds", lat_b),
                             ("lon_bounds", lon_b)):
            value.flags.writeable = False
            object.__setattr__(self, field, value)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_centres(
        cls,
        lat: Any,
        lon: Any,
        lat_bounds: Any | None = None,
        lon_bounds: Any | None = None,
        *,
        lat_name: str = "lat",
        lon_name: str = "lon",
    ) -> Grid:
        """Build a grid from centres, deriving whichever bounds are not given."""
        lat = _as_1d(lat, lat_name)
        lon = _as_1d(lon, lon_name)
        if lat_bounds is None:
            lat_bounds = np.clip(derive_bounds(lat, lat_name), -90.0, 90.0)
        if lon_bounds is None:
            lon_bounds = derive_bounds(lon, lon_name, periodic=True)
        return cls(lat, lon, np.asarray(lat_bounds, float), np.asarray(lon_bounds, float),
                   lat_name=lat_name, lon_name=lon_name)

    @classmethod
    def regional(
        cls, res_deg: float, south: float, north: float, west: float, east: float
    ) -> Grid:
        """A regular grid of ``res_deg`` cells whose outer edges are the given box.

        The box must hold a whole number of cells; ``east`` may exceed 180 or be smaller than
        ``west`` + 360 in any longitude convention (``west=170, east=190`` crosses the dateline).
        """
        if not res_deg > 0:
            raise GridError(f"grid resolution must be positive, got res_deg={res_deg!r}")
        if not -90.0 <= south < north <= 90.0:
            raise GridError(f"need -90 <= south < north <= 90, got south={south}, north={north}")
        if not 0 < east - west <= 360.0:
            raise GridError(f"need 0 < east - west <= 360, got west={west}, east={east}")
        ny = _whole_cells(north - south, res_deg, "latitude")
        nx = _whole_cells(east - west, res_deg, "longitude")
        lat_edges = np.linspace(south, north, ny + 1)
        lon_edges = np.linspace(west, east, nx + 1)
        lat_b = np.column_stack([lat_edges[:-1], lat_edges[1:]])
        lon_b = np.column_stack([lon_edges[:-1], lon_edges[1:]])
        return cls(lat_b.mean(axis=1), lon_b.mean(axis=1), lat_b, lon_b)

    @classmethod
    def global_regular(cls, res_deg: float, lon0: float = -180.0) -> Grid:
        """A global regular grid, south->north, longitudes starting at the edge ``lon0``."""
        return cls.regional(res_deg, -90.0, 90.0, lon0, lon0 + 360.0)

    @classmethod
    def from_dataset(cls, obj: xr.Dataset | xr.DataArray) -> Grid:
        """Read the grid of a CF dataset or data array.

        Latitude/longitude are found by ``standard_name``, then by units (``degrees_north`` /
        ``degrees_east``), then by the usual names. Bounds come from the coordinate's CF
        ``bounds`` attribute (or a ``<name>_bnds``/``<name>_bounds`` variable) and are derived
        from the centres when absent.
        """
        where = describe(obj)
        lat_name, lon_name = find_lat_lon(obj)
        try:
            lat_b = _read_bounds(obj, lat_name, where)
            lon_b = _read_bounds(obj, lon_name, where)
            return cls.from_centres(
                obj[lat_name].values, obj[lon_name].values, lat_b, lon_b,
                lat_name=lat_name, lon_name=lon_name,
            )
        except GridError as err:
            raise GridError(f"{where}: {err}") from err

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``: the shape of one field on this grid."""
        return (self.lat.size, self.lon.size)

    @property
    def size(self) -> int:
        """Number of cells, the length of a flattened field."""
        return self.lat.size * self.lon.size

    @property
    def is_global_lon(self) -> bool:
        """True when the longitude cells close the full circle (periodic in longitude)."""
        _, width = self.lon_intervals()
        return bool(abs(width.sum() - 360.0) <= _TOL_DEG)

    def lat_intervals(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-cell ``(south, north)`` edges in degrees, south < north, in storage order."""
        return self.lat_bounds.min(axis=1), self.lat_bounds.max(axis=1)

    def lon_intervals(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-cell ``(west, width)`` in degrees; the cell is ``[west, west + width]`` and
        contains its centre (``west`` is within 360 degrees below the centre)."""
        return _lon_west_width(self.lon, self.lon_bounds)

    def cell_area(self, radius: float = EARTH_RADIUS_M) -> np.ndarray:
        """Exact spherical cell areas in m^2, shape ``(ny, nx)``.

        A lat-lon cell is bounded by two meridians and two parallels, so its area is exactly
        ``R^2 * dlon * |sin(lat_north) - sin(lat_south)|`` (no polygon approximation).
        """
        south, north = self.lat_intervals()
        _, width = self.lon_intervals()
        return radius**2 * np.outer(sin_difference(south, north), np.deg2rad(width))

    def hash(self) -> str:
        """A stable digest of the geometry (centres and bounds, rounded to 1e-9 degrees).

        Used as the weights-cache key; names are not part of it because they do not change
        the weights.
        """
        digest = hashlib.sha256()
        for arr in (self.lat, self.lon, self.lat_bounds, self.lon_bounds):
            rounded = np.round(np.asarray(arr, dtype=np.float64), _HASH_DECIMALS) + 0.0
            digest.update(str(rounded.shape).encode())
            digest.update(np.ascontiguousarray(rounded).tobytes())
        return digest.hexdigest()[:24]

    def to_dataset(self) -> xr.Dataset:
        """The grid as CF coordinates: ``lat``/``lon`` with ``lat_bnds``/``lon_bnds``."""
        lat_bnds = f"{self.lat_name}_bnds"
        lon_bnds = f"{self.lon_name}_bnds"
        coords = {
            self.lat_name: (self.lat_name, np.array(self.lat), _lat_attrs(lat_bnds)),
            self.lon_name: (self.lon_name, np.array(self.lon), _lon_attrs(lon_bnds)),
            lat_bnds: ((self.lat_name, "bnds"), np.array(self.lat_bounds)),
            lon_bnds: ((self.lon_name, "bnds"), np.array(self.lon_bounds)),
        }
        ds = xr.Dataset(coords=coords)
        for name in ds.coords:
            ds[name].encoding["_FillValue"] = None  # CF: no fill value on coordinates
        return ds

    def __eq__(self, other: object) -> bool:
        """Geometric equality (same centres and bounds in the same order)."""
        if not isinstance(other, Grid):
            return NotImplemented
        return self.shape == other.shape and self.hash() == other.hash()

    def __hash__(self) -> int:
        return hash(self.hash())

    def __repr__(self) -> str:
        south, north = self.lat_intervals()
        return (
            f"Grid({self.lat.size}x{self.lon.size}, lat {self.lat[0]:g}..{self.lat[-1]:g} "
            f"(edges {south.min():g}..{north.max():g}), lon {self.lon[0]:g}..{self.lon[-1]:g}"
            f"{' global' if self.is_global_lon else ''})"
        )


# ---------------------------------------------------------------------- helpers (public)
def sin_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sin(b) - sin(a)`` for angles in degrees, accurate for nearby a and b.

    Uses ``2 cos((a+b)/2) sin((b-a)/2)`` so thin cells near the poles keep full relative
    precision (the naive difference of two numbers close to 1 would lose digits).
    """
    a = np.deg2rad(np.asarray(a, dtype=np.float64))
    b = np.deg2rad(np.asarray(b, dtype=np.float64))
    return 2.0 * np.cos(0.5 * (a + b)) * np.sin(0.5 * (b - a))


def derive_bounds(centres: Any, name: str, *, periodic: bool = False) -> np.ndarray:
    """Cell bounds ``(n, 2)`` from strictly monotonic centres.

    Regular spacing gives exact regular edges; smoothly varying spacing (neighbouring
    spacings within a factor 1.5, e.g. Gaussian latitudes) gives midpoints with the outer
    edges half a spacing out; anything else raises :class:`GridError` naming ``name``.
    ``periodic`` unwraps longitudes first (centres may cross 360 or the dateline).
    """
    c = _as_1d(centres, name)
    if c.size < 2:
        raise GridError(
            f"cannot derive cell bounds for coordinate '{name}' from a single value "
            f"({c.tolist()}); provide bounds (CF '{name}:bounds' attribute)"
        )
    if periodic:
        steps = np.diff(c) % 360.0
        if steps.sum() >= 360.0:
            raise GridError(
                f"longitude '{name}' must increase eastwards (modulo 360); decreasing "
                "longitudes are not supported"
            )
        c = c[0] + np.concatenate([[0.0], np.cumsum(steps)])
    d = np.diff(c)
    if np.any(d == 0) or not (np.all(d > 0) or np.all(d < 0)):
        raise GridError(
            f"coordinate '{name}' is not strictly monotonic"
            f"{' (longitudes must increase eastwards)' if periodic else ''}; "
            "cannot derive cell bounds"
        )
    spacing = (c[-1] - c[0]) / (c.size - 1)
    # float32 coordinates differ by up to an ulp of the largest value (1.5e-5 at 180)
    tol = max(_REGULAR_RTOL * abs(spacing), 2.0 * float(np.spacing(np.float32(np.abs(c).max()))))
    if np.all(np.abs(d - spacing) <= tol):
        edges = _regular_edges(c[0], spacing, c.size, periodic)
    else:
        ratio = d[1:] / d[:-1]
        bad = np.flatnonzero((ratio > _MAX_SPACING_RATIO) | (ratio < 1.0 / _MAX_SPACING_RATIO))
        if bad.size:
            k = int(bad[0])
            raise GridError(
                f"cannot derive cell bounds for coordinate '{name}': irregular spacing, the "
                f"step changes from {d[k]:g} to {d[k + 1]:g} degrees at index {k + 1} "
                f"(value {c[k + 1]:g}); midpoints would invent cells. Provide explicit bounds "
                f"(CF '{name}:bounds' attribute pointing to an (n, 2) variable)"
            )
        mid = 0.5 * (c[1:] + c[:-1])
        edges = np.concatenate([[c[0] - 0.5 * d[0]], mid, [c[-1] + 0.5 * d[-1]]])
    if periodic and abs(edges[-1] - edges[0]) > 360.0 + _TOL_DEG:
        raise GridError(
            f"coordinate '{name}': cells derived from the centres span "
            f"{abs(edges[-1] - edges[0]):g} degrees of longitude (> 360), so they would overlap"
        )
    return np.column_stack([edges[:-1], edges[1:]])


def find_lat_lon(obj: xr.Dataset | xr.DataArray) -> tuple[str, str]:
    """Names of the latitude and longitude coordinates of ``obj`` (see ``from_dataset``)."""
    where = describe(obj)
    return (_find_coord(obj, "latitude", _LAT_NAMES, _LAT_UNITS, where),
            _find_coord(obj, "longitude", _LON_NAMES, _LON_UNITS, where))


def describe(obj: Any) -> str:
    """Short human description of a dataset/array for error messages (names the file)."""
    source = getattr(obj, "encoding", {}).get("source")
    if isinstance(obj, xr.DataArray):
        name = f"variable '{obj.name}'" if obj.name is not None else "unnamed DataArray"
        return f"{name} of '{source}'" if source else name
    return f"dataset '{source}'" if source else "dataset"


# ---------------------------------------------------------------------- helpers (private)
def _whole_cells(extent: float, res_deg: float, axis: str) -> int:
    n = extent / res_deg
    if abs(n - round(n)) > 1e-9 * max(1.0, n) or round(n) < 1:
        raise GridError(
            f"{axis} extent {extent:g} degrees is not a whole number of {res_deg:g}-degree cells"
        )
    return round(n)


def _regular_edges(first: float, spacing: float, n: int, periodic: bool) -> np.ndarray:
    """Edges of a regular axis, snapped to exact values when they are within roundoff.

    Centres stored as float32 are off by ~1e-6 degrees; snapping the spacing to 360/n (or
    180/n) for complete axes and the first edge to a multiple of half the spacing gives the
    exact grid the data were produced on, so cache keys and weights do not depend on it.
    """
    step = abs(spacing)
    total = 360.0 if periodic else 180.0
    if abs(step * n - total) <= 1e-3 * step:
        step = total / n
    step = float(np.copysign(step, spacing))
    edge0 = first - 0.5 * step
    half = abs(step) / 2.0
    snapped = round(edge0 / half) * half
    if abs(snapped - edge0) <= 1e-3 * half:
        edge0 = snapped
    edges = edge0 + step * np.arange(n + 1)
    if not periodic and abs(step * n) == 180.0 and abs(abs(edge0) - 90.0) <= _TOL_DEG:
        edges = np.linspace(edge0, -edge0, n + 1)  # exact pole-to-pole edges
    return edges


def _as_1d(values: Any, name: str) -> np.ndarray:
    arr = np.array(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise GridError(
            f"coordinate '{name}' must be a non-empty 1-D array (rectilinear grid), got shape "
            f"{arr.shape}; curvilinear grids need a weights file (Regridder.from_weights_file)"
        )
    if not np.all(np.isfinite(arr)):
        raise GridError(f"coordinate '{name}' contains non-finite values")
    return arr


def _as_bounds(values: Any, n: int, name: str) -> np.ndarray:
    arr = np.array(values, dtype=np.float64)
    if arr.shape == (2, n) and n != 2:
        arr = arr.T.copy()
    if arr.shape != (n, 2):
        raise GridError(f"bounds of '{name}' must have shape ({n}, 2), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise GridError(f"bounds of '{name}' contain non-finite values")
    return arr


def _check_lat(lat: np.ndarray, bounds: np.ndarray, name: str) -> np.ndarray:
    if lat.size > 1:
        d = np.diff(lat)
        if not (np.all(d > 0) or np.all(d < 0)):
            raise GridError(f"latitude '{name}' must be strictly monotonic (either direction)")
    if np.any(np.abs(lat) > 90.0 + _TOL_DEG):
        raise GridError(f"latitude '{name}' has values outside [-90, 90]")
    if np.any(np.abs(bounds) > 90.0 + _TOL_DEG):
        raise GridError(
            f"bounds of latitude '{name}' reach {np.abs(bounds).max():g} degrees, outside "
            "[-90, 90]"
        )
    bounds = np.clip(bounds, -90.0, 90.0)
    south, north = bounds.min(axis=1), bounds.max(axis=1)
    if np.any(north - south <= 0):
        k = int(np.flatnonzero(north - south <= 0)[0])
        raise GridError(f"latitude '{name}' cell {k} has zero width (bounds {bounds[k]})")
    outside = (lat < south - _TOL_DEG) | (lat > north + _TOL_DEG)
    if np.any(outside):
        k = int(np.flatnonzero(outside)[0])
        raise GridError(
            f"latitude '{name}' centre {lat[k]:g} (index {k}) lies outside its bounds "
            f"{bounds[k].tolist()}"
        )
    order = np.argsort(south, kind="stable")
    if np.any(south[order][1:] < north[order][:-1] - _TOL_DEG):
        raise GridError(f"latitude '{name}' cells overlap (check the bounds)")
    return bounds


def _lon_west_width(lon: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b0, b1 = bounds[:, 0], bounds[:, 1]
    fwd = (b1 - b0) % 360.0
    bwd = (b0 - b1) % 360.0
    fwd = np.where((fwd == 0) & (b0 != b1), 360.0, fwd)
    bwd = np.where((bwd == 0) & (b0 != b1), 360.0, bwd)
    # bounds may be listed west->east or east->west: take the orientation holding the centre
    in_fwd = (lon - b0 + _TOL_DEG) % 360.0 <= fwd + 2 * _TOL_DEG
    in_bwd = (lon - b1 + _TOL_DEG) % 360.0 <= bwd + 2 * _TOL_DEG
    use_fwd = in_fwd & (~in_bwd | (fwd <= bwd))
    width = np.where(use_fwd, fwd, bwd)
    west = np.where(use_fwd, b0, b1)
    west = lon - (lon - west) % 360.0
    # a centre on the west edge may have come out 360 too far west after the modulo
    wrapped = (lon - west) > width + _TOL_DEG
    west = np.where(wrapped & ((lon - west - 360.0) >= -_TOL_DEG), west + 360.0, west)
    return west, width


def _check_lon(lon: np.ndarray, bounds: np.ndarray, name: str) -> None:
    if lon.size > 1:
        steps = np.diff(lon) % 360.0
        if np.any(steps == 0) or steps.sum() >= 360.0:
            raise GridError(
                f"longitude '{name}' must increase eastwards (modulo 360) without repeats; "
                "decreasing or duplicated longitudes are not supported"
            )
    west, width = _lon_west_width(lon, bounds)
    if np.any(width <= 0):
        raise GridError(f"longitude '{name}' has a cell of zero width")
    outside = (lon - west) > width + _TOL_DEG
    if np.any(outside):
        k = int(np.flatnonzero(outside)[0])
        raise GridError(
            f"longitude '{name}' centre {lon[k]:g} (index {k}) lies outside its bounds "
            f"{bounds[k].tolist()}"
        )
    if width.sum() > 360.0 + _TOL_DEG:
        raise GridError(
            f"longitude '{name}' cells cover {width.sum():g} degrees (> 360): cells overlap"
        )
    start = west % 360.0
    order = np.argsort(start, kind="stable")
    start, end = start[order], start[order] + width[order]
    if np.any(start[1:] < end[:-1] - _TOL_DEG) or end[-1] - 360.0 > start[0] + _TOL_DEG:
        raise GridError(f"longitude '{name}' cells overlap (check the bounds)")


def _find_coord(
    obj: xr.Dataset | xr.DataArray,
    standard_name: str,
    names: tuple[str, ...],
    units: tuple[str, ...],
    where: str,
) -> str:
    candidates = [str(k) for k in obj.coords]
    if isinstance(obj, xr.Dataset):
        candidates += [str(k) for k in obj.data_vars if obj[k].ndim == 1 and k in obj.dims]
    for test in (
        lambda v: v.attrs.get("standard_name") == standard_name,
        lambda v: str(v.attrs.get("units", "")).lower().replace(" ", "") in units,
        lambda v: str(v.name).lower() in names,
    ):
        found = [k for k in candidates if test(obj[k])]
        if found:
            dims_first = sorted(found, key=lambda k: (obj[k].dims != (k,), k))
            return dims_first[0]
    raise GridError(
        f"{where}: no {standard_name} coordinate found (looked for standard_name="
        f"'{standard_name}', units {units[0]!r}, or names {', '.join(names)})"
    )


def _read_bounds(obj: xr.Dataset | xr.DataArray, name: str, where: str) -> np.ndarray | None:
    coord = obj[name]
    if coord.ndim != 1:
        raise GridError(
            f"coordinate '{name}' is {coord.ndim}-D (curvilinear grid); only rectilinear "
            "lat-lon grids are supported, use a weights file (Regridder.from_weights_file)"
        )
    if not isinstance(obj, xr.Dataset):
        return None
    bname = coord.attrs.get("bounds") or coord.encoding.get("bounds")
    if bname is not None and bname not in obj.variables:
        raise GridError(
            f"coordinate '{name}' names bounds variable '{bname}', which is not in the {where}"
        )
    if bname is None:
        bname = next((b for b in (f"{name}_bnds", f"{name}_bounds") if b in obj.variables), None)
    if bname is None:
        return None
    bounds = obj[bname]
    if bounds.ndim != 2 or coord.dims[0] not in bounds.dims:
        raise GridError(
            f"bounds variable '{bname}' of '{name}' must be 2-D along '{coord.dims[0]}', got "
            f"dims {bounds.dims}"
        )
    return bounds.transpose(coord.dims[0], ...).values


def _lat_attrs(bounds_name: str) -> dict[str, str]:
    return {"standard_name": "latitude", "long_name": "latitude", "units": "degrees_north",
            "axis": "Y", "bounds": bounds_name}


def _lon_attrs(bounds_name: str) -> dict[str, str]:
    return {"standard_name": "longitude", "long_name": "longitude", "units": "degrees_east",
            "axis": "X", "bounds": bounds_name}
