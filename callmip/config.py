"""The campaign file: one typed schema that a coordinator writes and everything else reads.

A campaign is validated completely before anything starts (no directory is created, no job is
submitted): :func:`load_campaign` either returns a :class:`Campaign` or raises
:class:`CampaignError` whose message names each bad field, what was given and what is allowed.
Relative paths in the file are resolved against the file's own directory, so a campaign file can
be moved together with its data.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from callmip.conform.table import REQUIRED_GLOBAL_ATTRS
from callmip.constants import SCENARIO_FIRST_YEAR
from callmip.drivers.base_options import DriverOptions
from callmip.drivers.options import DRIVER_OPTIONS
from callmip.scheduler.base import SAFE_NAME, Resources
from callmip.scheduler.registry import SCHEDULER_NAMES
from callmip.scheduler.supervisor import RetryPolicy
from callmip.simulations import SCENARIO_PARENT, SIMULATION_NAMES

REPO_ROOT = Path(__file__).resolve().parent.parent

Resolution = Literal[0.5, 1, 2]
Experiment = Literal["prior", "posterior"]
#: TRENDY S0-S3 and the CalLMIP CO2-only-equivalent with its variants (callmip.simulations)
Simulation = Literal[SIMULATION_NAMES]  # type: ignore[valid-type]
Scenario = Literal["ssp126", "ssp370", "ssp585"]
#: the five ISIMIP3b primary GCMs (lower case, as in ISIMIP3b file names)
Gcm = Literal["gfdl-esm4", "ipsl-cm6a-lr", "mpi-esm1-2-hr", "mri-esm2-0", "ukesm1-0-ll"]
#: the forcing fields that name input directories (resolved and confined like every input path)
FORCING_DIRS = ("crujra_dir", "isimip_dir", "luh2_dir", "ndep_dir")
#: protocol v2 section 6.3: allowed values of the global attributes a campaign sets
CalLMIPPhase = Literal[REQUIRED_GLOBAL_ATTRS["CalLMIP_Phase"]]  # type: ignore[valid-type]
CalibrationScenario = Literal[REQUIRED_GLOBAL_ATTRS["Calibration_Scenario"]]  # type: ignore
CalVal = Literal[REQUIRED_GLOBAL_ATTRS["Cal_Val"]]  # type: ignore[valid-type]
#: a contact as ME-org and the protocol's model information table need it: an e-mail address,
#: optionally after a name ("Jane Doe <jane@uni.edu>")
_EMAIL = r"[^<>@\s]+@[^<>@\s]+\.[A-Za-z]{2,}"
CONTACT = rf"^([^<>@\x00-\x1f]{{1,100}} <{_EMAIL}>|{_EMAIL})$"
#: free text written into NetCDF attributes and READMEs: printable, one line
INSTITUTION = r"^[^\x00-\x1f\x7f]{2,200}$"
Name = Annotated[str, Field(pattern=SAFE_NAME.pattern)]


class CampaignError(ValueError):
    """A campaign file is invalid; the message is meant for the user, as is."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ForcingConfig(_Strict):
    """Where the climate forcing comes from and how it is prepared."""

    source: Literal["synthetic", "crujra"] = Field(
        "synthetic", description="synthetic: generate CRU-JRA-layout files; crujra: read real ones"
    )
    crujra_dir: Path | None = Field(None, description="directory of real CRU-JRA v2.5 files")
    source_resolution: Literal[0.5, 1, 2] = Field(
        0.5, description="grid of the (synthetic) CRU-JRA-layout files, degrees"
    )
    seed: int = Field(0, ge=0, description="seed of the synthetic weather generator")
    step: Literal["daily", "6h"] = Field("daily", description="model time step of the forcing")
    cluster: Literal["local", "slurm"] = Field(
        "local",
        description="dask cluster of the forcing tasks: local processes, or a dask-jobqueue "
        "SLURMCluster using the scheduler's partition/account",
    )
    workers: int | None = Field(None, ge=1, le=4096, description="dask workers (default: cores)")
    isimip_dir: Path | None = Field(
        None,
        description="directory of real ISIMIP3b bias-adjusted daily files for the 2015-2100 "
        "scenario runs; default: synthetic files in the same layout",
    )
    luh2_dir: Path | None = Field(
        None,
        description="directory of real LUH2 land-use states (states.nc + "
        "staticData_quarterdeg.nc; SSP states in <ssp>/states.nc); default: synthetic files in "
        "the same layout",
    )
    ndep_dir: Path | None = Field(
        None,
        description="directory of real N-deposition files in the ISIMIP3 layout "
        "(ndep-nhx/ndep-noy_<histsoc|sspXXXsoc>_monthly_<y0>_<y1>.nc); default: synthetic",
    )
    trend_k_per_century: float = Field(
        0.0, ge=-5.0, le=10.0,
        description="synthetic forcing only: linear warming of the generated weather relative "
        "to 1901 (K per century)",
    )

    @model_validator(mode="after")
    def _crujra_needs_dir(self) -> ForcingConfig:
        if self.source == "crujra" and self.crujra_dir is None:
            raise ValueError("forcing.crujra_dir is required when forcing.source is 'crujra'")
        return self


