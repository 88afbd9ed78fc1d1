"""Confront model outputs with the reference catalog and produce the long score table.

Contract: :func:`confront_all` takes CalLMIP files (one per model and stage, on any regular
grid), the resolved catalog and an output directory. For every available product and every
model file it reads the model variable, keeps the (year, month) steps both cover inside the
product period (a model with annual steps is compared with the product's annual means), puts
both on the common grid of the mode's tool (:mod:`benchmarks.pairing`), runs the registered
analyses of the chosen mode and adds the overall score. It returns the scores as a long pandas
table (ilamb3's columns plus stage, variable, product, mode and a note), optionally the same
scores year by year (for the bootstrap intervals of :mod:`benchmarks.intercompare`), and
writes, per confrontation, a small NetCDF of maps (on the reference grid, so every model's maps
can be compared) and regional annual cycles under ``out_dir/maps`` for the report.

Nothing a file contains can abort the run: a product that is missing, a model file that cannot
be opened, is not CalLMIP, lacks the variable, has wrong units or dimensions, only missing
values, or no common period with the product becomes a row of type ``'skipped'`` whose note
names the file, the variable and the problem, and the other files are still scored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import netCDF4
import numpy as np
import pandas as pd

from benchmarks.analyses import build_analyses, overall_rows
from benchmarks.catalog import ReferenceProduct
from benchmarks.errors import BenchmarkError
from benchmarks.fields import Cells, Field
from benchmarks.gridded import (
    GriddedSeries,
    check_model_file,
    field_nbytes,
    read_model_variable,
    read_reference,
)
from benchmarks.modes import ScoringMode, get_mode
from benchmarks.pairing import Pair, PairCache, make_pair, native_period_means
from benchmarks.prefetch import FieldReader, default_workers
from benchmarks.regions import DEFAULT_REGIONS, check_regions
from benchmarks.table import COLUMNS
from callmip.atomic import atomic_path

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
#: Columns of the year-by-year score table (one row per year, region and score).
YEARLY_COLUMNS = ["source", "stage", "variable", "product", "region", "name", "year", "value",
                  "mode"]


@dataclass(frozen=True)
class ModelOutput:
    """One model's conformed output for one calibration stage."""

    model: str
    stage: Stage
    monthly_path: Path
    daily_path: Path | None = None
    #: years the file name promises (helps read files without time bounds)
    years: tuple[int, int] | None = None
    #: variables not to score (the checker found errors in them), with the reason
    unusable: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Confrontation:
    """Scores over the product period, and (optionally) year by year."""

    scores: pd.DataFrame
    yearly: pd.DataFrame


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


