"""Confront model outputs with the reference catalog and produce the long score table.

Contract: :func:`confront` takes CalLMIP-conformed monthly files (one per model and stage), the
resolved catalog and an output directory. For every available product and every model file it
reads the model variable, keeps the (year, month) steps both cover inside the product period,
regrids the model conservatively to the product's grid (the project's ``regrid`` package; not
at all when the grids are identical), packs the cells valid in both, runs the registered
analyses of the chosen mode and adds the overall score. It returns the scores as a long
pandas table (ilamb3's columns plus stage, variable, product, mode and a note) and writes, per
confrontation, a small NetCDF of maps and regional annual cycles under ``out_dir/maps`` for the
report. Anything that cannot be scored (product missing, variable absent from a model file, no
common period) becomes a row of type ``'skipped'`` whose note says why; a non-conformant model
file raises :class:`~benchmarks.errors.ModelOutputError`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import netCDF4
import numpy as np
import pandas as pd

from benchmarks.analyses import build_analyses, overall_rows
from benchmarks.catalog import ReferenceProduct
from benchmarks.errors import NotComparableError
from benchmarks.fields import (
    Cells,
    Field,
    cell_areas,
)
from benchmarks.gridded import GriddedSeries, check_model_file, read_model_variable, read_reference
from benchmarks.modes import ScoringMode, get_mode
from benchmarks.regions import DEFAULT_REGIONS, region_masks
from benchmarks.table import COLUMNS
from benchmarks.units import convert, needs_period_length

logger = logging.getLogger(__name__)

Stage = Literal["Prior", "Posterior"]


#: Map fields stored per confrontation for figures (2-D on the reference grid).
STORED_MAPS = (
    "ref_mean",
    "com_mean",
    "bias",
    "bias_score",
    "rmse_score",
    "phase_shift",
    "cycle_score",
)


@dataclass(frozen=True)
class ModelOutput:
    """One model's conformed output for one calibration stage."""

    model: str
    stage: Stage
    monthly_path: Path
    daily_path: Path | None = None


def _skip_row(source: str, stage: str, product: ReferenceProduct, mode: str, note: str) -> dict:
    return {
        "source": source,
        "stage": stage,
        "variable": product.variable,
        "product": product.product,
        "region": "global",
        "analysis": "Catalog",
        "name": "Skipped",
        "type": "skipped",
        "units": "",
        "value": float("nan"),
        "mode": mode,
        "note": note,
    }


