"""The land grid: which (lat, lon) cells CELM simulates, and the hash that identifies them.

Contract: :class:`LandGrid` holds 1-D ``lat``/``lon`` (and bounds), the static ``landfrac`` and
the flat indices of the cells with ``landfrac > 0`` (row-major over (lat, lon)). State is stored
1-D over those land cells; :meth:`LandGrid.to_grid` scatters it back to (lat, lon) with NaN over
ocean. :attr:`LandGrid.grid_hash` changes whenever the coordinates or the land mask change, so a
restart written on one grid is refused on another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class LandGrid:
    """A regular lat-lon grid and its land cells."""

    lat: np.ndarray
    lon: np.ndarray
    lat_bnds: np.ndarray
    lon_bnds: np.ndarray
    landfrac: np.ndarray  # (nlat, nlon), 0 over ocean

    @cached_property
    def land_index(self) -> np.ndarray:
        """Flat (row-major) indices of the land cells, int64."""
        return np.flatnonzero(np.nan_to_num(self.landfrac, nan=0.0).ravel() > 0).astype(np.int64)

    @property
    def ncell(self) -> int:
        return int(self.land_index.size)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.lat.size, self.lon.size)

    @cached_property
    def cell_lat(self) -> np.ndarray:
        """Latitude of each land cell (degrees north)."""
        return self.lat[self.land_index // self.lon.size]

    @cached_property
    def land_weights(self) -> np.ndarray:
        """Land area of each land cell in steradians (cell solid angle x land fraction): area
        weights for global means and area fractions, which do not need the Earth's radius."""
        band = np.abs(np.diff(np.sin(np.deg2rad(self.lat_bnds)), axis=1))[:, 0]
        width = np.abs(np.deg2rad(np.diff(self.lon_bnds, axis=1)))[:, 0]
        solid = (band[:, None] * width[None, :]).ravel()[self.land_index]
        return solid * np.nan_to_num(self.landfrac, nan=0.0).ravel()[self.land_index]

    @cached_property
    def grid_hash(self) -> str:
        """sha256 over the coordinates (rounded to 1e-6 degree) and the land-cell index."""
        h = hashlib.sha256()
        for arr in (np.round(self.lat, 6), np.round(self.lon, 6)):
            h.update(np.ascontiguousarray(arr, dtype="<f8").tobytes())
        h.update(np.ascontiguousarray(self.land_index, dtype="<i8").tobytes())
        return h.hexdigest()[:16]

    def to_grid(self, values: np.ndarray) -> np.ndarray:
        """Scatter (..., ncell) land values to (..., nlat, nlon) float32 with NaN over ocean."""
        lead = values.shape[:-1]
        out = np.full((*lead, self.lat.size * self.lon.size), np.nan, dtype=np.float32)
        out[..., self.land_index] = values
        return out.reshape(*lead, *self.shape)

    def to_land(self, field: np.ndarray) -> np.ndarray:
        """Gather (..., nlat, nlon) to (..., ncell)."""
        lead = field.shape[:-2]
        return field.reshape(*lead, -1)[..., self.land_index]
