"""Put one model variable and one reference product side by side, ready to be scored.

Contract: :func:`make_pair` takes the reference and the model as read (:class:`GriddedSeries`,
already cut to the steps both cover), a scoring mode and the region labels, and returns a
:class:`Pair`: both fields packed on the cells of the common grid the mode's tool would use
(:mod:`benchmarks.common_grid`), converted to the product's display units, with time weights
as that tool sets them, plus the :class:`~benchmarks.fields.Cells` (areas, region masks) and
the way back to the reference grid (for maps that all models share). Grids, region masks and
cell areas are cached across calls: every model on the same grid reuses them.

``ilamb27`` packs the cells where both have data; ``ilamb3`` packs the cells where either has
data (its spatial standard deviations use each source's own cells), and every quantity that
needs both is NaN elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.common_grid import GridAxes, Nesting, nest, sample
from benchmarks.fields import Cells, Field, areas_from_centres, regional_mean, time_mean
from benchmarks.gridded import GriddedSeries
from benchmarks.modes import ScoringMode
from benchmarks.regions import region_areas, region_masks
from benchmarks.units import convert, needs_period_length


@dataclass(frozen=True)
class Pair:
    """Reference and model on the same packed cells of the common grid."""

    ref: Field
    com: Field
    cells: Cells
    nesting: Nesting
    ref_grid: GridAxes
    #: for each packed cell, its reference-grid flat index (-1: outside the reference grid)
    ref_cell: np.ndarray

    def to_reference_grid(self, packed: np.ndarray) -> np.ndarray:
        """Area-weighted mean of packed values over each reference cell, (lat, lon), NaN empty.

        Lets maps of models on different grids be drawn, compared and stacked on one grid.
        """
        size = self.ref_grid.lat.size * self.ref_grid.lon.size
        ok = (self.ref_cell >= 0) & np.isfinite(packed)
        w = self.cells.area[ok]
        num = np.bincount(self.ref_cell[ok], weights=packed[ok] * w, minlength=size)
        den = np.bincount(self.ref_cell[ok], weights=w, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(den > 0, num / den, np.nan)
        return out.reshape(self.ref_grid.shape)


def grid_axes(series: GriddedSeries) -> GridAxes:
    return GridAxes(series.lat, series.lon, series.lat_bounds, series.lon_bounds)


def _key(grid: GridAxes) -> tuple:
    return (grid.lat.tobytes(), grid.lon.tobytes(), grid.lat_bounds.tobytes(),
            grid.lon_bounds.tobytes())


class PairCache:
    """Nestings, region masks and areas reused across models and products."""

    def __init__(self) -> None:
        self.nestings: dict = {}
        self.regions: dict = {}

    def nesting(self, ref: GridAxes, com: GridAxes, rule: str) -> Nesting:
        key = (_key(ref), _key(com), rule)
        if key not in self.nestings:
            self.nestings[key] = nest(ref, com, rule)  # type: ignore[arg-type]
        return self.nestings[key]

    def region_arrays(
        self, nesting: Nesting, regions: Sequence[str], rule: str
    ) -> tuple[dict, dict]:
        key = (id(nesting), tuple(regions), rule)
        if key not in self.regions:
            self.regions[key] = (
                dict(region_masks(nesting.lat, nesting.lon, regions, rule)),  # type: ignore
                dict(region_areas(nesting.lat, nesting.lon, regions, rule)),  # type: ignore
            )
        return self.regions[key]


def _packed(series: GriddedSeries, index: np.ndarray, units: str) -> np.ndarray:
    """(time, cell) float64 values copied from the source cells ``index``, in ``units``."""
    values = sample(series.values, index)
    days = series.days if needs_period_length(series.units) else None
    return convert(np.asarray(values, dtype=np.float64), series.units, units,
                   days_in_period=days)


def make_pair(
    ref: GriddedSeries,
    com: GriddedSeries,
    mode: ScoringMode,
    regions: Sequence[str],
    display_units: str,
    cache: PairCache,
) -> Pair | None:
    """Both fields on the common grid's packed cells; None when they share no cell."""
    ref_grid, com_grid = grid_axes(ref), grid_axes(com)
    nesting = cache.nesting(ref_grid, com_grid, mode.nest_rule)
    ref_any = np.isfinite(ref.values).any(axis=0).ravel()
    com_any = np.isfinite(com.values).any(axis=0).ravel()
    ref_ok = (nesting.ref_index >= 0) & ref_any[np.maximum(nesting.ref_index, 0)]
    com_ok = (nesting.com_index >= 0) & com_any[np.maximum(nesting.com_index, 0)]
    if not (ref_ok & com_ok).any():
        return None
    valid = (ref_ok & com_ok) if mode.cells == "intersection" else (ref_ok | com_ok)
    flat = np.flatnonzero(valid)
    ref_index = np.where(ref_ok[flat], nesting.ref_index[flat], -1)
    com_index = np.where(com_ok[flat], nesting.com_index[flat], -1)
    masks, areas = cache.region_arrays(nesting, regions, mode.nest_rule)
    area = nesting.area.ravel()
    cells = Cells(
        lat=nesting.lat,
        lon=nesting.lon,
        flat_index=flat,
        area=area[flat],
        regions={name: m.ravel()[flat] for name, m in masks.items()},
        region_area={name: a.ravel()[flat] for name, a in areas.items()},
        difference_area=(None if nesting.difference_area is None
                         else nesting.difference_area.ravel()[flat]),
    )
    tb = ref.time_bounds
    native = mode.time_weights == "native"
    ref_field = Field(_packed(ref, ref_index, display_units), tb, display_units,
                      step_days=ref.step_days if native else None,
                      centres=None if native else _ilamb_centres(ref, tb))
    com_field = Field(_packed(com, com_index, display_units), tb, display_units,
                      step_days=com.step_days if native else None,
                      centres=None if native else _ilamb_centres(com, tb))
    return Pair(ref_field, com_field, cells, nesting, ref_grid, nesting.ref_index[flat])