class PeriodsConfig(_Strict):
    """Spin-up cycle, transient start and historical period (years, inclusive)."""

    spinup_cycle: tuple[int, int] = Field(
        (1901, 1920), description="forcing years recycled during spin-up (TRENDY: 1901-1920)"
    )
    transient_start: int = Field(1851, ge=1700, le=2100, description="first transient year")
    historical: tuple[int, int] = Field(..., description="first and last historical run year")
    output_last_years: int = Field(
        20, ge=1, le=500, description="CalLMIP global files hold the last N years"
    )
    scenario_end: int = Field(
        2100, ge=2015, le=2100, description="last year of the 2015-2100 SSP scenario runs"
    )
    scenario_annual_last_years: int | None = Field(
        None, ge=1, le=86,
        description="scenario CalLMIP annual files hold the last N years (default: the whole "
        "2015-scenario_end run, for the prior-versus-posterior divergence to 2100)",
    )
    scenario_monthly_last_years: int = Field(
        20, ge=1, le=86, description="scenario CalLMIP monthly files hold the last N years"
    )

    @model_validator(mode="after")
    def _ordered(self) -> PeriodsConfig:
        a, b = self.spinup_cycle
        h0, h1 = self.historical
        if a > b:
            raise ValueError(f"periods.spinup_cycle must be [first, last], got [{a}, {b}]")
        if h0 > h1:
            raise ValueError(f"periods.historical must be [first, last], got [{h0}, {h1}]")
        if not self.transient_start < h0:
            raise ValueError(
                f"periods.transient_start ({self.transient_start}) must be before "
                f"the first historical year ({h0})"
            )
        if h1 > 2024:
            raise ValueError(f"periods.historical ends in {h1}; historical CO2 stops in 2024")
        return self


class SpinupCriteria(_Strict):
    """Published equilibrium criteria; each can be switched off or retuned per campaign."""

    ctsm_global_c_pgc_per_yr: float | None = Field(
        0.02, gt=0, description="CTSM: |drift| of global total/soil/veg C and GPP, PgC/yr"
    )
    ctsm_water_m_per_yr: float | None = Field(
        0.001, gt=0, description="CTSM: |drift| of global mean total water storage, m/yr"
    )
    ctsm_area_fraction: float | None = Field(
        0.03, gt=0, le=1, description="CTSM: max land-area fraction with |dC/dt| > 1 gC m-2 yr-1"
    )
    cell_trend_gc_m2_yr: float = Field(
        1.0, gt=0, description="per-cell |slope of total C| threshold, gC m-2 yr-1"
    )
    c4mip_pgc_per_century: float | None = Field(
        10.0, gt=0, description="C4MIP (Jones et al. 2016): global land C drift, PgC/century"
    )


#: what each ``spinup.judge`` compares (the log, ``callmip validate`` and the drift table's
#: ``compared`` column)
SPINUP_JUDGES = {
    "cycle": "consecutive cycle means",
    "phase": "first year, one cycle apart",
}