def annual_means(series: GriddedSeries) -> GriddedSeries:
    """Calendar-year means of a monthly series (months weighted by their length; a year
    needs all 12 months), as ILAMB coarsens a reference to a model's annual steps."""
    years = np.unique(series.year)
    keep, values, steps = [], [], []
    days = series.days if series.days is not None else np.ones(series.year.size)
    for y in years:
        sel = np.flatnonzero(series.year == y)
        if sel.size != 12:
            continue
        w = days[sel]
        block = series.values[sel].astype(np.float64)
        ok = np.isfinite(block)
        num = np.where(ok, block, 0.0) * w[:, None, None]
        den = ok * w[:, None, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            values.append(np.where(ok.all(axis=0), num.sum(axis=0) / den.sum(axis=0), np.nan))
        keep.append(y)
        steps.append(w.sum())
    out = np.asarray(values) if values else np.empty((0, *series.values.shape[1:]))
    year = np.asarray(keep, dtype=int)
    return GriddedSeries(
        values=out, year=year, month=np.ones_like(year), lat=series.lat, lon=series.lon,
        lat_bounds=series.lat_bounds, lon_bounds=series.lon_bounds, units=series.units,
        source=series.source, days=np.asarray(steps, float), step_days=np.asarray(steps, float),
        annual=True,
    )


def maps_path(out_dir: Path, source: str, stage: str, variable: str, product: str) -> Path:
    """Where the maps of one confrontation are stored."""
    return Path(out_dir) / "maps" / f"{source}_{stage}_{variable}_{product}.nc"


def _regional_cycles(field_: Field, cells: Cells, regions: Sequence[str]) -> np.ndarray:
    """Area-weighted regional mean annual cycle, (region, 12)."""
    cycle = field_.cycle_by_month
    out = np.full((len(regions), 12), np.nan)
    for i, region in enumerate(regions):
        member = cells.region(region)
        w = cells.area_in(region) * member
        ok = np.isfinite(cycle) & (w > 0)[None, :]
        num = np.where(ok, cycle * w[None, :], 0.0).sum(axis=1)
        den = np.where(ok, w[None, :], 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i] = np.where(den > 0, num / den, np.nan)
    return out


def _write_maps(
    path: Path,
    pair: Pair,
    maps: dict[str, np.ndarray],
    cycles: dict[str, np.ndarray],
    regions: Sequence[str],
    attrs: dict[str, str],
) -> None:
    """Write the maps (on the reference grid) atomically: temporary file, then rename."""
    grid = pair.ref_grid
    with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w") as ds:
        ds.setncatts(attrs)
        ds.createDimension("lat", grid.lat.size)
        ds.createDimension("lon", grid.lon.size)
        ds.createDimension("region", len(regions))
        ds.createDimension("month", 12)
        ds.createVariable("lat", "f8", ("lat",))[:] = grid.lat
        ds.createVariable("lon", "f8", ("lon",))[:] = grid.lon
        rv = ds.createVariable("region", str, ("region",))
        for i, r in enumerate(regions):
            rv[i] = r
        for name, packed in maps.items():
            v = ds.createVariable(
                name, "f4", ("lat", "lon"), zlib=True, complevel=1,
                fill_value=np.float32(np.nan),
            )
            v[:] = pair.to_reference_grid(np.asarray(packed, float)).astype(np.float32)
        for name, cyc in cycles.items():
            ds.createVariable(name, "f8", ("region", "month"))[:] = cyc


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
    """Score every model file against every available product; return the long table."""
    return confront_all(model_files, catalog, out_dir, mode, regions, sites_dir=sites_dir).scores


def confront_all(
    model_files: Sequence[ModelOutput],
    catalog: Sequence[ReferenceProduct],
    out_dir: Path,
    mode: str = "ilamb27",
    regions: Sequence[str] = DEFAULT_REGIONS,
    *,
    sites_dir: Path | None = None,
    yearly: bool = False,
) -> Confrontation:
    """Score every model file against every available product (see the module docstring).

    ``sites_dir`` (optional) adds the flux-tower site confrontation of :mod:`benchmarks.sites`;
    ``yearly`` also scores each whole year of each confrontation on its own.
    """
    scoring = get_mode(mode)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    regions = tuple(regions)
    if "global" not in regions:
        regions = ("global", *regions)
    check_regions(regions)

    rows: list[dict] = []
    year_rows: list[dict] = []
    usable: list[ModelOutput] = []
    for output in model_files:
        try:
            check_model_file(output.monthly_path, output.stage)
            usable.append(output)
        except BenchmarkError as exc:
            rows.extend(_skip_row(output.model, output.stage, p, scoring.name, str(exc))
                        for p in catalog)
    cache = PairCache()
    for product in catalog:
        if not product.available:
            rows.extend(
                _skip_row(
                    o.model, o.stage, product, scoring.name, product.skip_reason or product.status
                )
                for o in usable
            )
    # One variable at a time: its references stay in memory while each model file's field is
    # read once (a 20-year 0.5-degree field is 0.5 GB), then released.
    by_variable: dict[str, list[ReferenceProduct]] = {}
    for product in catalog:
        if product.available:
            by_variable.setdefault(product.variable, []).append(product)
    plan = list(by_variable.items())
    # per variable, why each usable file cannot give it (None: it can)
    reasons = [[(o, _unusable_reason(o, variable)) for o in usable] for variable, _ in plan]
    wanted = [[o for o, reason in pairs if reason is None] for pairs in reasons]
    total = sum(field_nbytes(path, p.file_variable)
                for _, products in plan for p in products for path in p.paths)
    total += sum(field_nbytes(o.monthly_path, variable)
                 for (variable, _), outputs in zip(plan, wanted, strict=True) for o in outputs)
    with FieldReader(default_workers(total)) as reader:

        def start_reading(k: int) -> tuple[dict, list]:
            """Submit variable ``k``'s reads: the first model field and the first product go
            first (scoring starts once both are in), then the other products and fields."""
            variable, products = plan[k]
            fields = [(o, reader.submit(read_model_variable, o.monthly_path, variable, o.years))
                      for o in wanted[k][:1]]
            refs = {p.key: reader.submit(read_reference, p.paths, p.file_variable,
                                         p.units or "", None, p.period) for p in products}
            fields += [(o, reader.submit(read_model_variable, o.monthly_path, variable, o.years))
                       for o in wanted[k][1:]]
            return refs, fields

        upcoming = start_reading(0) if plan else None
        for k, (_, products) in enumerate(plan):
            # the next variable is read while this one is scored
            references, pending_fields = upcoming
            upcoming = start_reading(k + 1) if k + 1 < len(plan) else None
            for output, reason in reasons[k]:
                if reason is not None:
                    rows.extend(_skip_row(output.model, output.stage, p, scoring.name, reason)
                                for p in products)
            for output, pending in pending_fields:
                try:
                    native = pending.result()
                except (BenchmarkError, OSError, ValueError) as exc:
                    rows.extend(
                        _skip_row(output.model, output.stage, p, scoring.name, str(exc))
                        for p in products
                    )
                    continue
                for product in products:
                    got, got_years = _confront_one(
                        output, product, references[product.key].result(), native, scoring,
                        regions, out_dir, cache, yearly,
                    )
                    rows.extend(got)
                    year_rows.extend(got_years)
                del native
            for pending in references.values():
                pending.result()  # a product that cannot be read fails the run, used or not
            del references
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if sites_dir is not None:
        from benchmarks.sites import confront_sites

        site_rows = confront_sites(usable, sites_dir, out_dir)
        frame = pd.concat([frame, site_rows], ignore_index=True)
    return Confrontation(frame, pd.DataFrame(year_rows, columns=YEARLY_COLUMNS))


def _unusable_reason(output: ModelOutput, variable: str) -> str | None:
    """The checker's reason not to score ``variable`` (or an input of a derived one)."""
    from benchmarks.variables import DERIVED

    needed = DERIVED[variable].inputs if variable in DERIVED else (variable,)
    for name in needed:
        if name in output.unusable:
            return f"{output.monthly_path}: variable {name!r} not scored: {output.unusable[name]}"
    return None


def _select(
    output: ModelOutput, product: ReferenceProduct, ref_all: GriddedSeries, model: GriddedSeries
) -> tuple[GriddedSeries, GriddedSeries] | str:
    """The steps both cover (or why there are none)."""
    if ref_all.static:
        inside = (model.year >= product.period[0]) & (model.year <= product.period[1])
        if not inside.any():
            inside = np.ones(model.year.shape, dtype=bool)
        mean = np.nanmean(model.values[inside], axis=0)[None]
        return model.select(np.flatnonzero(inside)[:1]).with_values(mean), ref_all
    ref = annual_means(ref_all) if model.annual and not ref_all.annual else ref_all
    mi, ri = _common_steps(model, ref)
    if mi.size == 0:
        step = "years" if model.annual else "months"
        return (
            f"{output.monthly_path}: no common {step} with {product.product}: model "
            f"{model.year.min()}-{model.year.max()}, {product.product} "
            f"{ref_all.year.min()}-{ref_all.year.max()}"
        )
    return model.select(mi), ref.select(ri)


def _confront_one(
    output: ModelOutput,
    product: ReferenceProduct,
    ref_all: GriddedSeries,
    model: GriddedSeries,
    scoring: ScoringMode,
    regions: Sequence[str],
    out_dir: Path,
    cache: PairCache,
    yearly: bool,
) -> tuple[list[dict], list[dict]]:
    selected = _select(output, product, ref_all, model)
    if isinstance(selected, str):
        return [_skip_row(output.model, output.stage, product, scoring.name, selected)], []
    model_sel, ref_sel = selected
    pair = make_pair(ref_sel, model_sel, scoring, regions, product.display_units, cache)
    if pair is None:
        note = (f"{output.monthly_path}: {product.variable} and {product.product} share no "
                "grid cell with data")
        return [_skip_row(output.model, output.stage, product, scoring.name, note)], []
    options = {"variable": product.variable, "mode": scoring, "regions": regions,
               "mass_weighting": product.mass_weighting, "skip_analyses": product.skip_analyses}
    rows, maps, notes = score_pair(pair.ref, pair.com, pair.cells, **options)
    if scoring.period_mean == "native_grid":
        rows = _native_period_mean_rows(rows, ref_sel, model_sel, regions, product)
    years = f"{ref_sel.year.min()}-{ref_sel.year.max()}"
    for note in notes:
        logger.info(
            "%s %s %s/%s: %s", output.model, output.stage, product.variable, product.product, note
        )
    cycles = {}
    if pair.ref.is_monthly and pair.ref.ntime >= 12:
        cycles = {
            "ref_cycle": _regional_cycles(pair.ref, pair.cells, regions),
            "com_cycle": _regional_cycles(pair.com, pair.cells, regions),
        }
    _write_maps(
        maps_path(out_dir, output.model, output.stage, product.variable, product.product),
        pair,
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
            "model_file": str(output.monthly_path),
        },
    )
    note = f"{years}; " + "; ".join(notes) if notes else years
    keys = {"source": output.model, "stage": output.stage, "variable": product.variable,
            "product": product.product}
    out = [{**keys, **row, "mode": scoring.name, "note": note} for row in rows]
    year_rows = _yearly_rows(pair, options, keys, scoring.name) if yearly else []
    return out, year_rows