def _ilamb_centres(series: GriddedSeries, time_bounds: np.ndarray) -> np.ndarray | None:
    """ILAMB 2.7's step centres of a source, if they differ from the bounds' midpoints by
    more than a minute and stay inside the steps (else None: the midpoints)."""
    centres = series.ilamb_time
    if centres is None or centres.shape[0] != time_bounds.shape[0]:
        return None
    if np.allclose(centres, time_bounds.mean(axis=1), atol=1e-3):
        return None
    inside = (centres >= time_bounds[:, 0] - 1.0) & (centres <= time_bounds[:, 1] + 1.0)
    return centres if inside.all() else None


# --------------------------------------------------------------------------- ilamb3 means
def _ilamb3_lon_order(lon: np.ndarray, ref_lon: np.ndarray) -> np.ndarray:
    """Column order of ``lon`` after ilamb3 puts it in the reference's convention, sorted."""
    to_360 = bool(ref_lon.min() >= 0 and ref_lon.max() <= 360)
    own_360 = bool(lon.min() >= 0 and lon.max() <= 360)
    if to_360 == own_360:
        return np.arange(lon.size)
    moved = lon % 360 if to_360 else (lon + 180) % 360 - 180
    return np.argsort(moved, kind="stable")


def native_period_means(
    series: GriddedSeries,
    ref_lon: np.ndarray,
    regions: Sequence[str],
    display_units: str,
) -> dict[str, float]:
    """ilamb3's 'Period Mean' of one source on its own grid, per region.

    The mean over the source's steps weighted by its own step lengths, then the area mean over
    its cells with data (cells measured from the centres; GFED regions as ilamb3 selects them
    on that grid, lon in the reference's convention).
    """
    order = _ilamb3_lon_order(series.lon, ref_lon)
    lon = series.lon[order]
    if not np.array_equal(order, np.arange(order.size)):
        to_360 = bool(ref_lon.min() >= 0 and ref_lon.max() <= 360)
        lon = lon % 360 if to_360 else (lon + 180) % 360 - 180
    values = series.values[..., order]
    ok = np.isfinite(values).any(axis=0).ravel()
    flat = np.flatnonzero(ok)
    packed = values.reshape(values.shape[0], -1)[:, flat].astype(np.float64)
    days = series.days if needs_period_length(series.units) else None
    packed = convert(packed, series.units, display_units, days_in_period=days)
    step = series.step_days if series.step_days is not None else np.ones(packed.shape[0])
    mean = time_mean(packed, step)
    area = areas_from_centres(series.lat, lon).ravel()[flat]
    masks = region_masks(series.lat, lon, regions, "ilamb3")
    block_areas = region_areas(series.lat, lon, regions, "ilamb3")
    out = {}
    for region in regions:
        member = np.ones(flat.size, bool) if region == "global" else masks[region].ravel()[flat]
        a = block_areas[region].ravel()[flat] if region in block_areas else area
        out[region] = regional_mean(mean, a, member)
    return out