class SpinupConfig(_Strict):
    """How the spin-up runs and when it stops."""

    mode: Literal["accelerated", "brute"] = Field(
        "accelerated",
        description="accelerated: the model's accelerated spin-up to its periodic state, then "
        "normal cycles",
    )
    analytic_cycles: int = Field(
        3, ge=1, le=100,
        description="accelerated mode: at most this many jobs running the model's accelerated "
        "spin-up (the first job is one; another follows only while the first normal cycle after "
        "it still moves total carbon by more than analytic_rtol)",
    )
    analytic_rtol: float = Field(
        3e-4, gt=0, le=0.1,
        description="accelerated mode: run the accelerated spin-up again when the first normal "
        "cycle after it changed the cycle-mean total carbon by more than this fraction",
    )
    max_cycles: int = Field(200, ge=1, le=100000, description="fail after this many cycles")
    consecutive: int = Field(
        2, ge=1, le=100,
        description="the criteria must pass N times in a row (judge cycle: N cycles; judge phase: "
        "N checks, each after its own cycle)",
    )
    judge: Literal["cycle", "phase"] = Field(
        "cycle",
        description="cycle: compare the means of two consecutive cycles (drift = difference / "
        "cycle length); phase: after a cycle, run its first year once more (a one-year check "
        "job whose restart is discarded) and compare it with that cycle's first year, one cycle "
        "apart, as CTSM's SpinupStability does. Both years see the same forcing, so the "
        "difference is the model's own drift, and judging costs one year instead of a cycle "
        "(on TRENDY's 20-year cycle, 1 year instead of 20 per judgement)",
    )
    on_max_cycles: Literal["fail", "continue"] = Field(
        "fail",
        description="fail: stop the campaign when max_cycles pass without equilibrium; "
        "continue: carry on from the last cycle, flagged as NOT in equilibrium everywhere",
    )
    criteria: SpinupCriteria = Field(default_factory=SpinupCriteria)
    forcing_levels: Literal["files", "callmip_site"] = Field(
        "files",
        description="files: CO2, N deposition and land use held at the year before the "
        "transient starts, from the same files as the transient (TRENDY: 1700 levels for a 1701 "
        "start); callmip_site: the CalLMIP site protocol's 1850 constants, 287.42 ppm and 0.79 "
        "kg N ha-1 yr-1 (needs periods.transient_start 1851)",
    )


class ProtocolConfig(_Strict):
    """CalLMIP protocol metadata (v2 sections 6.3 and 11.5) written into every CalLMIP file."""

    phase: CalLMIPPhase = Field("Phase1b", description="global attribute CalLMIP_Phase")
    calibration_scenario: CalibrationScenario = Field(
        "Scen1", description="global attribute Calibration_Scenario: the calibration scenario "
        "(Scen1: NEE, LE and H, required; Scen2-6 optional) the posterior parameters come from"
    )
    cal_val: CalVal = Field(
        "Validation", description="global attribute Cal_Val (global runs evaluate calibrated "
        "parameters away from the calibration sites: Validation)"
    )
    contact: str | None = Field(
        None, pattern=CONTACT,
        description="who answers for the files: 'Name <email>' or an e-mail address (global "
        "attribute contact; required by `callmip bundle`)",
    )
    institution: str | None = Field(
        None, pattern=INSTITUTION,
        description="the modelling group's institution (global attribute institution; required "
        "by `callmip bundle`)",
    )


class ModelConfigBase(_Strict):
    """One participating model (or configuration) with its prior and posterior parameters.

    Subclassed once per registered driver (see :data:`ModelConfig`): ``driver`` picks the
    subclass, whose ``options`` are that driver's typed options.
    """

    name: Name = Field(..., description="model name as in CalLMIP file names, e.g. CLASSIC")
    version: Name = Field("v1", description="model version, e.g. v2")
    driver: str = Field("celm", description="model driver")
    prior: Path | None = Field(None, description="prior parameter file; default: driver's prior")
    posterior: Path | None = Field(None, description="posterior parameter file")
    ensemble_members: int = Field(
        0, ge=0, le=1000, description="posterior ensemble members to run (0: central values)"
    )
    options: DriverOptions = Field(default_factory=DriverOptions)

    @property
    def key(self) -> str:
        """``<name>.<version>``: the model in run ids, the job ledger and its workspace."""
        return f"{self.name}.{self.version}"


def _model_config(driver: str, options: type[DriverOptions]) -> type[ModelConfigBase]:
    return create_model(
        f"ModelConfig_{driver}",
        __base__=ModelConfigBase,
        driver=(Literal[driver], Field(driver, description="model driver")),
        options=(options, Field(default_factory=options,
                                description=f"options of the {driver} driver")),
    )


def _driver_of(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("driver", "celm"))
    return str(getattr(value, "driver", "celm"))


#: a model entry: one schema per registered driver, chosen by ``driver`` (default celm)
ModelConfig = Annotated[
    Union[tuple(Annotated[_model_config(name, opts), Tag(name)]  # noqa: UP007
                for name, opts in DRIVER_OPTIONS.items())],
    Discriminator(
        _driver_of,
        custom_error_type="unknown_driver",
        custom_error_message=f"unknown model driver; registered: {', '.join(DRIVER_OPTIONS)}",
    ),
]