def _common_steps(model: GriddedSeries, ref: GriddedSeries) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the (year, month) steps present in both."""
    mkey = model.year * 100 + model.month
    rkey = ref.year * 100 + ref.month
    _, mi, ri = np.intersect1d(mkey, rkey, return_indices=True)
    return mi, ri


def _clipped(bounds: np.ndarray) -> np.ndarray:
    return np.clip(bounds, -90.0, 90.0)


def _regrid(model: GriddedSeries, ref: GriddedSeries, cache: dict) -> np.ndarray:
    """Model values on the reference grid (conservative; identity for identical grids)."""
    if model.same_grid(ref):
        return model.values
    import xarray as xr

    from regrid import Grid, Regridder

    key = (model.lat.tobytes(), model.lon.tobytes(), ref.lat.tobytes(), ref.lon.tobytes())
    if key not in cache:
        src = Grid(
            lat=model.lat,
            lon=model.lon,
            lat_bounds=_clipped(model.lat_bounds),
            lon_bounds=model.lon_bounds,
        )
        dst = Grid(
            lat=ref.lat, lon=ref.lon, lat_bounds=_clipped(ref.lat_bounds), lon_bounds=ref.lon_bounds
        )
        cache[key] = Regridder(src, dst, method="conservative")
    da = xr.DataArray(
        model.values,
        dims=("time", "lat", "lon"),
        coords={"lat": model.lat, "lon": model.lon},
    )
    out = cache[key](da)
    return np.asarray(out.transpose("time", "lat", "lon").values, dtype=np.float64)


def _cells_for(ref: GriddedSeries, valid: np.ndarray, regions: Sequence[str], cache: dict) -> Cells:
    """Packed cells of the reference grid where both data sets have values."""
    key = (ref.lat.tobytes(), ref.lon.tobytes(), tuple(regions))
    if key not in cache:
        area = cell_areas(ref.lat_bounds, ref.lon_bounds)
        cache[key] = (area, region_masks(ref.lat, ref.lon, regions))
    area, masks = cache[key]
    flat = np.flatnonzero(valid.ravel())
    return Cells(
        lat=ref.lat,
        lon=ref.lon,
        flat_index=flat,
        area=area.ravel()[flat],
        regions={name: m.ravel()[flat] for name, m in masks.items()},
    )


def _regional_cycles(field: Field, cells: Cells, regions: Sequence[str]) -> np.ndarray:
    """Area-weighted regional mean annual cycle, (region, 12)."""
    cycle = field.cycle_by_month
    out = np.full((len(regions), 12), np.nan)
    for i, region in enumerate(regions):
        member = cells.region(region)
        w = cells.area * member
        ok = np.isfinite(cycle) & (w > 0)[None, :]
        num = np.where(ok, cycle * w[None, :], 0.0).sum(axis=1)
        den = np.where(ok, w[None, :], 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i] = np.where(den > 0, num / den, np.nan)
    return out


def maps_path(out_dir: Path, source: str, stage: str, variable: str, product: str) -> Path:
    """Where the maps of one confrontation are stored."""
    return Path(out_dir) / "maps" / f"{source}_{stage}_{variable}_{product}.nc"


def _write_maps(
    path: Path,
    cells: Cells,
    maps: dict[str, np.ndarray],
    cycles: dict[str, np.ndarray],
    regions: Sequence[str],
    attrs: dict[str, str],
) -> None:
    """Write the maps atomically (temporary file in the same directory, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with netCDF4.Dataset(tmp, "w") as ds:
            ds.setncatts(attrs)
            ds.createDimension("lat", cells.lat.size)
            ds.createDimension("lon", cells.lon.size)
            ds.createDimension("region", len(regions))
            ds.createDimension("month", 12)
            ds.createVariable("lat", "f8", ("lat",))[:] = cells.lat
            ds.createVariable("lon", "f8", ("lon",))[:] = cells.lon
            rv = ds.createVariable("region", str, ("region",))
            for i, r in enumerate(regions):
                rv[i] = r
            for name, packed in maps.items():
                v = ds.createVariable(
                    name,
                    "f4",
                    ("lat", "lon"),
                    zlib=True,
                    complevel=1,
                    fill_value=np.float32(np.nan),
                )
                v[:] = cells.unpack(packed).astype(np.float32)
            for name, cyc in cycles.items():
                ds.createVariable(name, "f8", ("region", "month"))[:] = cyc
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def score_pair(
    ref: Field,
    com: Field,
    cells: Cells,
    *,
    variable: str,
    mode: ScoringMode,
    regions: Sequence[str] = ("global",),
    mass_weighting: bool = False,
    skip_analyses: Sequence[str] = (),
) -> tuple[list[dict], dict[str, np.ndarray], list[str]]:
    """Run the analyses of ``mode`` on one packed pair; return rows, maps and skip notes."""
    rows: list[dict] = []
    maps: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for analysis in build_analyses(
        variable, mode, regions=regions, mass_weighting=mass_weighting, skip=skip_analyses
    ):
        result = analysis(ref, com, cells)
        if result.skipped:
            notes.append(f"{analysis.name}: {result.skipped}")
        rows.extend(result.rows)
        maps.update(result.maps)
    rows.extend(overall_rows(rows, mode))
    return rows, maps, notes


def confront(
    model_files: Sequence[ModelOutput],
    catalog: Sequence[ReferenceProduct],
    out_dir: Path,
    mode: str = "ilamb27",
    regions: Sequence[str] = DEFAULT_REGIONS,
    *,
    sites_dir: Path | None = None,
) -> pd.DataFrame:
    """Score every model file against every available product; return the long table.

    ``sites_dir`` (optional) adds the flux-tower site confrontation of :mod:`benchmarks.sites`.
    """
    scoring = get_mode(mode)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    regions = tuple(regions)
    if "global" not in regions:
        regions = ("global", *regions)
    for output in model_files:
        check_model_file(output.monthly_path, output.stage)

    rows: list[dict] = []
    regrid_cache: dict = {}
    cells_cache: dict = {}
    for product in catalog:
        if not product.available:
            rows.extend(
                _skip_row(
                    o.model, o.stage, product, scoring.name, product.skip_reason or product.status
                )
                for o in model_files
            )
    # One variable at a time: its references stay in memory while each model file's field is
    # read once (a 20-year 0.5-degree field is 0.5 GB), then released.
    by_variable: dict[str, list[ReferenceProduct]] = {}
    for product in catalog:
        if product.available:
            by_variable.setdefault(product.variable, []).append(product)
    for variable, products in by_variable.items():
        references = {
            p.key: read_reference(p.paths, p.file_variable, p.units or "", None, p.period)
            for p in products
        }
        for output in model_files:
            try:
                native = read_model_variable(output.monthly_path, variable)
            except NotComparableError as exc:
                rows.extend(
                    _skip_row(output.model, output.stage, p, scoring.name, str(exc))
                    for p in products
                )
                continue
            for product in products:
                rows.extend(
                    _confront_one(
                        output,
                        product,
                        references[product.key],
                        native,
                        scoring,
                        regions,
                        out_dir,
                        regrid_cache,
                        cells_cache,
                    )
                )
            del native
        del references
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if sites_dir is not None:
        from benchmarks.sites import confront_sites

        site_rows = confront_sites(model_files, sites_dir, out_dir)
        frame = pd.concat([frame, site_rows], ignore_index=True)
    return frame


def _confront_one(
    output: ModelOutput,
    product: ReferenceProduct,
    ref_all: GriddedSeries,
    model: GriddedSeries,
    scoring: ScoringMode,
    regions: Sequence[str],
    out_dir: Path,
    regrid_cache: dict,
    cells_cache: dict,
) -> list[dict]:
    if ref_all.static:
        inside = (model.year >= product.period[0]) & (model.year <= product.period[1])
        if not inside.any():
            inside = np.ones(model.year.shape, dtype=bool)
        mean = np.nanmean(model.values[inside], axis=0)[None]
        model_sel = model.select(np.flatnonzero(inside)[:1]).with_values(mean)
        ref_sel = ref_all
    else:
        mi, ri = _common_steps(model, ref_all)
        if mi.size == 0:
            note = (
                f"no common months: model {model.year.min()}-{model.year.max()}, "
                f"{product.product} {ref_all.year.min()}-{ref_all.year.max()}"
            )
            return [_skip_row(output.model, output.stage, product, scoring.name, note)]
        model_sel, ref_sel = model.select(mi), ref_all.select(ri)
    com_values = _regrid(model_sel, ref_sel, regrid_cache)
    valid = np.isfinite(ref_sel.values).any(axis=0) & np.isfinite(com_values).any(axis=0)
    if not valid.any():
        note = "model and reference share no valid grid cell"
        return [_skip_row(output.model, output.stage, product, scoring.name, note)]
    cells = _cells_for(ref_sel, valid, regions, cells_cache)
    ny_nx = valid.size
    tb = ref_sel.time_bounds
    # pack the common cells first, then convert: a fraction of the grid, in float64
    ref_packed = convert(
        ref_sel.values.reshape(-1, ny_nx)[:, cells.flat_index],
        ref_sel.units,
        product.display_units,
        days_in_period=ref_sel.days if needs_period_length(ref_sel.units) else None,
    )
    com_packed = convert(
        com_values.reshape(-1, ny_nx)[:, cells.flat_index], model.units, product.display_units
    )
    ref_field = Field(ref_packed, tb, product.display_units)
    com_field = Field(com_packed, tb, product.display_units)
    rows, maps, notes = score_pair(
        ref_field,
        com_field,
        cells,
        variable=product.variable,
        mode=scoring,
        regions=regions,
        mass_weighting=product.mass_weighting,
        skip_analyses=product.skip_analyses,
    )
    years = f"{ref_sel.year.min()}-{ref_sel.year.max()}"
    for note in notes:
        logger.info(
            "%s %s %s/%s: %s", output.model, output.stage, product.variable, product.product, note
        )
    cycles = {
        "ref_cycle": _regional_cycles(ref_field, cells, regions),
        "com_cycle": _regional_cycles(com_field, cells, regions),
    }
    _write_maps(
        maps_path(out_dir, output.model, output.stage, product.variable, product.product),
        cells,
        {k: v for k, v in maps.items() if k in STORED_MAPS},
        cycles,
        regions,
        {
            "model": output.model,
            "stage": output.stage,
            "variable": product.variable,
            "product": product.product,
            "units": product.display_units,
            "mode": scoring.name,
            "period": years,
        },
    )
    note = f"{years}; " + "; ".join(notes) if notes else years
    return [
        {
            "source": output.model,
            "stage": output.stage,
            "variable": product.variable,
            "product": product.product,
            **row,
            "mode": scoring.name,
            "note": note,
        }
        for row in rows
    ]
