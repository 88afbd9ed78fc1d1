"""Model-ready forcing from CRU-JRA v2.5: the forcing stage's main entry points.

Contract:

* :func:`prepare_variable_year` is one task: it streams the CRU-JRA file(s) one model
  variable needs (sfcWind reads ugrd and vgrd; huss also reads tmax and pres to check it stays
  below saturation) in blocks of whole days, checks every block, aggregates to the model step,
  regrids conservatively to the target grid (land-only averages) and writes a part file
  (:mod:`forcing.parts`). Memory is bounded by the block size and one target-grid
  variable-year, whatever the number of years.
* :func:`prepare_year` does one year in this process; :func:`prepare_years` fans the nine
  variable-year tasks of every year out over a dask cluster (:mod:`forcing.cluster`) and
  assembles each year into ``met_<YYYY>.nc`` as soon as its parts exist.
* Idempotent: a year whose ``met_<YYYY>.nc`` matches its manifest (checksum, parameters, input
  fingerprint) is skipped; anything partial or stale is redone. Before any work, every input's
  header is checked; a bad value found while streaming stops the year with a
  :class:`ForcingError` naming file, variable, value and place, and no ``met_<YYYY>.nc`` is
  written for it.
"""

from __future__ import annotations

import importlib.metadata
import logging
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forcing.aggregate import Step, model_values
from forcing.checks import check_below_saturation
from forcing.cluster import ClusterSpec, dask_client
from forcing.conventions import (
    CRUJRA_VARIABLES,
    MODEL_VARIABLE_NAMES,
    MODEL_VARIABLES,
    STEPS_PER_DAY,
)
from forcing.crujra import CrujraReader, check_year_headers, crujra_path
from forcing.errors import ForcingError
from forcing.landregrid import LandRegridder
from forcing.manifest import fingerprint, is_complete
from forcing.modelready import MODEL_READY_LAYOUT, check_model_ready, met_filename
from forcing.parts import (
    assemble_year,
    clean_year,
    land_digest,
    part_path,
    run_year_tasks,
    work_dir,
    write_part,
)

__all__ = [
    "check_model_ready",
    "prepare_variable_year",
    "prepare_year",
    "prepare_years",
]

logger = logging.getLogger(__name__)

STEPS_PER_BLOCK = 16 * STEPS_PER_DAY
"""Steps read per block: 16 days of 6-hourly data (66 MB raw per variable at 0.5 degree)."""
HUMIDITY_CHECK_SOURCES = ("tmax", "pres")
CACHE_DIR = ".cache"
SOURCE = "CRU-JRA v2.5 layout"


def software_version() -> str:
    try:
        return importlib.metadata.version("callmip-global")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source checkout
        return "unknown"


def task_sources(variable: str) -> tuple[str, ...]:
    """CRU-JRA variables a model-variable task reads (its sources plus check partners)."""
    sources = MODEL_VARIABLES[variable].sources
    if variable == "huss":
        sources = sources + HUMIDITY_CHECK_SOURCES
    return sources


def year_inputs(crujra_dir: Path, year: int) -> dict[str, Path]:
    """All ten CRU-JRA files of ``year`` (ForcingError naming the first missing one)."""
    return {v: crujra_path(crujra_dir, v, year) for v in CRUJRA_VARIABLES}


def model_params(target_res_deg: float, step: Step, year: int, source: str) -> dict[str, Any]:
    """The parameters that define a model-ready file (recorded in its manifest)."""
    return {
        "layout": MODEL_READY_LAYOUT,
        "source": source,
        "year": year,
        "target_res_deg": float(target_res_deg),
        "step": step,
        "regrid": "conservative, land-only average (regrid package)",
        "software": software_version(),
    }


def default_cache(out_dir: Path, cache_dir: Path | None) -> Path:
    return Path(cache_dir) if cache_dir is not None else Path(out_dir) / CACHE_DIR


