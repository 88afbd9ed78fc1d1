"""Conservative regridding of land-only fields held as land vectors.

Contract: :class:`LandRegridder` takes its weights from the project's ``regrid`` package
(``regrid.Regridder(src, dst, method="conservative", cache_dir=...)``) and applies them to
(steps, land cells) blocks: the weight columns of the land cells, each row divided by its sum,
times the block. Because the land-only source has NaN exactly on the ocean (and never over
land: the readers refuse such files before regridding), this is the same computation as
``regridder(da, skipna=True)`` on the full grid (tested), i.e. the non-diluted land average,
without materialising the ocean. The normalised weights are applied as one scipy sparse
product per block: no NaN handling is needed on land values, and no numba kernel has to be
loaded, which in a fresh forcing process cost more (1.5 s) than regridding a whole year.
``landfrac`` is the destination's valid fraction, ``regridder.valid_fraction(land_mask)``, so
``sum(dst_area * landfrac * value) == sum(src_area * value over land)``: land-area integrals
are conserved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from regrid import Grid, Regridder


def target_grid(res_deg: float) -> Grid:
    """The campaign's global regular grid (south to north, longitudes from -180)."""
    return Grid.global_regular(res_deg, lon0=-180.0)


class LandRegridder:
    """Regrid land vectors of a source grid onto a global regular target grid."""

    def __init__(
        self,
        src_lat: np.ndarray,
        src_lon: np.ndarray,
        land_index: np.ndarray,
        target_res_deg: float,
        cache_dir: Path | None = None,
    ) -> None:
        self.src = Grid.from_centres(np.asarray(src_lat, float), np.asarray(src_lon, float))
        self.dst = target_grid(target_res_deg)
        weights_dir = None if cache_dir is None else Path(cache_dir) / "regrid-weights"
        self.regridder = Regridder(self.src, self.dst, method="conservative", cache_dir=weights_dir)
        self.land_index = np.asarray(land_index)
        weights = sp.csr_matrix(self.regridder.weights)
        self._w_land = sp.csr_matrix(weights[:, self.land_index])
        self._w_land.sort_indices()
        frac = np.asarray(self._w_land.sum(axis=1)).ravel().reshape(self.dst.shape)
        self.valid_fraction = frac
        """float64 destination valid (land) fraction, exactly the skipna denominator."""
        self.landfrac = np.clip(frac, 0.0, 1.0).astype(np.float32)
        """The same, clipped to [0, 1] and float32, as written to files."""
        total = frac.ravel()
        self._empty = total <= 0.0
        scale = sp.diags(np.where(self._empty, 0.0, 1.0 / np.where(self._empty, 1.0, total)))
        # (land, dst): a dense (steps, land) block times it is one sparse product
        self._w_norm_t = sp.csr_matrix((scale @ self._w_land).T)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """(steps, land) -> (steps, lat, lon) float32, NaN where no land contributes."""
        values = np.asarray(values, dtype=np.float32)
        if values.ndim != 2 or values.shape[1] != self.land_index.size:
            raise ValueError(
                f"LandRegridder: values must be (steps, {self.land_index.size}), "
                f"got {values.shape}"
            )
        out = np.asarray(values @ self._w_norm_t, dtype=np.float32)
        out[:, self._empty] = np.nan
        return out.reshape(values.shape[0], *self.dst.shape)
