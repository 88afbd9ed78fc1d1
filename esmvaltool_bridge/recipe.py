"""Build the ESMValTool recipe of a campaign, refusing regridding schemes that need ESMF.

Contract: :func:`build_recipe` turns a :class:`~esmvaltool_bridge.layout.Layout` into a recipe
(a plain dict, written by :func:`write_recipe`) with, per reference product, three variable
groups that share one regridding step (to the reference's grid) and a common mask
(``mask_multimodel``: only cells valid in every dataset count, as in our benchmark):

* ``<var>_<product>_global``: ``climate_statistics`` (period mean, month-length weighted) then
  ``area_statistics`` (area-weighted mean): the bias table;
* ``<var>_<product>_map``: the period-mean maps: bias maps and plots;
* ``<var>_<product>_cycle``: the mean annual cycle per cell: the RMSE table (ILAMB's RMSE on
  the climatology, ``rmse_score_basis = 'cycle'``).

:func:`check_scheme` runs before anything is written: ESMValCore's ESMF schemes (``esmf_*``,
``ESMPy*``, ``IrisESMFRegrid``, ``esmf_regrid.*``) need ``esmpy``, which is not installed
with the extra; asking for one raises :class:`~esmvaltool_bridge.errors.SchemeError` naming
the scheme and the ones that work, unless a real ``esmpy`` is importable.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import yaml

from callmip import atomic
from esmvaltool_bridge.errors import LayoutError, SchemeError
from esmvaltool_bridge.layout import Layout

#: ESMValCore built-in schemes that work without ESMF (iris/scipy implementations).
NO_ESMF_SCHEMES = ("area_weighted", "linear", "nearest")
#: Names that mean ESMF (ESMValCore's esmpy-based and iris-esmf-regrid schemes).
ESMF_MARKERS = ("esmf", "esmpy", "irisesmfregrid")

DIAGNOSTIC_SCRIPT = Path(__file__).resolve().parent / "diag" / "callmip_bias.py"
AUTHOR = "callmip_global"


def esmpy_available() -> bool:
    """True when a real ``esmpy`` (or the pre-8.4 ``ESMF`` module) can be imported."""
    return any(importlib.util.find_spec(m) is not None for m in ("esmpy", "ESMF"))


def _scheme_text(scheme: str | dict) -> str:
    if isinstance(scheme, dict):
        return " ".join(str(v) for v in scheme.values())
    return str(scheme)


def needs_esmf(scheme: str | dict) -> bool:
    """True when the scheme (a name or an ESMValCore generic-scheme dict) uses ESMF."""
    text = _scheme_text(scheme).lower().replace("_", "").replace(".", "")
    return any(marker in text for marker in ESMF_MARKERS)


def check_scheme(scheme: str | dict) -> str | dict:
    """Return ``scheme`` if this machine can run it, else raise :class:`SchemeError`."""
    if needs_esmf(scheme):
        if esmpy_available():
            return scheme
        raise SchemeError(
            f"regridding scheme {scheme!r} needs ESMF (the esmpy package), which is not "
            f"installed: the 'esmvaltool' extra installs ESMValCore without it. Use one of "
            f"{', '.join(NO_ESMF_SCHEMES)} (area_weighted is conservative, as our benchmark), "
            "or install ESMF/esmpy (e.g. from conda-forge) into this environment"
        )
    if isinstance(scheme, dict):
        if "reference" not in scheme:
            raise SchemeError(
                f"regridding scheme {scheme!r}: a generic scheme needs a 'reference' "
                "(module:callable), see ESMValCore's regrid preprocessor"
            )
        return scheme
    if scheme not in NO_ESMF_SCHEMES:
        raise SchemeError(
            f"unknown regridding scheme {scheme!r}; use one of {', '.join(NO_ESMF_SCHEMES)}"
        )
    return scheme


def check_recipe_schemes(path: Path) -> None:
    """Check every ``regrid`` step of a recipe file (it may have been edited by hand)."""
    path = Path(path)
    try:
        recipe = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SchemeError(f"recipe {path} cannot be read: {exc}") from exc
    for name, steps in (recipe.get("preprocessors") or {}).items():
        regrid = (steps or {}).get("regrid")
        if isinstance(regrid, dict) and "scheme" in regrid:
            try:
                check_scheme(regrid["scheme"])
            except SchemeError as exc:
                raise SchemeError(f"recipe {path}, preprocessor {name!r}: {exc}") from None


def recipe_name(campaign: str) -> str:
    """File name of the campaign's recipe (ESMValTool names output dirs after it)."""
    safe = "".join(c if c.isalnum() else "_" for c in campaign)
    return f"recipe_callmip_{safe}.yml"