def _native_period_mean_rows(
    rows: list[dict], ref: GriddedSeries, com: GriddedSeries, regions: Sequence[str],
    product: ReferenceProduct,
) -> list[dict]:
    """Replace the period means by each source's mean on its own grid (ilamb3's report)."""
    ref_means = native_period_means(ref, ref.lon, regions, product.display_units)
    com_means = native_period_means(com, ref.lon, regions, product.display_units)
    native = {"Reference Period Mean": ref_means, "Period Mean": com_means}
    return [
        {**row, "value": native[row["name"]].get(row["region"], row["value"])}
        if row["name"] in native else row
        for row in rows
    ]


def _yearly_rows(pair: Pair, options: dict, keys: dict, mode: str) -> list[dict]:
    """Scores of each whole year of the pair on its own (IAV, needing two years, drops out)."""
    year = (pair.ref.time_bounds[:, 0] // 365.0 + 1850).astype(int)
    out = []
    for y in np.unique(year):
        sel = np.flatnonzero(year == y)
        if pair.ref.is_monthly and sel.size != 12:
            continue

        def cut(f: Field, sel=sel) -> Field:
            return Field(f.values[sel], f.time_bounds[sel], f.units,
                         None if f.step_days is None else f.step_days[sel])

        rows, _, _ = score_pair(cut(pair.ref), cut(pair.com), pair.cells, **options)
        out.extend({**keys, "region": r["region"], "name": r["name"], "year": int(y),
                    "value": r["value"], "mode": mode}
                   for r in rows if r["type"] == "score")
    return out
