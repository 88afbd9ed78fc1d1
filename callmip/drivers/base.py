"""The model driver contract: the only place in the orchestrator that knows a particular model.

A driver renders a model's inputs (namelist, parameter file) for one :class:`ModelRun`, gives the
command line that runs it (as an argv list, launched through a scheduler like any batch job), says
where its outputs and restart are, and maps its native output to the CalLMIP variable table
(:data:`VariableMap`). Keeping all of this declarative lets a modelling group adapt a driver
without touching the pipeline.

A mapping is a sum of terms ``coefficient * native`` times a factor. A term may carry the native
units it accepts (so a model version that writes different units fails loudly instead of being
converted wrongly), a ``weight`` variable (e.g. a PFT's fraction of the grid cell) and per-layer
weights (e.g. soil layer thickness). Whatever dimensions a term has beyond (time, lat, lon) are
summed away: CalLMIP wants grid-cell values, never per PFT, tile or layer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from callmip.constants import SECONDS_PER_DAY
from callmip.drivers.base_options import DriverOptions

#: gC m-2 d-1 -> kgC m-2 s-1
GC_PER_DAY_TO_KGC_PER_S = 1e-3 / SECONDS_PER_DAY
#: mm d-1 (= kg m-2 d-1) -> kg m-2 s-1
MM_PER_DAY_TO_KG_PER_S = 1.0 / SECONDS_PER_DAY
#: gC m-2 -> kg m-2
GC_TO_KG = 1e-3
#: gC m-2 s-1 -> kgC m-2 s-1
GC_PER_S_TO_KGC_PER_S = 1e-3
#: umol CO2 m-2 s-1 -> kgC m-2 s-1 (12.011 g of carbon per mol)
UMOL_CO2_TO_KGC = 1e-6 * 12.011e-3
#: density of liquid water, kg m-3 (volumetric soil moisture x thickness -> kg m-2)
WATER_DENSITY = 1000.0

#: dimensions a CalLMIP variable keeps; all others are summed away by a mapping
GRID_DIMS = ("time", "lat", "lon")


class NativeOutputError(ValueError):
    """A model's native output cannot be mapped: a variable is missing or has other units."""


