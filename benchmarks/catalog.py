"""Reference catalog: which products exist, where, and how to compare against them.

Contract: :func:`load_catalog` parses ``configs/references.yaml`` into typed entries (a typo in
a key is an error, not a silent default) and resolves each entry against an ILAMB_ROOT-style
tree (``DATA/<var>/<product>/<file>.nc``) or obs4MIPs-named files
(``<variable_id>_<frequency>_<source_id>_*.nc`` anywhere below the root). A product whose
files are missing, lack the declared variable, carry units that cannot be converted to the
model's, or do not cover the declared period is *not* an error: it comes back with
``status != 'available'`` and a ``skip_reason`` the report prints. Only a malformed config
raises :class:`~benchmarks.errors.CatalogError`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import netCDF4
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from benchmarks.errors import CatalogError, UnitError
from benchmarks.units import canonical, convertible
from benchmarks.variables import known_variable, semantic_units

logger = logging.getLogger(__name__)

Status = Literal["available", "missing", "invalid"]


class _ProductEntry(BaseModel):
    """One product as written in the YAML file."""

    model_config = ConfigDict(extra="forbid")

    variable: str
    product: str
    layout: Literal["ilamb", "obs4mips"] = "ilamb"
    source: str | None = None
    source_id: str | None = None
    frequency: str = "mon"
    file_variable: str
    units: str | None = None
    display_units: str | None = None
    period: tuple[int, int]
    weight: float = Field(default=1.0, gt=0)
    citation: str
    mass_weighting: bool | None = None
    skip_analyses: list[str] | None = None

    @field_validator("variable")
    @classmethod
    def _known(cls, value: str) -> str:
        if not known_variable(value):
            raise ValueError(f"{value!r} is neither a CalLMIP variable nor a derived one")
        return value

    @field_validator("period")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[0] > value[1]:
            raise ValueError(f"period {value} ends before it starts")
        return value


class _Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mass_weighting: bool = True
    skip_analyses: list[str] = Field(default_factory=list)


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: _Defaults = Field(default_factory=_Defaults)
    products: list[_ProductEntry]


@dataclass(frozen=True)
class ReferenceProduct:
    """A reference product resolved against a data root."""

    variable: str
    product: str
    paths: tuple[Path, ...]
    file_variable: str
    units: str | None
    display_units: str
    period: tuple[int, int]
    weight: float
    citation: str
    layout: str = "ilamb"
    mass_weighting: bool = True
    skip_analyses: tuple[str, ...] = ()
    status: Status = "available"
    skip_reason: str | None = None
    pattern: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.status == "available"

    @property
    def key(self) -> str:
        return f"{self.variable}/{self.product}"


def _resolve_paths(entry: _ProductEntry, root: Path) -> tuple[str, list[Path]]:
    if entry.layout == "ilamb":
        if not entry.source:
            raise CatalogError(f"{entry.variable}/{entry.product}: layout 'ilamb' needs 'source'")
        pattern = entry.source
        return pattern, sorted(root.glob(pattern))
    if not entry.source_id:
        raise CatalogError(f"{entry.variable}/{entry.product}: layout 'obs4mips' needs 'source_id'")
    pattern = f"**/{entry.file_variable}_{entry.frequency}_{entry.source_id}_*.nc"
    return pattern, sorted(root.glob(pattern))


def _file_years(ds: netCDF4.Dataset) -> tuple[int, int] | None:
    if "time" not in ds.variables:
        return None
    t = ds.variables["time"]
    calendar = getattr(t, "calendar", "standard")
    values = t[:]
    if len(values) == 0:
        return None
    dates = netCDF4.num2date([values.min(), values.max()], t.units, calendar)
    return dates[0].year, dates[1].year


def _inspect(entry: _ProductEntry, paths: list[Path]) -> tuple[Status, str | None, str | None]:
    """Check the files against the entry; return status, reason and the file's units."""
    target = semantic_units(entry.variable)
    file_units: str | None = None
    years: list[tuple[int, int]] = []
    for path in paths:
        try:
            with netCDF4.Dataset(path) as ds:
                if entry.file_variable not in ds.variables:
                    names = ", ".join(sorted(ds.variables))
                    return (
                        "invalid",
                        f"{path}: variable {entry.file_variable!r} not found (has: {names})",
                        None,
                    )
                file_units = getattr(ds.variables[entry.file_variable], "units", None)
                span = _file_years(ds)
                if span:
                    years.append(span)
        except OSError as exc:
            return "invalid", f"{path}: not a readable NetCDF file ({exc})", None
    units = entry.units or file_units
    if units is None:
        return "invalid", f"{paths[0]}: {entry.file_variable!r} has no units attribute", None
    try:
        canonical(units)
    except UnitError as exc:
        return "invalid", f"{paths[0]}: {exc}", None
    if not convertible(units, target):
        return (
            "invalid",
            f"{paths[0]}: units {units!r} cannot be converted to {target!r} "
            f"(model variable {entry.variable})",
            None,
        )
    if years:
        first, last = min(y[0] for y in years), max(y[1] for y in years)
        if last < entry.period[0] or first > entry.period[1]:
            return (
                "invalid",
                f"{paths[0]}: data cover {first}-{last}, outside the declared period "
                f"{entry.period[0]}-{entry.period[1]}",
                None,
            )
    return "available", None, units


def load_catalog(config_path: Path, ilamb_root: Path) -> list[ReferenceProduct]:
    """Parse the catalog config and resolve every product under ``ilamb_root``."""
    config_path = Path(config_path)
    ilamb_root = Path(ilamb_root)
    try:
        raw = yaml.safe_load(config_path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{config_path}: cannot read catalog ({exc})") from exc
    try:
        parsed = _CatalogFile.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(f"{config_path}: invalid catalog\n{exc}") from exc

    products: list[ReferenceProduct] = []
    seen: set[str] = set()
    for entry in parsed.products:
        key = f"{entry.variable}/{entry.product}"
        if key in seen:
            raise CatalogError(f"{config_path}: product {key} is listed twice")
        seen.add(key)
        pattern, paths = _resolve_paths(entry, ilamb_root)
        if not ilamb_root.is_dir():
            status, reason, units = "missing", f"ILAMB_ROOT {ilamb_root} does not exist", None
        elif not paths:
            status, reason, units = (
                "missing",
                f"no file matches {pattern} under ILAMB_ROOT={ilamb_root}",
                None,
            )
        else:
            status, reason, units = _inspect(entry, paths)
        mass = entry.mass_weighting
        skip = entry.skip_analyses
        display = entry.display_units or semantic_units(entry.variable)
        try:
            display_ok = convertible(display, semantic_units(entry.variable))
            canonical(display)
        except UnitError as exc:
            raise CatalogError(f"{config_path}: {key}: bad display_units ({exc})") from exc
        if not display_ok:
            raise CatalogError(
                f"{config_path}: {key}: display_units {display!r} cannot express "
                f"{semantic_units(entry.variable)!r}"
            )
        product = ReferenceProduct(
            variable=entry.variable,
            product=entry.product,
            paths=tuple(paths),
            file_variable=entry.file_variable,
            units=canonical(units) if units else entry.units,
            display_units=canonical(display),
            period=entry.period,
            weight=entry.weight,
            citation=entry.citation.strip(),
            layout=entry.layout,
            mass_weighting=parsed.defaults.mass_weighting if mass is None else mass,
            skip_analyses=tuple(parsed.defaults.skip_analyses if skip is None else skip),
            status=status,
            skip_reason=reason,
            pattern=pattern,
        )
        if not product.available:
            logger.info("reference %s skipped: %s", key, reason)
        products.append(product)
    return products
