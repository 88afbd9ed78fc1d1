"""CELM's calibratable parameters: the table, the JSON parameter file, and the kernel's view.

Contract:
- :data:`PARAMETERS` is the table (name, units, prior default, lower, upper bound, description).
- A parameter file is JSON ``{"model": "celm", "kind": "prior"|"posterior", "values": {name:
  value}, "ensemble": {"names": [...], "members": [[...], ...]}}``; ``ensemble`` is optional
  (CalLMIP asks for posterior uncertainty, so a posterior may carry an ensemble of parameter
  vectors). Optional keys ``description`` and ``parameters`` (the table, written by
  :func:`write_prior` for readers) are accepted and ignored. Names missing from ``values`` take the
  prior default; unknown names, non-numeric values or values outside the bounds raise
  :class:`~celm.errors.CelmInputError` naming the parameter and its bounds.
- :func:`load_params` returns a plain ``dict`` of all parameter values (with an ensemble member's
  values overriding ``values`` when ``member`` is given); :func:`kernel_params` turns it into
  the immutable :class:`KernelParams` the numba kernel reads (daily rates, derived fractions).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

from celm.constants import DAYS_PER_YEAR, TOP_AVAILABLE, WP_PER_AVAILABLE
from celm.errors import CelmInputError


@dataclass(frozen=True)
class ParamSpec:
    """One calibratable parameter; ``default`` is the prior value."""

    name: str
    units: str
    default: float
    lower: float
    upper: float
    description: str


PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("kphio", "mol C mol-1", 0.087182, 0.03, 0.15,
              "intrinsic quantum yield (P-model phi0 with temperature and soil-moisture dependence;"
              " Stocker et al. 2020)"),
    ParamSpec("beta_unitcost", "1", 146.0, 50.0, 400.0,
              "ratio of unit costs of carboxylation and transpiration (P-model beta)"),
    ParamSpec("theta_star", "1", 0.4, 0.2, 0.9,
              "relative available soil water below which GPP and conductance decline linearly"),
    ParamSpec("f_auto", "1", 0.5, 0.3, 0.7, "autotrophic respiration as a fraction of GPP"),
    ParamSpec("alloc_leaf", "1", 0.25, 0.05, 0.5, "fraction of NPP allocated to foliage"),
    ParamSpec("alloc_root", "1", 0.25, 0.05, 0.5, "fraction of NPP allocated to fine roots"),
    ParamSpec("alloc_labile", "1", 0.2, 0.01, 0.3,
              "fraction of NPP allocated to the labile store (released to foliage by the GSI)"),
    ParamSpec("sla", "m2 gC-1", 0.015, 0.005, 0.05, "specific leaf area (LAI per foliage carbon)"),
    ParamSpec("leaf_lifespan", "yr", 1.5, 0.3, 6.0,
              "leaf lifespan without phenological leaf fall"),
    ParamSpec("tau_root", "yr", 1.5, 0.3, 10.0, "fine-root turnover time"),
    ParamSpec("tau_wood", "yr", 50.0, 5.0, 200.0, "wood turnover time"),
    ParamSpec("tau_litter", "yr", 1.5, 0.2, 10.0,
              "litter turnover time at 10 C and field capacity"),
    ParamSpec("tau_som", "yr", 40.0, 5.0, 400.0,
              "soil organic matter turnover time at 10 C and field capacity"),
    ParamSpec("q10", "1", 2.0, 1.2, 3.5, "temperature sensitivity of decomposition"),
    ParamSpec("f_humif", "1", 0.3, 0.05, 0.8,
              "fraction of decomposed litter carbon transferred to soil organic matter"),
    ParamSpec("soil_water_capacity", "mm", 200.0, 60.0, 600.0,
              "plant-available water capacity of the root zone (field capacity - wilting point)"),
    ParamSpec("r_soil", "s m-1", 300.0, 20.0, 1000.0,
              "soil surface resistance to evaporation of a wet top layer"),
)  # fmt: skip

PARAM_BY_NAME: dict[str, ParamSpec] = {p.name: p for p in PARAMETERS}
_ALLOC_NAMES = ("alloc_leaf", "alloc_root", "alloc_labile")
_MAX_ALLOC = 0.95  # leave at least 5% of NPP for wood
_KINDS = ("prior", "posterior")
_TOP_KEYS = {"model", "kind", "values", "ensemble", "description", "parameters"}


class KernelParams(NamedTuple):
    """Parameters as the kernel uses them (rates in d-1, derived quantities precomputed)."""

    kphio: float
    beta_unitcost: float
    theta_star: float
    f_auto: float
    alloc_leaf: float
    alloc_root: float
    alloc_labile: float
    alloc_wood: float
    sla: float
    k_leaf: float
    k_root: float
    k_wood: float
    k_litter: float
    k_som: float
    ln_q10: float
    f_humif: float
    soil_water_capacity: float
    w2_wp: float
    w2_fc: float
    g_soil_max: float


def defaults() -> dict[str, float]:
    """The prior parameter values."""
    return {p.name: p.default for p in PARAMETERS}


def validate_values(values: dict[str, Any], source: str | Path | None = None) -> dict[str, float]:
    """Complete ``values`` with defaults and check names, types, bounds and the allocation sum."""
    unknown = sorted(set(values) - set(PARAM_BY_NAME))
    if unknown:
        raise CelmInputError(
            source, unknown[0], f"unknown parameter(s) {unknown}; known: {sorted(PARAM_BY_NAME)}"
        )
    out = defaults()
    for name, raw in values.items():
        spec = PARAM_BY_NAME[name]
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise CelmInputError(source, name, f"value {raw!r} is not a number")
        value = float(raw)
        if not math.isfinite(value) or not spec.lower <= value <= spec.upper:
            raise CelmInputError(
                source,
                name,
                f"value {value} outside bounds [{spec.lower}, {spec.upper}] {spec.units}",
            )
        out[name] = value
    total = sum(out[n] for n in _ALLOC_NAMES)
    if total > _MAX_ALLOC:
        raise CelmInputError(
            source,
            "+".join(_ALLOC_NAMES),
            f"allocation fractions sum to {total:.4g} > {_MAX_ALLOC} (wood needs the rest)",
        )
    return out


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CelmInputError(path, None, "parameter file not found")
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CelmInputError(path, None, f"not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise CelmInputError(path, None, "top level must be a JSON object")
    return doc


def _check_document(doc: dict[str, Any], path: Path) -> None:
    extra = sorted(set(doc) - _TOP_KEYS)
    if extra:
        raise CelmInputError(path, extra[0], f"unknown key(s) {extra}; allowed {sorted(_TOP_KEYS)}")
    if doc.get("model", "celm") != "celm":
        raise CelmInputError(path, "model", f"is {doc['model']!r}, expected 'celm'")
    if doc.get("kind", "prior") not in _KINDS:
        raise CelmInputError(path, "kind", f"is {doc['kind']!r}, expected one of {_KINDS}")
    if not isinstance(doc.get("values", {}), dict):
        raise CelmInputError(path, "values", "must be an object {name: value}")


def _ensemble_members(doc: dict[str, Any], path: Path) -> tuple[list[str], list[list[Any]]]:
    ens = doc.get("ensemble")
    if ens is None:
        return [], []
    if not isinstance(ens, dict) or set(ens) != {"names", "members"}:
        raise CelmInputError(path, "ensemble", "must be {'names': [...], 'members': [[...], ...]}")
    names, members = ens["names"], ens["members"]
    if not isinstance(names, list) or not isinstance(members, list) or not members:
        raise CelmInputError(path, "ensemble", "needs a list of names and a non-empty member list")
    for i, row in enumerate(members):
        if not isinstance(row, list) or len(row) != len(names):
            raise CelmInputError(
                path, f"ensemble.members[{i}]", f"must be a list of {len(names)} numbers"
            )
    return names, members


def load_params(path: str | Path, member: int | None = None) -> dict[str, float]:
    """All parameter values from a CELM parameter file.

    ``member`` selects a posterior ensemble member (0-based); its values override ``values``.
    Every ensemble member is validated, so a bad member fails at load whichever one is used.
    """
    path = Path(path)
    doc = _read_json(path)
    _check_document(doc, path)
    base = doc.get("values", {})
    values = validate_values(base, path)
    names, members = _ensemble_members(doc, path)
    rows = []
    for i, row in enumerate(members):
        try:
            rows.append(validate_values({**base, **dict(zip(names, row, strict=True))}, path))
        except CelmInputError as exc:
            raise CelmInputError(path, f"ensemble member {i}: {exc.item}", exc.problem) from exc
    if member is None:
        return values
    if not rows:
        raise CelmInputError(
            path, "ensemble", f"member {member} requested but the file has no ensemble"
        )
    if not 0 <= member < len(rows):
        raise CelmInputError(
            path, "ensemble", f"member {member} requested but only {len(rows)} members (0-based)"
        )
    return rows[member]


def param_kind(path: str | Path) -> str:
    """The ``kind`` recorded in a parameter file (``prior`` when absent)."""
    return str(_read_json(Path(path)).get("kind", "prior"))


def _atomic_write_json(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def write_prior(path: str | Path) -> Path:
    """Write the prior parameter file (defaults, plus the table for human readers)."""
    doc = {
        "model": "celm",
        "kind": "prior",
        "description": "CELM prior: the default of every parameter",
        "values": defaults(),
        "parameters": [asdict(p) for p in PARAMETERS],
    }
    return _atomic_write_json(Path(path), doc)


def write_params(
    path: str | Path,
    values: dict[str, float],
    kind: str = "posterior",
    ensemble: list[dict[str, float]] | None = None,
) -> Path:
    """Write a parameter file (validated first), optionally with an ensemble of vectors."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    validate_values(values, path)
    doc: dict[str, Any] = {"model": "celm", "kind": kind, "values": dict(values)}
    if ensemble:
        names = sorted({n for m in ensemble for n in m})
        full = [validate_values({**values, **m}, path) for m in ensemble]
        doc["ensemble"] = {"names": names, "members": [[m[n] for n in names] for m in full]}
    return _atomic_write_json(Path(path), doc)