# ------------------------------------------------------------------------------- task
def prepare_variable_year(
    crujra_dir: Path,
    year: int,
    variable: str,
    target_res_deg: float,
    work: Path,
    step: Step = "daily",
    cache_dir: Path | None = None,
    steps_per_block: int = STEPS_PER_BLOCK,
) -> Path:
    """One model variable of one year on the target grid: ``<work>/<var>_<year>.nc``."""
    if variable not in MODEL_VARIABLES:
        raise ValueError(f"unknown model variable {variable!r}; known {MODEL_VARIABLE_NAMES}")
    if steps_per_block % STEPS_PER_DAY:
        raise ValueError("steps_per_block must hold whole days (a multiple of 4)")
    out = part_path(work, variable, year)
    sources = task_sources(variable)
    files = {v: crujra_path(crujra_dir, v, year) for v in sources}
    params = {**model_params(target_res_deg, step, year, SOURCE), "variable": variable}
    inputs = fingerprint(files.values())
    if is_complete(out, params, inputs):
        logger.info("%s is complete, skipping", out)
        return out
    with ExitStack() as stack:
        readers = {
            v: stack.enter_context(CrujraReader(files[v], v, year, cache_dir=cache_dir))
            for v in sources
        }
        first = readers[sources[0]]
        for v, r in readers.items():
            _same_grid_and_mask(first, r, v)
        regridder = LandRegridder(first.lat, first.lon, first.land_index, target_res_deg, cache_dir)
        nt_out = first.shape[0] // STEPS_PER_DAY if step == "daily" else first.shape[0]
        attrs = {
            "sources": " ".join(str(files[v]) for v in MODEL_VARIABLES[variable].sources),
            "synthetic": int("SYNTHETIC" in first.comment),
        }
        blocks = _model_blocks(variable, readers, step, steps_per_block)
        digest = land_digest(first.land_index, first.shape[1:])
        return write_part(out, variable, regridder, blocks, nt_out, digest, attrs, params, inputs)


def _model_blocks(
    variable: str, readers: Mapping[str, CrujraReader], step: Step, steps_per_block: int
) -> Iterator[np.ndarray]:
    """Checked, aggregated land blocks of ``variable`` in model units."""
    names = list(readers)
    spec = MODEL_VARIABLES[variable]
    streams = [readers[v].blocks(steps_per_block) for v in names]
    for blocks in zip(*streams, strict=True):
        t0 = blocks[0][0]
        data = {v: b[1] for v, b in zip(names, blocks, strict=True)}
        if variable == "huss":
            spfh = readers["spfh"]
            check_below_saturation(
                data["spfh"], data["tmax"], data["pres"], spfh.land_index, t0, spfh.locator
            )
        yield model_values(variable, {v: data[v] for v in spec.sources}, step)


def _same_grid_and_mask(ref: CrujraReader, other: CrujraReader, variable: str) -> None:
    if ref.lat.shape != other.lat.shape or not (
        np.allclose(ref.lat, other.lat) and np.allclose(ref.lon, other.lon)
    ):
        raise ForcingError(other.path, variable, f"grid differs from {ref.path.name}'s")
    if not np.array_equal(ref.land_index, other.land_index):
        diff = np.setxor1d(ref.land_index, other.land_index)
        raise ForcingError(
            other.path,
            variable,
            f"land mask differs from {ref.variable}'s ({diff.size} cells)",
            where=ref.locator.where(0, int(diff[0])),
        )


# ------------------------------------------------------------------------------- drivers
def _year_plan(
    crujra_dir: Path, year: int, target_res_deg: float, step: Step
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Path]]:
    files = year_inputs(crujra_dir, year)
    return model_params(target_res_deg, step, year, SOURCE), fingerprint(files.values()), files


def prepare_year(
    crujra_dir: Path,
    year: int,
    target_res_deg: float,
    out_dir: Path,
    step: Step = "daily",
    cache_dir: Path | None = None,
) -> Path:
    """Write (or reuse) ``out_dir/met_<year>.nc`` from the CRU-JRA files in ``crujra_dir``."""
    out_dir = Path(out_dir)
    out = out_dir / met_filename(year)
    params, inputs, files = _year_plan(crujra_dir, year, target_res_deg, step)
    if is_complete(out, params, inputs):
        logger.info("%s is complete, skipping", out)
        return out
    clean_year(out_dir, year)
    check_year_headers(files, year)
    cache = default_cache(out_dir, cache_dir)
    work = work_dir(out_dir, year)
    parts = {
        v: prepare_variable_year(crujra_dir, year, v, target_res_deg, work, step, cache)
        for v in MODEL_VARIABLE_NAMES
    }
    path = assemble_year(year, parts, out_dir, step, params, inputs, SOURCE)
    shutil.rmtree(work, ignore_errors=True)
    return path


def _variable_task(
    crujra_dir: str,
    year: int,
    variable: str,
    target_res_deg: float,
    work: str,
    step: Step,
    cache: str,
) -> str:
    path = prepare_variable_year(
        Path(crujra_dir), year, variable, target_res_deg, Path(work), step, Path(cache)
    )
    return str(path)