@dataclass(frozen=True)
class YearSpec:
    """One simulated year: which forcing year's weather drives it, at what CO2, and which
    prepared year of land use and N deposition applies (see :mod:`callmip.drivers.change`;
    None: the run has no such input). A driver of change a simulation holds keeps its spin-up
    level year, as ``forcing_year`` recycles the climate."""

    year: int
    forcing_year: int
    co2_ppm: float
    landuse_year: int | None = None
    ndep_year: int | None = None


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
    #: prepared per-year ``landuse_<YYYY>.nc`` / ``ndep_<YYYY>.nc`` (callmip.drivers.change)
    landuse_dir: Path | None = None
    ndep_dir: Path | None = None
    #: the land chunk this job runs (see :meth:`ModelDriver.chunk_runs`); None: the whole run
    chunk: int | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a driver can do, declared so the orchestrator (and the user) need not guess.

    ``drivers_of_change``: which of :data:`callmip.simulations.DRIVERS_OF_CHANGE` the model
    responds to; it ignores the others (e.g. a model without an N cycle ignores N deposition),
    and simulations differing only in ignored drivers share their transient runs.
    ``accelerated_spinup``: how the model accelerates its own spin-up (None: it cannot, and a
    campaign asking for ``spinup.mode: accelerated`` cycles it plainly, saying so in the log
    and the manifest). ``accelerated_ends_with_cycle``: the accelerated job's outputs are a
    normal cycle run from the state it found, ending at the restart it writes (CELM); False
    when it ends with a solve after its outputs (CABLE's CASA-only step), so its outputs cannot
    be compared with a run from its restart and the drift criteria wait for a normal cycle.
    ``chunked``: a run may be split into land chunks, one job each, which
    the driver merges (:meth:`ModelDriver.finish`). ``ran_real_program``: False for drivers
    whose rendering and mapping were only tested against documented formats, never with the
    model itself (``callmip validate`` and the docs say so). ``note``: one line for the user
    (README, ``callmip validate``).
    """

    drivers_of_change: tuple[str, ...] = ("climate", "CO2")
    accelerated_spinup: str | None = None
    accelerated_ends_with_cycle: bool = False
    chunked: bool = False
    ran_real_program: bool = True
    note: str = ""


@dataclass(frozen=True)
class Term:
    """``coefficient * native_variable`` in a CalLMIP mapping.

    ``units``: the native units attribute values this term is written for (any spelling listed
    is accepted; empty: not checked). ``weight``: a native variable multiplied in before the
    extra dimensions are summed (ORCHIDEE's per-PFT values times the PFT's cover fraction).
    ``layers``: weights along the one extra (layer) dimension, e.g. soil layer thicknesses in m
    (0 drops a layer; a fraction keeps part of it).
    """

    native: str
    coefficient: float = 1.0
    units: tuple[str, ...] = ()
    weight: str | None = None
    layers: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Mapping:
    """How one CalLMIP variable is made from native ones: sum of terms, times ``factor``.

    An ``optional`` mapping is left out when its native variables are absent (the protocol's
    "output only if your model outputs this variable", or spin-up diagnostics).
    """

    terms: tuple[Term, ...]
    factor: float = 1.0
    note: str = ""
    optional: bool = False

    def natives(self) -> list[str]:
        names = [t.native for t in self.terms]
        names += [t.weight for t in self.terms if t.weight]
        return list(dict.fromkeys(names))


VariableMap = dict[str, Mapping]


def _term_value(native: xr.Dataset, term: Term, source: str) -> xr.DataArray:
    da = native[term.native]
    if term.units:
        got = da.attrs.get("units")
        if got is not None and str(got).strip() not in term.units:
            raise NativeOutputError(
                f"{source}: native variable {term.native!r} has units {got!r}; this driver's "
                f"mapping is written for {' or '.join(repr(u) for u in term.units)}"
            )
    value = term.coefficient * da
    if term.weight:
        value = value * native[term.weight]
    extra = [d for d in value.dims if d not in GRID_DIMS]
    if term.layers is not None:
        if len(extra) != 1:
            raise NativeOutputError(
                f"{source}: {term.native!r} has extra dimensions {extra}; layer weights need "
                "exactly one layer dimension"
            )
        n = value.sizes[extra[0]]
        if n != len(term.layers):
            raise NativeOutputError(
                f"{source}: {term.native!r} has {n} layers along {extra[0]!r}; the mapping "
                f"gives {len(term.layers)} layer weights"
            )
        value = value * xr.DataArray(np.asarray(term.layers), dims=extra)
    if extra:
        # cells where every PFT/layer is missing (ocean) stay missing
        value = value.sum(extra, skipna=True, min_count=1)
    return value


@dataclass
class ModelDriver(ABC):
    """Adapter between the orchestrator and one model."""

    name: str = "abstract"
    variable_map: VariableMap = field(default_factory=dict)
    #: native files per simulated year (conform keeps only the last N years' files before
    #: opening); None when files span several years (one per run, or one per variable)
    files_per_year: int | None = 1
    #: the model writes monthly output only: conform builds annual means from it
    annual_from_monthly: bool = False
    #: where the driver keeps a campaign's model-level files (build record, ancillaries,
    #: forcing in the model's own format); set by the orchestrator, None in unit tests
    workspace: Path | None = None

    #: what the driver declares it can do (see :class:`Capabilities`)
    capabilities: ClassVar[Capabilities] = Capabilities()

    @classmethod
    def options_model(cls) -> type[DriverOptions]:
        """The typed options a campaign may give this driver (:mod:`callmip.drivers.options`)."""
        from callmip.drivers.options import DRIVER_OPTIONS

        return DRIVER_OPTIONS.get(cls.name, DriverOptions)

    @classmethod
    def from_options(cls, options: DriverOptions | dict[str, Any] | None = None,
                     workspace: Path | None = None) -> ModelDriver:
        """The driver configured by a campaign's validated options (options left out keep
        the driver's defaults)."""
        model = cls.options_model()
        if options is None:
            options = model()
        elif isinstance(options, dict):
            options = model.model_validate(options)
        values = options.model_dump(exclude_unset=True, exclude_none=True)
        for key in type(options).path_fields:
            if key in values:
                values[key] = str(values[key])
        return cls(**values, workspace=workspace)

    def setup(self, forcing_dir: Path, log=print) -> dict[str, str]:
        """Once per campaign, before the first run: whatever the model needs beyond one run
        (building the program, ancillary files). Returns facts for the manifest."""
        return {}

    def chunk_runs(self, run: ModelRun) -> list[ModelRun]:
        """The jobs of one run (or segment): itself, or one per land chunk."""
        return [run]

    def job_dir(self, run: ModelRun) -> Path:
        """Where the job of ``run`` (or of its chunk) keeps its log."""
        return run.work_dir

    def iterated_years(self, run: ModelRun) -> int | None:
        """Years the model simulated inside the accelerated spin-up job ``run`` before the
        cycle it wrote (for the manifest and report: what the spin-up really cost), or None
        when the model does not report them."""
        return None

    def finish(self, run: ModelRun) -> None:
        """After every job of ``run`` completed: e.g. merge the chunks' outputs. Raises
        :class:`NativeOutputError` when the outputs are incomplete. Idempotent."""
        return None

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

    def preprocess(self, native: xr.Dataset) -> xr.Dataset:
        """Bring native output to (time, lat, lon) with a CF time axis; identity by default."""
        return native

    def native_variables(self) -> set[str]:
        """Every native variable the mapping or :meth:`preprocess` may read.

        The conform stage opens only these (plus time bounds), which matters for models such
        as CTSM whose history files hold hundreds of fields.
        """
        return {n for m in self.variable_map.values() for n in m.natives()}

    def required_natives(self) -> dict[str, list[str]]:
        """Native variables each non-optional CalLMIP variable needs."""
        return {n: m.natives() for n, m in self.variable_map.items() if not m.optional}

    def to_callmip(
        self, native: xr.Dataset, source: str | Sequence[Path] = "native output"
    ) -> xr.Dataset:
        """Apply :meth:`preprocess` then :attr:`variable_map`; metadata is set by conform.

        ``source`` names the file(s) in error messages.
        """
        if not isinstance(source, str):
            files = [str(p) for p in source]
            source = files[0] if len(files) == 1 else f"{files[0]} (and {len(files) - 1} more)"
        native = self.preprocess(native)
        out = {}
        for name, mapping in self.variable_map.items():
            missing = [v for v in mapping.natives() if v not in native]
            if missing:
                if mapping.optional:
                    continue
                raise NativeOutputError(
                    f"{source}: native variable(s) {missing} needed for {name} "
                    f"({self.name} driver) are missing; the file has "
                    f"{sorted(map(str, native.data_vars))}"
                )
            total = sum(_term_value(native, t, source) for t in mapping.terms)
            out[name] = (total * mapping.factor).astype("float32")
        coords = {k: v for k, v in native.coords.items() if set(v.dims) <= set(GRID_DIMS)}
        mapped = xr.Dataset(out, coords=coords)
        for bounds in ("time_bnds", "time_bounds"):
            if bounds in native.variables and "time" in native[bounds].dims:
                mapped["time_bnds"] = native[bounds]
                break
        return mapped
