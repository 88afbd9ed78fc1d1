"""Model-ready scenario forcing (2015-2100) from ISIMIP3b bias-adjusted daily files.

Contract: the same model-ready ``met_<YYYY>.nc`` layout as the historical path comes out of
here, so the model cannot tell the two apart. ISIMIP3b is daily already, so a task only reads
one variable-year (checked on land, 29 February dropped for the 365-day model calendar),
regrids it conservatively (land-only averages) and renames ``sfcwind`` to ``sfcWind``; the
year is then assembled exactly like the CRU-JRA path (:mod:`forcing.parts`).

Land: ISIMIP3b/W5E5 fields cover the ocean too, so the land-only source is made with the same
land definition as CRU-JRA (:func:`forcing.landmask.crujra_land_mask` at the source
resolution), keeping historical and scenario ``landfrac`` identical on the same grids.
A 6-hourly model step is not available from daily ISIMIP3b data.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from forcing.cluster import ClusterSpec, dask_client
from forcing.conventions import ISIMIP_VARIABLES, MODEL_VARIABLE_NAMES, MODEL_VARIABLES
from forcing.isimip import IsimipReader, isimip_path
from forcing.landmask import crujra_land_mask
from forcing.landregrid import LandRegridder
from forcing.manifest import fingerprint, is_complete
from forcing.modelready import met_filename
from forcing.parts import (
    assemble_year,
    clean_year,
    land_digest,
    part_path,
    run_year_tasks,
    work_dir,
    write_part,
)
from forcing.prepare import default_cache, model_params

logger = logging.getLogger(__name__)

_DAYS_PER_BLOCK = 31


def _source(gcm: str, ssp: str) -> str:
    return f"ISIMIP3b bias-adjusted {gcm} {ssp}"


def _files(isimip_dir: Path, gcm: str, ssp: str, year: int) -> dict[str, Path]:
    return {v: isimip_path(isimip_dir, gcm, ssp, v, year) for v in ISIMIP_VARIABLES}


def prepare_isimip_variable_year(
    isimip_dir: Path,
    gcm: str,
    ssp: str,
    year: int,
    variable: str,
    target_res_deg: float,
    work: Path,
    cache_dir: Path | None = None,
) -> Path:
    """One model variable-year from ISIMIP3b: ``<work>/<var>_<year>.nc`` (a part file)."""
    spec = MODEL_VARIABLES[variable]
    path = isimip_path(isimip_dir, gcm, ssp, spec.isimip_name, year)
    out = part_path(work, variable, year)
    params = {
        **model_params(target_res_deg, "daily", year, _source(gcm, ssp)),
        "variable": variable,
    }
    inputs = fingerprint([path])
    if is_complete(out, params, inputs):
        return out
    with IsimipReader(path, spec.isimip_name) as reader:
        res = 180.0 / reader.lat.size
        mask = crujra_land_mask(res)  # machine-wide land-fraction cache
        land_values = reader.read_year(year, mask)
        land_index = mask.ravel().nonzero()[0]
        regridder = LandRegridder(reader.lat, reader.lon, land_index, target_res_deg, cache_dir)
        synthetic = "SYNTHETIC" in str(getattr(reader._ds, "comment", ""))
    blocks = (
        land_values[d : d + _DAYS_PER_BLOCK]
        for d in range(0, land_values.shape[0], _DAYS_PER_BLOCK)
    )
    attrs = {"sources": str(path), "synthetic": int(synthetic)}
    digest = land_digest(land_index, mask.shape)
    return write_part(
        out, variable, regridder, blocks, land_values.shape[0], digest, attrs, params, inputs
    )


def prepare_isimip_year(
    isimip_dir: Path,
    gcm: str,
    ssp: str,
    year: int,
    target_res_deg: float,
    out_dir: Path,
    cache_dir: Path | None = None,
) -> Path:
    """Write (or reuse) ``out_dir/met_<year>.nc`` for one scenario year."""
    out_dir = Path(out_dir)
    out = out_dir / met_filename(year)
    params = model_params(target_res_deg, "daily", year, _source(gcm, ssp))
    inputs = fingerprint(_files(isimip_dir, gcm, ssp, year).values())
    if is_complete(out, params, inputs):
        return out
    clean_year(out_dir, year)
    cache = default_cache(out_dir, cache_dir)
    work = work_dir(out_dir, year)
    parts = {
        v: prepare_isimip_variable_year(isimip_dir, gcm, ssp, year, v, target_res_deg, work, cache)
        for v in MODEL_VARIABLE_NAMES
    }
    path = assemble_year(year, parts, out_dir, "daily", params, inputs, _source(gcm, ssp))
    shutil.rmtree(work, ignore_errors=True)
    return path


def _variable_task(
    isimip_dir: str,
    gcm: str,
    ssp: str,
    year: int,
    variable: str,
    target_res_deg: float,
    work: str,
    cache: str,
) -> str:
    return str(
        prepare_isimip_variable_year(
            Path(isimip_dir), gcm, ssp, year, variable, target_res_deg, Path(work), Path(cache)
        )
    )


def prepare_isimip_years(
    isimip_dir: Path,
    gcm: str,
    ssp: str,
    years: Iterable[int],
    target_res_deg: float,
    out_dir: Path,
    cache_dir: Path | None = None,
    cluster: ClusterSpec | Mapping[str, Any] | None = None,
    client: Any = None,
) -> list[Path]:
    """Scenario years on a dask cluster (one task per variable-year), like ``prepare_years``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    years = sorted(set(int(y) for y in years))
    cache = default_cache(out_dir, cache_dir)
    plans = {
        y: (
            model_params(target_res_deg, "daily", y, _source(gcm, ssp)),
            fingerprint(_files(isimip_dir, gcm, ssp, y).values()),
        )
        for y in years
    }
    todo = [y for y in years if not is_complete(out_dir / met_filename(y), *plans[y])]
    if todo:
        for y in todo:
            clean_year(out_dir, y)

        def task_args(year: int, variable: str) -> tuple:
            work = work_dir(out_dir, year)
            return (
                str(isimip_dir),
                gcm,
                ssp,
                year,
                variable,
                target_res_deg,
                str(work),
                str(cache),
            )

        todo_plans = {y: plans[y] for y in todo}
        source = _source(gcm, ssp)
        if client is not None:
            run_year_tasks(
                client, todo, _variable_task, task_args, out_dir, "daily", todo_plans, source
            )
        else:
            with dask_client(cluster) as own:
                run_year_tasks(
                    own, todo, _variable_task, task_args, out_dir, "daily", todo_plans, source
                )
    return [out_dir / met_filename(y) for y in years]