class SchedulerConfig(_Strict):
    """Batch backend and the HPC profile its jobs get."""

    backend: Literal[SCHEDULER_NAMES] = Field(  # type: ignore[valid-type]
        "local", description="where model runs execute (callmip/scheduler/registry.py)"
    )
    max_parallel: int | None = Field(None, ge=1, le=4096, description="local executor slots")
    resources: Resources = Field(default_factory=Resources)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    segment_years: int = Field(
        500, ge=1, le=10000, description="split long runs into segments of N simulated years"
    )


class ReferencesConfig(_Strict):
    """Reference products for the benchmark."""

    catalog: Path = Field(REPO_ROOT / "configs" / "references.yaml")
    ilamb_root: Path = Field(REPO_ROOT / "data" / "ILAMB_ROOT")
    variables: list[str] = Field(["hfls", "hfss"], min_length=1)
    mode: Literal["ilamb27", "ilamb3"] = Field("ilamb27", description="scoring method")


class EsmvaltoolConfig(_Strict):
    """Optional ESMValTool evaluation after the benchmark (needs the extra ``esmvaltool``)."""

    enabled: bool = Field(False, description="write and run the ESMValTool recipe")
    scheme: Literal["area_weighted", "linear", "nearest"] = Field(
        "area_weighted", description="ESMValCore regridding scheme (no ESMF schemes: no esmpy)"
    )


