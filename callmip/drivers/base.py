"""The model driver contract: the only place in the orchestrator that knows a particular model.

A driver renders a model's inputs (namelist, parameter file) for one :class:`ModelRun`, gives the
command line that runs it (as an argv list, launched through a scheduler like any batch job), says
where its outputs and restart are, and maps its native output to the CalLMIP variable table
(:data:`VariableMap`). Keeping all of this declarative lets a modelling group adapt a driver
without touching the pipeline.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import xarray as xr

#: seconds per day, used by the unit conversions of every driver
SECONDS_PER_DAY = 86400.0
#: gC m-2 d-1 -> kgC m-2 s-1
GC_PER_DAY_TO_KGC_PER_S = 1e-3 / SECONDS_PER_DAY
#: mm d-1 (= kg m-2 d-1) -> kg m-2 s-1
MM_PER_DAY_TO_KG_PER_S = 1.0 / SECONDS_PER_DAY
#: gC m-2 -> kg m-2
GC_TO_KG = 1e-3


@dataclass(frozen=True)
class YearSpec:
    """One simulated year: which forcing year's weather drives it and at what CO2."""

    year: int
    forcing_year: int
    co2_ppm: float


@dataclass(frozen=True)
class ModelRun:
    """Everything a driver needs to render one run (or one segment of a run)."""

    run_id: str
    params_file: Path
    forcing_dir: Path
    years: tuple[YearSpec, ...]
    work_dir: Path
    restart_in: Path | None = None
    ensemble_member: int | None = None
    daily_output: bool = False
    monthly_output: bool = True  # spin-up and transient runs only need annual means
    spinup_mode: str | None = None  # e.g. "analytic" for the embedded model's accelerator


@dataclass(frozen=True)
class Term:
    """``coefficient * native_variable`` in a CalLMIP mapping."""

    native: str
    coefficient: float = 1.0


@dataclass(frozen=True)
class Mapping:
    """How one CalLMIP variable is made from native ones: sum of terms, times ``factor``."""

    terms: tuple[Term, ...]
    factor: float = 1.0
    note: str = ""


VariableMap = dict[str, Mapping]


@dataclass
class ModelDriver(ABC):
    """Adapter between the orchestrator and one model."""

    name: str = "abstract"
    variable_map: VariableMap = field(default_factory=dict)

    @abstractmethod
    def prepare(self, run: ModelRun) -> list[str]:
        """Write the run's input files into ``run.work_dir``; return the command (argv)."""

    @abstractmethod
    def restart_out(self, run: ModelRun) -> Path:
        """Where the run writes its final restart."""

    @abstractmethod
    def output_files(self, run: ModelRun, freq: str) -> list[Path]:
        """Native output files of a finished run for ``freq`` in {'monthly', 'annual', 'daily'}."""

    @abstractmethod
    def write_prior(self, path: Path) -> Path:
        """Write the model's default (prior) parameter file."""

    def to_callmip(self, native: xr.Dataset) -> xr.Dataset:
        """Apply :attr:`variable_map`; units and metadata are set by the conform stage."""
        out = {}
        for name, mapping in self.variable_map.items():
            missing = [t.native for t in mapping.terms if t.native not in native]
            if missing:
                raise KeyError(
                    f"{self.name}: native variable(s) {missing} needed for {name} are not in "
                    f"the output (has: {sorted(native.data_vars)})"
                )
            total = sum(t.coefficient * native[t.native] for t in mapping.terms)
            out[name] = (total * mapping.factor).astype("float32")
        return xr.Dataset(out, coords=native.coords)