def kernel_params(values: dict[str, float]) -> KernelParams:
    """The kernel's parameter tuple from validated values (see :func:`validate_values`)."""
    v = validate_values(values)
    sub_available = v["soil_water_capacity"] - TOP_AVAILABLE
    w2_wp = WP_PER_AVAILABLE * sub_available
    per_day = 1.0 / DAYS_PER_YEAR
    return KernelParams(
        kphio=v["kphio"],
        beta_unitcost=v["beta_unitcost"],
        theta_star=v["theta_star"],
        f_auto=v["f_auto"],
        alloc_leaf=v["alloc_leaf"],
        alloc_root=v["alloc_root"],
        alloc_labile=v["alloc_labile"],
        alloc_wood=1.0 - v["alloc_leaf"] - v["alloc_root"] - v["alloc_labile"],
        sla=v["sla"],
        k_leaf=per_day / v["leaf_lifespan"],
        k_root=per_day / v["tau_root"],
        k_wood=per_day / v["tau_wood"],
        k_litter=per_day / v["tau_litter"],
        k_som=per_day / v["tau_som"],
        ln_q10=math.log(v["q10"]),
        f_humif=v["f_humif"],
        soil_water_capacity=v["soil_water_capacity"],
        w2_wp=w2_wp,
        w2_fc=w2_wp + sub_available,
        g_soil_max=1.0 / v["r_soil"],
    )



def posterior_demo_path() -> Path:
    """The shipped demonstration posterior (``celm/data/posterior_demo.json``)."""
    return Path(__file__).parent / "data" / "posterior_demo.json"