class Campaign(_Strict):
    """A whole CalLMIP global campaign."""

    name: Name = Field(..., description="campaign name; also its run directory name")
    description: str = ""
    resolution: Resolution = Field(..., description="model grid in degrees: 0.5, 1 or 2")
    forcing: ForcingConfig = Field(default_factory=ForcingConfig)
    periods: PeriodsConfig
    spinup: SpinupConfig = Field(default_factory=SpinupConfig)
    models: list[ModelConfig] = Field(..., min_length=1)
    experiments: list[Experiment] = Field(["prior", "posterior"], min_length=1)
    simulations: list[Simulation] = Field(
        ["S3"], min_length=1,
        description="TRENDY S0-S3 and the CalLMIP CO2-only-equivalent (CO2only, CO2LUC, "
        "CO2Ndep, CO2LUCNdep); see callmip/simulations.py",
    )
    protocol: ProtocolConfig = Field(default_factory=ProtocolConfig)
    scenarios: list[Scenario] = Field(
        [], description="SSPs of the 2015-2100 runs (each from the S3 run's end-of-2014 state)"
    )
    scenario_gcms: list[Gcm] = Field(
        ["gfdl-esm4"], min_length=1, description="ISIMIP3b GCMs whose climate drives the SSP runs"
    )
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    references: ReferencesConfig = Field(default_factory=ReferencesConfig)
    esmvaltool: EsmvaltoolConfig = Field(default_factory=EsmvaltoolConfig)
    run_root: Path = Field(REPO_ROOT / "runs", description="parent of the campaign run directory")

    @field_validator("models")
    @classmethod
    def _unique_models(cls, models: list[ModelConfigBase]) -> list[ModelConfigBase]:
        names = [f"{m.name}.{m.version}" for m in models]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"model names must be unique, repeated: {sorted(dup)}")
        return models

    @model_validator(mode="after")
    def _posterior_files(self) -> Campaign:
        if "posterior" in self.experiments:
            missing = [m.name for m in self.models if m.posterior is None]
            if missing:
                raise ValueError(
                    f"experiment 'posterior' needs models[].posterior for: {', '.join(missing)}"
                )
        return self

    @model_validator(mode="after")
    def _scenarios_start_from_s3(self) -> Campaign:
        if not self.scenarios:
            return self
        h0, h1 = self.periods.historical
        last = SCENARIO_FIRST_YEAR - 1
        if SCENARIO_PARENT not in self.simulations:
            raise ValueError(
                f"scenarios start from the {SCENARIO_PARENT} run: add '{SCENARIO_PARENT}' to "
                "simulations"
            )
        if not h0 <= last <= h1:
            raise ValueError(
                f"scenarios start in {SCENARIO_FIRST_YEAR} from the S3 state at the end of "
                f"{last}: periods.historical ({h0}-{h1}) must include {last}"
            )
        return self

    @model_validator(mode="after")
    def _unique_simulations(self) -> Campaign:
        dup = sorted({s for s in self.simulations if self.simulations.count(s) > 1})
        if dup:
            raise ValueError(f"simulations listed twice: {dup}")
        return self

    @model_validator(mode="after")
    def _site_levels_are_1850(self) -> Campaign:
        if self.spinup.forcing_levels == "callmip_site" and self.periods.transient_start != 1851:
            raise ValueError(
                "spinup.forcing_levels 'callmip_site' holds CO2 and N deposition at the "
                "protocol's 1850 values: periods.transient_start must be 1851 (got "
                f"{self.periods.transient_start}); use 'files' for other starts"
            )
        return self

    @property
    def run_dir(self) -> Path:
        return self.run_root / self.name

    def config_hash(self) -> str:
        """Hash of the validated campaign (paths resolved): what a run directory holds.

        The ESMValTool evaluation settings are left out: they change no output of the runs, so
        switching the evaluation on re-uses a finished run directory.
        """
        text = json.dumps(self.model_dump(mode="json", exclude={"esmvaltool"}), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def option_path_fields(model: dict[str, Any]) -> tuple[str, ...]:
    """The path-valued options of a model entry's driver (none for an unknown driver)."""
    options = DRIVER_OPTIONS.get(str(model.get("driver", "celm")))
    return options.path_fields if options is not None else ()


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make relative paths in known path fields relative to the campaign file's directory."""

    def fix(value: Any) -> Any:
        if isinstance(value, str) and value and not Path(value).is_absolute():
            return str((base / value).resolve())
        return value

    forcing = raw.get("forcing")
    if isinstance(forcing, dict):
        for key in FORCING_DIRS:
            if key in forcing:
                forcing[key] = fix(forcing[key])
    for model in raw.get("models") or []:
        if isinstance(model, dict):
            for key in ("prior", "posterior"):
                if key in model:
                    model[key] = fix(model[key])
            options = model.get("options")
            for key in option_path_fields(model):
                if isinstance(options, dict) and key in options:
                    options[key] = fix(options[key])
    refs = raw.get("references")
    if isinstance(refs, dict):
        for key in ("catalog", "ilamb_root"):
            if key in refs:
                refs[key] = fix(refs[key])
    if "run_root" in raw:
        raw["run_root"] = fix(raw["run_root"])
    return raw


def format_validation_error(path: Path, err: ValidationError) -> str:
    """One readable line per problem: the field path, the message, what was given."""
    lines = [f"invalid campaign file {path}:"]
    for e in err.errors():
        parts = list(e["loc"])
        if len(parts) > 2 and parts[0] == "models" and parts[2] in DRIVER_OPTIONS:
            del parts[2]  # the driver tag pydantic adds: models.0.cable_pop.options -> models.0
        loc = ".".join(str(p) for p in parts) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        given = e.get("input")
        shown = "" if isinstance(given, dict) or e["type"] == "missing" else f" (got {given!r})"
        lines.append(f"  - {loc}: {msg}{shown}")
    return "\n".join(lines)


def load_campaign(path: Path | str) -> Campaign:
    """Read and validate a campaign YAML file, or raise :class:`CampaignError`."""
    path = Path(path)
    if not path.is_file():
        raise CampaignError(f"campaign file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CampaignError(f"campaign file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise CampaignError(f"campaign file {path} must be a YAML mapping of fields")
    raw = _resolve_paths(raw, path.resolve().parent)
    try:
        campaign = Campaign.model_validate(raw)
    except ValidationError as exc:
        raise CampaignError(format_validation_error(path, exc)) from None
    problems = []
    for m in campaign.models:
        for key in ("prior", "posterior"):
            p = getattr(m, key)
            if p is not None and not p.is_file():
                problems.append(f"  - models[{m.name}].{key}: file {p} does not exist")
        problems += [f"  - models[{m.name}].options: {p}" for p in m.options.problems()]
    isimip = campaign.forcing.isimip_dir
    if isimip is not None and not isimip.is_dir():
        problems.append(f"  - forcing.isimip_dir: directory {isimip} not found")
    if campaign.references.catalog and not campaign.references.catalog.is_file():
        problems.append(f"  - references.catalog: file {campaign.references.catalog} not found")
    if problems:
        raise CampaignError("\n".join([f"invalid campaign file {path}:", *problems]))
    return campaign
