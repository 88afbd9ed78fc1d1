"""Evaluate one campaign run directory with ESMValTool: layout, config, recipe, run.

Contract: :func:`prepare` writes everything ESMValTool needs under ``<run_dir>/esmvaltool/``
(``data/`` CMIP6 + OBS6 trees, ``config/``, the recipe, provenance tags) and works without the
optional extra; :func:`run_esmvaltool` then runs the recipe with ESMValCore (in a subprocess,
through :mod:`esmvaltool_bridge.launcher`) and returns where the outputs are. Missing extra ->
:class:`~esmvaltool_bridge.errors.ExtraMissingError`; ESMF scheme ->
:class:`~esmvaltool_bridge.errors.SchemeError` before anything is written; a failed run ->
:class:`~esmvaltool_bridge.errors.RecipeRunError` naming its log.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.catalog import load_catalog
from esmvaltool_bridge.errors import ExtraMissingError, LayoutError, RecipeRunError
from esmvaltool_bridge.esmvalconfig import write_config
from esmvaltool_bridge.layout import Layout, find_model_outputs, write_layout
from esmvaltool_bridge.recipe import (
    build_recipe,
    check_recipe_schemes,
    check_scheme,
    recipe_name,
    write_recipe,
)

logger = logging.getLogger(__name__)

WORKSPACE = "esmvaltool"
TABLE = "callmip_bias_rmse.csv"


@dataclass(frozen=True)
class Prepared:
    """What :func:`prepare` wrote."""

    workspace: Path
    recipe: Path
    config_dir: Path
    output_dir: Path
    layout: Layout


@dataclass(frozen=True)
class EsmvaltoolResult:
    """Outputs of one ``esmvaltool run``."""

    recipe: Path
    output_dir: Path  # <workspace>/output/<recipe>_<timestamp>
    table: Path
    plots: tuple[Path, ...]
    log: Path
    seconds: float


def require_esmvalcore() -> None:
    """Raise :class:`ExtraMissingError` unless ESMValCore is importable here."""
    try:
        spec = importlib.util.find_spec("esmvalcore")
    except (ImportError, ValueError):  # a broken or blocked installation counts as missing
        spec = None
    if spec is None:
        raise ExtraMissingError(
            "ESMValCore is not installed in this environment: install the optional extra "
            "with `uv sync --extra esmvaltool` (or `uv sync --all-extras`); the recipe and "
            "data layout can still be written with `callmip esmvaltool --prepare-only`"
        )


def _campaign_settings(run_dir: Path) -> dict:
    """Name, references and simulations of the campaign that made ``run_dir``."""
    path = run_dir / "campaign.yaml"
    if not path.is_file():
        raise LayoutError(f"{run_dir}: not a campaign run directory (no campaign.yaml)")
    raw = yaml.safe_load(path.read_text()) or {}
    from callmip.config import ReferencesConfig

    refs = ReferencesConfig.model_validate(raw.get("references") or {})
    sims = raw.get("simulations") or ["S3"]
    return {"name": raw.get("name", run_dir.name), "references": refs,
            "simulation": "S3" if "S3" in sims else sims[0]}


def prepare(
    run_dir: Path,
    *,
    scheme: str | dict = "area_weighted",
    variables: Sequence[str] | None = None,
) -> Prepared:
    """Write layout, configuration and recipe for ``run_dir``; see the module docstring."""
    check_scheme(scheme)
    run_dir = Path(run_dir).resolve()
    settings = _campaign_settings(run_dir)
    refs = settings["references"]
    workspace = run_dir / WORKSPACE
    catalog = load_catalog(refs.catalog, refs.ilamb_root)
    layout = write_layout(
        find_model_outputs(run_dir, settings["simulation"]),
        catalog,
        workspace / "data",
        list(variables or refs.variables),
        settings["simulation"],
    )
    output_dir = workspace / "output"
    config_dir = write_config(layout, workspace, output_dir)
    recipe = write_recipe(
        build_recipe(layout, campaign=settings["name"], scheme=scheme),
        workspace / recipe_name(settings["name"]),
    )
    logger.info("ESMValTool recipe %s (%d model datasets, %d references)", recipe,
                len(layout.models), len(layout.references))
    return Prepared(workspace, recipe, config_dir, output_dir, layout)


def _latest_output(output_dir: Path, recipe: Path, before: set[Path]) -> Path:
    stem = recipe.stem
    new = sorted(p for p in output_dir.glob(f"{stem}_*") if p.is_dir() and p not in before)
    if not new:
        raise RecipeRunError(f"esmvaltool wrote no output directory {output_dir}/{stem}_*")
    return new[-1]


def run_recipe(prepared: Prepared, *, timeout_s: float = 1800) -> EsmvaltoolResult:
    """Run the prepared recipe with ESMValCore; return its outputs."""
    require_esmvalcore()
    check_recipe_schemes(prepared.recipe)
    out = prepared.output_dir
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.glob("*"))
    cmd = [sys.executable, "-m", "esmvaltool_bridge.launcher", "run",
           f"--config_dir={prepared.config_dir}", str(prepared.recipe)]
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore::UserWarning:gribapi"}
    console = prepared.workspace / "esmvaltool_console.log"
    t0 = time.monotonic()
    with open(console, "w") as fh:
        # cwd: ESMValCore reads config-references.yml and references/ from there
        proc = subprocess.run(cmd, cwd=prepared.workspace, env=env, stdout=fh,
                              stderr=subprocess.STDOUT, timeout=timeout_s, check=False)
    seconds = time.monotonic() - t0
    try:
        result_dir = _latest_output(out, prepared.recipe, before)
    except RecipeRunError:
        result_dir = None
    log = result_dir / "run" / "main_log.txt" if result_dir else console
    if proc.returncode != 0 or result_dir is None:
        tail = "\n".join(console.read_text().splitlines()[-15:])
        raise RecipeRunError(
            f"esmvaltool run {prepared.recipe} failed (exit {proc.returncode}); see {log} "
            f"and {console}. Last lines:\n{tail}"
        )
    tables = sorted(result_dir.glob(f"work/**/{TABLE}"))
    if not tables:
        raise RecipeRunError(f"{result_dir}: the diagnostic wrote no {TABLE}; see {log}")
    plots = tuple(sorted(result_dir.glob("plots/**/*.png")))
    logger.info("ESMValTool finished in %.0f s: %s", seconds, result_dir)
    return EsmvaltoolResult(prepared.recipe, result_dir, tables[0], plots, log, seconds)


def run_esmvaltool(
    run_dir: Path,
    *,
    scheme: str | dict = "area_weighted",
    variables: Sequence[str] | None = None,
    timeout_s: float = 1800,
) -> EsmvaltoolResult:
    """Prepare and run the ESMValTool evaluation of one campaign run directory."""
    require_esmvalcore()
    return run_recipe(prepare(run_dir, scheme=scheme, variables=variables), timeout_s=timeout_s)
