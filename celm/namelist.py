"""The run namelist (YAML): what to simulate, from which files, writing what.

Contract: :func:`load_namelist` parses and validates a namelist into a frozen :class:`Namelist`
(unknown keys are errors: a typo must not vanish silently) or raises
:class:`~celm.errors.CelmInputError` listing every problem found. ``years`` is either the explicit
list ``[{year, forcing_year, co2_ppm}, ...]`` or the compact form
``{first, last, forcing_cycle: [f0, f1], co2_ppm: {year: ppm, ...} | ppm}``, which cycles the
forcing years f0..f1 over first..last (and, for a CO2 mapping, takes the value of the latest
listed year not after each simulated year).
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from celm.errors import CelmInputError

#: written into ``output_dir`` by ``spinup_mode: analytic`` (:mod:`celm.steadystate`): what the
#: iteration before the written cycle cost, per tile (part of the program's output interface)
STEADY_STATE_COST = "steady_state.json"


class YearSpec(BaseModel):
    """One simulated year: its weather comes from ``forcing_year``, at ``co2_ppm``, with the
    land use of ``landuse_year`` (``landuse_<YYYY>.nc`` in the namelist's ``landuse_dir``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    year: int
    forcing_year: int
    co2_ppm: float = Field(gt=0.0, lt=5000.0)
    landuse_year: int | None = None


class CompactYears(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    first: int
    last: int
    forcing_cycle: tuple[int, int]
    co2_ppm: float | dict[int, float]

    def expand(self) -> list[YearSpec]:
        f0, f1 = self.forcing_cycle
        if self.last < self.first or f1 < f0:
            raise ValueError("years: need first <= last and forcing_cycle[0] <= forcing_cycle[1]")
        ncycle = f1 - f0 + 1
        out = []
        for i, year in enumerate(range(self.first, self.last + 1)):
            if isinstance(self.co2_ppm, dict):
                known = [y for y in self.co2_ppm if y <= year]
                if not known:
                    raise ValueError(f"years.co2_ppm: no value for {year} or earlier")
                co2 = self.co2_ppm[max(known)]
            else:
                co2 = self.co2_ppm
            out.append(YearSpec(year=year, forcing_year=f0 + i % ncycle, co2_ppm=co2))
        return out


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    daily: bool = False
    monthly: bool = True
    annual: bool = True


class SteadyStateSpec(BaseModel):
    """Stop rule of the accelerated spin-up (``spinup_mode: analytic``); unset values take the
    defaults of :class:`celm.cycling.SpinupOptions`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tolerance: float | None = Field(
        None, gt=0.0, description="per-cell |drift of total carbon|, gC m-2 yr-1"
    )
    area_fraction: float | None = Field(
        None, ge=0.0, le=1.0, description="land-area fraction allowed above the tolerance"
    )
    mean_tolerance: float | None = Field(
        None, gt=0.0, description="|land-mean drift of total carbon|, gC m-2 yr-1"
    )
    max_cycles: int | None = Field(None, ge=1, le=10000, description="forcing cycles at most")


class Namelist(BaseModel):
    """A validated CELM run."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    forcing_dir: Path
    #: directory of ``landuse_<YYYY>.nc`` (null: no land use, one natural tile per cell)
    landuse_dir: Path | None = None
    params_file: Path
    restart_in: Path | None = None
    restart_out: Path
    output_dir: Path
    output: OutputSpec = OutputSpec()
    ensemble_member: int | None = Field(default=None, ge=0)
    spinup_mode: Literal["analytic"] | None = None
    steady_state: SteadyStateSpec = SteadyStateSpec()
    years: list[YearSpec]

    @model_validator(mode="before")
    @classmethod
    def _expand_compact_years(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("years"), dict):
            data = {**data, "years": CompactYears(**data["years"]).expand()}
        return data

    @model_validator(mode="after")
    def _check(self) -> Namelist:
        if not self.years:
            raise ValueError("years: at least one simulated year is needed")
        ys = [y.year for y in self.years]
        if any(b != a + 1 for a, b in pairwise(ys)):
            raise ValueError("years: simulated years must be consecutive and increasing")
        with_landuse = [y.year for y in self.years if y.landuse_year is not None]
        if self.landuse_dir is not None and len(with_landuse) != len(self.years):
            raise ValueError("years: with landuse_dir every year needs a landuse_year")
        if self.landuse_dir is None and with_landuse:
            raise ValueError(f"years: landuse_year given for {with_landuse[0]} but no "
                             "landuse_dir")
        return self


def load_namelist(path: str | Path) -> Namelist:
    """Parse and validate; relative paths are taken relative to the namelist's directory."""
    path = Path(path)
    if not path.is_file():
        raise CelmInputError(path, None, "namelist not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CelmInputError(path, None, f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise CelmInputError(path, None, "top level must be a mapping")
    for key in ("forcing_dir", "landuse_dir", "params_file", "restart_in", "restart_out",
                "output_dir"):
        if isinstance(raw.get(key), str) and not Path(raw[key]).is_absolute():
            raw[key] = str(path.parent / raw[key])
    try:
        nml = Namelist(**raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise CelmInputError(path, None, problems) from None
    except ValueError as exc:
        raise CelmInputError(path, "years", str(exc)) from None
    if not nml.forcing_dir.is_dir():
        raise CelmInputError(path, "forcing_dir", f"{nml.forcing_dir} is not a directory")
    missing = sorted(
        {y.forcing_year for y in nml.years}
        - {
            int(p.stem[4:])
            for p in nml.forcing_dir.glob("met_*.nc")
            if p.stem[4:].isdigit()
        }
    )
    if missing:
        raise CelmInputError(
            path, "years", f"no forcing file met_<YYYY>.nc in {nml.forcing_dir} for {missing}"
        )
    if nml.landuse_dir is not None:
        lacking = sorted({y.landuse_year for y in nml.years if y.landuse_year is not None
                          and not (nml.landuse_dir / f"landuse_{y.landuse_year:04d}.nc")
                          .is_file()})
        if lacking:
            raise CelmInputError(
                path, "years", f"no land-use file landuse_<YYYY>.nc in {nml.landuse_dir} for "
                f"{lacking}"
            )
    return nml