@dataclass(frozen=True)
class YearsPlan:
    """The years to prepare and what each is made from, their inputs already pre-flighted.

    Made by :func:`plan_years` and carried out by :func:`prepare_planned`, so a caller that
    had to know the years first (to start other work only when the weather's inputs are sound)
    does not plan and check them a second time."""

    crujra_dir: Path
    years: tuple[int, ...]
    target_res_deg: float
    out_dir: Path
    step: Step
    #: year -> (model parameters, input fingerprint, input files)
    plans: Mapping[int, tuple]
    #: the years to (re)write: missing, or made from other inputs or parameters
    todo: tuple[int, ...]


def plan_years(
    crujra_dir: Path, years: Iterable[int], target_res_deg: float, out_dir: Path,
    step: Step = "daily",
) -> YearsPlan:
    """Plan the years and pre-flight the inputs of those to (re)write: header and first step
    of every file (a :class:`ForcingError` names the first bad one)."""
    years = sorted(set(int(y) for y in years))
    plans = {y: _year_plan(crujra_dir, y, target_res_deg, step) for y in years}
    todo = _todo(plans, Path(out_dir))
    for y in todo:
        check_year_headers(plans[y][2], y)
    return YearsPlan(Path(crujra_dir), tuple(years), float(target_res_deg), Path(out_dir), step,
                     plans, tuple(todo))


def prepare_years(
    crujra_dir: Path,
    years: Iterable[int],
    target_res_deg: float,
    out_dir: Path,
    step: Step = "daily",
    cache_dir: Path | None = None,
    cluster: ClusterSpec | Mapping[str, Any] | None = None,
    client: Any = None,
) -> list[Path]:
    """Prepare many years on a dask cluster: one task per variable-year, one assembly per year.

    ``cluster`` is a :class:`ClusterSpec` or profile mapping (default: a LocalCluster with one
    worker per core); pass ``client`` to use an existing ``distributed.Client`` instead. All
    inputs' headers are checked before any work starts (:func:`plan_years`); the first failing
    task cancels the rest and its :class:`ForcingError` is raised. Returns the
    ``met_<YYYY>.nc`` paths in year order.
    """
    plan = plan_years(crujra_dir, years, target_res_deg, out_dir, step)
    return prepare_planned(plan, cache_dir, cluster, client)


def prepare_planned(
    plan: YearsPlan,
    cache_dir: Path | None = None,
    cluster: ClusterSpec | Mapping[str, Any] | None = None,
    client: Any = None,
) -> list[Path]:
    """:func:`prepare_years` of a plan already made (its inputs already checked)."""
    crujra_dir, target_res_deg, out_dir, step = (plan.crujra_dir, plan.target_res_deg,
                                                 plan.out_dir, plan.step)
    out_dir.mkdir(parents=True, exist_ok=True)
    years, plans, todo = plan.years, plan.plans, list(plan.todo)
    cache = default_cache(out_dir, cache_dir)
    logger.info("forcing: %d of %d years to prepare", len(todo), len(years))
    if not todo:
        return [out_dir / met_filename(y) for y in years]
    for y in todo:
        clean_year(out_dir, y)
    _warm_weights_cache(plans[todo[0]][2]["tmp"], target_res_deg, cache)

    def task_args(year: int, variable: str) -> tuple:
        work = work_dir(out_dir, year)
        return (str(crujra_dir), year, variable, target_res_deg, str(work), step, str(cache))

    year_plans = {y: plans[y][:2] for y in todo}
    if client is not None:
        run_year_tasks(client, todo, _variable_task, task_args, out_dir, step, year_plans, SOURCE)
    else:
        with dask_client(cluster) as own:
            run_year_tasks(own, todo, _variable_task, task_args, out_dir, step, year_plans, SOURCE)
    return [out_dir / met_filename(y) for y in years]


def _todo(plans: Mapping[int, tuple], out_dir: Path) -> list[int]:
    return [y for y, plan in plans.items() if not is_complete(out_dir / met_filename(y), *plan[:2])]


def _warm_weights_cache(tmp_file: Path, target_res_deg: float, cache: Path) -> None:
    """Build the regridding weights once here, so workers only load them from the cache."""
    with CrujraReader(tmp_file, "tmp", cache_dir=cache) as reader:
        LandRegridder(reader.lat, reader.lon, reader.land_index, target_res_deg, cache)
