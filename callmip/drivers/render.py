"""Render a model's namelist/parameter templates from validated values, and nothing else.

Templates are plain files under ``callmip/drivers/templates/<model>/`` with ``${name}``
placeholders (Python :class:`string.Template`). What goes into them is checked first, because a
rendered namelist or launch script is executed on an HPC system:

* parameter values (prior/posterior, from the campaign's parameter file) must be finite
  numbers, booleans, or lists of them, for names the model's prior declares, with the prior's
  shape: an unknown name or a string value is rejected, so a parameter file cannot inject
  namelist keys or shell text;
* paths are absolute, made of a conservative character set (no quotes, spaces, ``$``, ``;``,
  backticks, ...), and the ones a run writes (outputs, restarts) must lie inside the run's
  work directory;
* every placeholder must be filled and every rendered file is written atomically.
"""

from __future__ import annotations

import json
import math
import os
import re
import string
from collections.abc import Mapping
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./+-]*$")
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_.+-]{1,128}$")

ParamValue = float | int | bool | list[float] | list[int] | list[bool]


class RenderError(ValueError):
    """A value for a model's input files was rejected, or a template could not be filled."""


def safe_token(value: str, what: str) -> str:
    """A short word (case name, executable) with no shell or namelist metacharacters."""
    if not isinstance(value, str) or not _SAFE_TOKEN.match(value):
        raise RenderError(f"{what}={value!r}: only letters, digits and _ . + - are allowed")
    return value


def safe_path(path: Path | str, what: str, inside: Path | None = None) -> str:
    """An absolute path with safe characters; if ``inside`` is given, it must lie below it."""
    p = Path(path)
    if not p.is_absolute():
        raise RenderError(f"{what}={str(path)!r}: must be an absolute path")
    text = os.path.normpath(str(p))
    if not _SAFE_PATH.match(text):
        raise RenderError(
            f"{what}={str(path)!r}: path contains characters that are unsafe in a namelist or "
            "shell (allowed: letters, digits, / _ . + -)"
        )
    if inside is not None:
        root = os.path.normpath(str(Path(inside).resolve()))
        real = os.path.normpath(str(Path(text).resolve()))
        if real != root and not real.startswith(root + os.sep):
            raise RenderError(f"{what}={str(path)!r}: must be inside the run directory {root}")
    return text


def _check_number(name: str, value: object, like: object, source: str) -> None:
    if isinstance(like, bool):
        if not isinstance(value, bool):
            raise RenderError(f"{source}: parameter {name!r}={value!r} must be true/false")
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RenderError(f"{source}: parameter {name!r}={value!r} must be a number")
    if not math.isfinite(float(value)):
        raise RenderError(f"{source}: parameter {name!r}={value!r} is not finite")


def validate_params(
    params: Mapping[str, object], prior: Mapping[str, ParamValue], source: str
) -> dict[str, ParamValue]:
    """Prior values overridden by ``params``, after checking names, types and shapes."""
    out: dict[str, ParamValue] = dict(prior)
    for name, value in params.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise RenderError(f"{source}: parameter name {name!r} is not a valid identifier")
        if name not in prior:
            raise RenderError(
                f"{source}: unknown parameter {name!r}; this model's template declares "
                f"{sorted(prior)}"
            )
        like = prior[name]
        if isinstance(like, list):
            if not isinstance(value, list) or len(value) != len(like):
                raise RenderError(
                    f"{source}: parameter {name!r} must be a list of {len(like)} values "
                    "(one per PFT/layer as in the prior)"
                )
            for v in value:
                _check_number(name, v, like[0], source)
        else:
            _check_number(name, value, like, source)
        out[name] = value  # type: ignore[assignment]
    return out


#: keys of a structured parameter document besides ``values`` and ``ensemble`` (ignored)
_DOC_KEYS = {"model", "kind", "description", "parameters"}


def load_params(
    params_file: Path, prior: Mapping[str, ParamValue], member: int | None = None
) -> dict[str, ParamValue]:
    """Read a JSON parameter file and validate it against ``prior``.

    Two layouts are accepted: a flat ``{name: value}`` object, or the structured document
    every driver shares with the embedded model, ``{"values": {name: value}, "ensemble":
    {"names": [...], "members": [[...], ...]}}`` (plus optional ``model``, ``kind``,
    ``description``, ``parameters``). ``member`` (0-based) selects a posterior ensemble
    member, whose values override ``values``; every member is validated whichever is used.
    """
    try:
        doc = json.loads(Path(params_file).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RenderError(f"{params_file}: cannot read parameter file: {exc}") from exc
    if not isinstance(doc, dict):
        raise RenderError(f"{params_file}: parameter file must hold a JSON object")
    source = str(params_file)
    if "values" not in doc and "ensemble" not in doc:
        if member is not None:
            raise RenderError(f"{source}: ensemble member {member} requested but the file has "
                              "no ensemble (use {\"values\": ..., \"ensemble\": ...})")
        return validate_params(doc, prior, source)
    extra = sorted(set(doc) - _DOC_KEYS - {"values", "ensemble"})
    if extra:
        raise RenderError(f"{source}: unknown key(s) {extra} in a parameter document")
    values = doc.get("values", {})
    if not isinstance(values, dict):
        raise RenderError(f"{source}: 'values' must be an object {{name: value}}")
    central = validate_params(values, prior, source)
    members = _ensemble(doc.get("ensemble"), source)
    rows = [validate_params({**values, **row}, prior, f"{source} ensemble member {i}")
            for i, row in enumerate(members)]
    if member is None:
        return central
    if not 0 <= member < len(rows):
        raise RenderError(f"{source}: ensemble member {member} requested but the file has "
                          f"{len(rows)} members (0-based)")
    return rows[member]


def _ensemble(ens: object, source: str) -> list[dict[str, object]]:
    """The members of an ``ensemble`` entry as {name: value} dicts (empty when absent)."""
    if ens is None:
        return []
    if not isinstance(ens, dict) or set(ens) != {"names", "members"}:
        raise RenderError(f"{source}: 'ensemble' must be {{'names': [...], 'members': [[...]]}}")
    names, members = ens["names"], ens["members"]
    if not isinstance(names, list) or not isinstance(members, list) or not members:
        raise RenderError(f"{source}: 'ensemble' needs a list of names and a non-empty list "
                          "of members")
    out = []
    for i, row in enumerate(members):
        if not isinstance(row, list) or len(row) != len(names):
            raise RenderError(f"{source}: ensemble member {i} must list {len(names)} values "
                              f"({', '.join(map(str, names))})")
        out.append(dict(zip(names, row, strict=True)))
    return out


def read_prior(model: str) -> dict[str, ParamValue]:
    """The model's prior (default) parameter values shipped with its templates."""
    return json.loads((TEMPLATES / model / "prior.json").read_text())


def fortran(value: ParamValue | str) -> str:
    """A value in Fortran namelist syntax (lists comma-separated, strings quoted)."""
    if isinstance(value, bool):
        return ".true." if value else ".false."
    if isinstance(value, list):
        return ", ".join(fortran(v) for v in value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return f"'{value}'"


def render(model: str, template: str, values: Mapping[str, str]) -> str:
    """Fill ``templates/<model>/<template>``; every placeholder must be given."""
    text = (TEMPLATES / model / template).read_text()
    try:
        return string.Template(text).substitute(values)
    except (KeyError, ValueError) as exc:
        raise RenderError(f"template {model}/{template}: no value for placeholder {exc}") from exc