def build_recipe(
    layout: Layout,
    *,
    campaign: str,
    scheme: str | dict = "area_weighted",
    diagnostic_script: Path = DIAGNOSTIC_SCRIPT,
) -> dict[str, Any]:
    """The recipe as a dict; see the module docstring."""
    scheme = check_scheme(scheme)
    preprocessors: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    references = sorted({ref.obs6.reference for ref in layout.references if ref.obs6.reference})
    for ref in layout.references:
        models = [m for m in layout.models if ref.variable in m.variables]
        first = max(ref.years[0], *(m.years[0] for m in models)) if models else ref.years[0]
        last = min(ref.years[1], *(m.years[1] for m in models)) if models else ref.years[1]
        if not models or first > last:
            continue
        key = f"{ref.variable}_{ref.obs6.dataset}"
        regrid = {"target_grid": ref.obs6.dataset, "scheme": scheme}
        preprocessors[f"{key}_global"] = {
            "regrid": regrid,
            "mask_multimodel": {},
            "climate_statistics": {"operator": "mean", "period": "full"},
            "area_statistics": {"operator": "mean"},
        }
        preprocessors[f"{key}_map"] = {
            "regrid": regrid,
            "mask_multimodel": {},
            "climate_statistics": {"operator": "mean", "period": "full"},
        }
        preprocessors[f"{key}_cycle"] = {
            "regrid": regrid,
            "mask_multimodel": {},
            "climate_statistics": {"operator": "mean", "period": "month"},
        }
        datasets = [
            {"dataset": ref.obs6.dataset, "project": "OBS6", "type": ref.obs6.type,
             "version": ref.obs6.version, "tier": ref.obs6.tier, "alias": ref.product,
             "callmip_role": "reference"}
        ] + [
            {"dataset": m.dataset, "project": "CMIP6", "exp": m.exp, "ensemble": m.ensemble,
             "grid": "gn", "alias": m.alias, "callmip_model": m.model, "callmip_stage": m.stage,
             "callmip_role": "model"}
            for m in models
        ]
        for kind in ("global", "map", "cycle"):
            variables[f"{key}_{kind}"] = {
                "short_name": ref.variable,
                "mip": "Amon",
                "timerange": f"{first:04d}/{last:04d}",
                "preprocessor": f"{key}_{kind}",
                "reference_dataset": ref.obs6.dataset,
                "callmip_product": ref.product,
                "additional_datasets": datasets,
            }
    if not variables:
        raise LayoutError(
            "no reference product overlaps the model years "
            f"(models {[m.years for m in layout.models]}, references "
            f"{[(r.product, r.years) for r in layout.references]}); nothing to evaluate"
        )
    return {
        "documentation": {
            "title": f"CalLMIP campaign {campaign}: bias and RMSE against reference products",
            "description": (
                "Written by callmip-global for one campaign run directory. Model outputs "
                "(CalLMIP files, both calibration stages) and reference products are regridded "
                "to the reference grid, masked to the cells valid in every dataset, averaged in "
                "time (month lengths) and over the area; the diagnostic writes the bias and "
                "RMSE tables of the ILAMB-style benchmark (same definitions), maps and "
                "provenance."
            ),
            "authors": [AUTHOR],
            "references": references,
        },
        "preprocessors": preprocessors,
        "diagnostics": {
            "callmip_benchmark": {
                "description": "Bias and RMSE of every model and stage per reference product",
                "variables": variables,
                "scripts": {
                    "bias_rmse": {
                        "script": str(diagnostic_script),
                        "campaign": campaign,
                    }
                },
            }
        },
    }


class _PlainDumper(yaml.SafeDumper):
    """No YAML anchors/aliases: the recipe stays readable and editable group by group."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_recipe(recipe: dict[str, Any], path: Path) -> Path:
    """Write the recipe YAML atomically."""
    path = Path(path)
    with atomic.atomic_path(path) as tmp, tmp.open("w") as fh:
        fh.write("# ESMValTool recipe written by callmip-global (esmvaltool_bridge)\n")
        yaml.dump(recipe, fh, Dumper=_PlainDumper, sort_keys=False, width=100)
    return path
