"""Typed parameters of the UI deployments and their validation at flow start.

Contract: the parameter types here are what the Prefect Run form renders (Literal -> dropdown,
``Field(description=...)`` -> help text, ``pattern``/bounds -> checked by the server before a
run exists). What a JSON schema cannot express (files that must exist, paths that must stay
inside the configured data and run roots after symlinks are resolved, combinations of fields)
is checked by the ``validate_*`` functions, which every deployment flow calls first, before any
directory is created or job submitted. They raise :class:`ParameterError` with a message meant
for the person who filled the form.

No shell is ever involved: parameters only become file paths (checked here) and campaign fields
(validated by the campaign schema).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, ValidationError

from callmip import atomic, config
from callmip.config import (
    CONTACT,
    FORCING_DIRS,
    INSTITUTION,
    REPO_ROOT,
    Campaign,
    CampaignError,
    load_campaign,
    option_path_fields,
)
from callmip.constants import SCENARIO_FIRST_YEAR
from callmip.drivers.base_options import DriverOptions
from callmip.drivers.cable_pop.options import CablePopOptions
from callmip.drivers.options import DRIVER_OPTIONS, ClassicOptions, ClmOptions, OrchideeOptions
from callmip.simulations import SCENARIO_PARENT

CONFIG_DIR = REPO_ROOT / "configs"
#: A relative path of plain names: no leading '/', no '..', no shell metacharacters. Written
#: without look-arounds: the server (Rust regex) and the UI (JavaScript) both evaluate it.
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*"
REL_PATH = rf"^{_SEGMENT}(/{_SEGMENT})*$"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class ParameterError(ValueError):
    """A deployment parameter is invalid; the message names the parameter and the problem."""


@dataclass(frozen=True)
class Roots:
    """Where user-given files may be read from (data) and run directories live (runs)."""

    data: Path
    runs: Path

    @classmethod
    def from_env(cls) -> Roots:
        """Roots set by ``callmip server up`` for the worker (defaults: configs/ and runs/)."""
        return cls(
            data=Path(os.environ.get("CALLMIP_DATA_ROOT", CONFIG_DIR)).resolve(),
            runs=Path(os.environ.get("CALLMIP_RUN_ROOT", REPO_ROOT / "runs")).resolve(),
        )


def inside(root: Path, given: str | Path, what: str) -> Path:
    """Resolve ``given`` (relative to ``root``, or absolute) and insist it stays inside ``root``.

    Symlinks are resolved first, so a link inside the root pointing elsewhere is refused too.
    """
    text = str(given)
    if not text or "\x00" in text:
        raise ParameterError(f"{what}: empty or invalid path {text!r}")
    path = Path(text)
    if ".." in path.parts:
        raise ParameterError(f"{what}: '..' is not allowed in paths (got {text!r})")
    resolved = (path if path.is_absolute() else root / path).resolve()
    root = root.resolve()
    if not resolved.is_relative_to(root):
        raise ParameterError(f"{what}: {text!r} resolves to {resolved}, outside the allowed "
                             f"directory {root}")
    return resolved


def _confined(
    root: Path, given: str, what: str, problems: list[str], exists=Path.exists
) -> Path | None:
    """:func:`inside` that must also exist (``exists``); a problem is appended, not raised, so
    a form's every problem is reported at once."""
    try:
        path = inside(root, given, what)
    except ParameterError as exc:
        problems.append(str(exc))
        return None
    if not exists(path):
        problems.append(f"{what}: {path} does not exist")
    return path


# ----------------------------------------------------------------------------- global-simulation
ModelName = Annotated[str, Field(
    pattern=NAME, title="Model", description="Model name as in CalLMIP file names, e.g. CELM-A "
    "(letters, digits, '.', '_', '-')")]
ModelVersion = Annotated[str, Field(
    pattern=NAME, title="Model version", description="Model version, e.g. v1")]
Driver = Annotated[Literal[tuple(DRIVER_OPTIONS)], Field(  # type: ignore[valid-type]
    title="Model driver", description="Driver that renders the model's inputs and runs it: "
    "celm (the embedded model), cable_pop (CABLE-POP, TRENDY branch: built from source and run "
    "here), orchidee, clm, classic (templates: never run against their real programs)")]
DriverOptionsForm = Annotated[
    CablePopOptions | OrchideeOptions | ClmOptions | ClassicOptions | None,
    Field(title="Driver options", description="Options of the chosen driver (e.g. cable_pop: "
          "chunks, domain, executable, source_dir, gridinfo); paths are inside the data root. "
          "Empty: the driver's defaults. Checked at flow start against the chosen driver")]
ParameterSet = Annotated[config.Experiment, Field(
    title="Parameter set", description="prior: parameters before calibration; posterior: the "
    "calibrated parameters (a parameter file is then required)")]
ParamFile = Annotated[str, Field(
    pattern=rf"^$|{REL_PATH}", title="Parameter file",
    description="Parameter file relative to the data root, e.g. params/CELM-A_posterior.json. "
    "Leave empty for the driver's default prior")]
Resolution = Annotated[config.Resolution, Field(
    title="Resolution (degrees)", description="Model grid: 0.5, 1 or 2 degrees")]
ExperimentName = Annotated[config.Simulation, Field(
    title="Experiment", description="S3: CO2, climate, land use and N deposition vary (the "
    "CalLMIP S3-equivalent); S0-S2: TRENDY's control, CO2(+N deposition), CO2+climate(+N "
    "deposition); CO2only: only CO2 varies (climate recycled, the CalLMIP CO2-only-equivalent), "
    "CO2LUC / CO2Ndep / CO2LUCNdep: its variants with land use and/or N deposition")]
ScenarioName = Annotated[Literal["historical", config.Scenario], Field(
    title="Scenario", description="historical only, or also a 2015-2100 SSP run branching from "
    "the S3 state at the end of 2014 (needs experiment S3 and a historical period including "
    "2014)")]
GcmName = Annotated[config.Gcm, Field(
    title="Scenario GCM", description="ISIMIP3b GCM whose bias-adjusted climate drives the SSP "
    "run (ignored for historical)")]
ScenarioEnd = Annotated[int, Field(
    ge=2015, le=2100, title="Last scenario year",
    description="Last year of the SSP run (CalLMIP: 2100; shorter for a quick test)")]
FirstYear = Annotated[int, Field(
    ge=1902, le=2024, title="First historical year",
    description="First year of the historical run (the transient runs up to it)")]
LastYear = Annotated[int, Field(
    ge=1902, le=2024, title="Last historical year",
    description="Last year of the historical run (CalLMIP files cover the run)")]
TransientStart = Annotated[int, Field(
    ge=1701, le=2023, title="Transient start",
    description="First year of the transient from the spun-up state (TRENDY: 1701; CalLMIP "
    "site protocol: 1851); CO2, land use and N deposition of the year before hold through "
    "the spin-up")]
Phase = Annotated[config.CalLMIPPhase, Field(
    title="CalLMIP phase", description="Global attribute CalLMIP_Phase of every file")]
CalibrationScenarioName = Annotated[config.CalibrationScenario, Field(
    title="Calibration scenario", description="Global attribute Calibration_Scenario: the "
    "calibration scenario the posterior comes from (Scen1: NEE, LE and H, required)")]
CalValName = Annotated[config.CalVal, Field(
    title="Cal/Val", description="Global attribute Cal_Val (global runs: Validation)")]
Contact = Annotated[str, Field(
    pattern=f"^$|{CONTACT}", title="Contact",
    description="Who answers for the files: 'Name <email>' or an e-mail address (global "
    "attribute contact; needed for upload bundles)")]
Institution = Annotated[str, Field(
    pattern=f"^$|{INSTITUTION}", title="Institution",
    description="The modelling group's institution (global attribute institution; needed for "
    "upload bundles)")]
SpinupCycles = Annotated[int, Field(
    ge=1, le=10000, title="Maximum spin-up cycles",
    description="Spin-up stops after this many forcing cycles and carries on, flagged, "
    "if the equilibrium criteria still fail")]


def simulation_run_name(model: str, version: str, parameter_set: str, experiment: str,
                        resolution: float) -> str:
    """Run directory name of one global simulation (a valid campaign name)."""
    return f"sim_{model}.{version}_{parameter_set}_{experiment}_{resolution:g}deg"


def validate_simulation(
    *, model: str, version: str, driver: str, parameter_set: str, param_file: str,
    resolution: float, experiment: str, scenario: str, historical_first: int,
    historical_last: int, transient_start: int, spinup_max_cycles: int, roots: Roots,
    scenario_gcm: str = "gfdl-esm4", scenario_end: int = 2100, phase: str = "Phase1b",
    calibration_scenario: str = "Scen1", cal_val: str = "Validation", contact: str = "",
    institution: str = "",
    options: DriverOptions | dict | None = None, collection: str = "",
) -> Campaign:
    """Build the one-model, one-parameter-set campaign of a global simulation, or refuse it."""
    problems = []
    try:
        option_values = driver_options(driver, options, roots)
    except ParameterError as exc:
        problems.append(str(exc))
        option_values = {}
    if scenario != "historical":
        if experiment != SCENARIO_PARENT:
            problems.append(f"scenario {scenario!r} branches from the {SCENARIO_PARENT} run: "
                            f"choose experiment {SCENARIO_PARENT} (got {experiment!r})")
        branch = SCENARIO_FIRST_YEAR - 1
        if not historical_first <= branch <= historical_last:
            problems.append(f"scenario {scenario!r} starts from the S3 state at the end of "
                            f"{branch}: the historical period ({historical_first}-"
                            f"{historical_last}) must include {branch}")
    if historical_first > historical_last:
        problems.append(f"historical_first ({historical_first}) is after historical_last "
                        f"({historical_last})")
    if transient_start >= historical_first:
        problems.append(f"transient_start ({transient_start}) must be before historical_first "
                        f"({historical_first})")
    if parameter_set == "posterior" and not param_file:
        problems.append("param_file is required for the posterior parameter set")
    params_path = (_confined(roots.data, param_file, "param_file", problems, Path.is_file)
                   if param_file else None)
    if problems:
        raise ParameterError("invalid global-simulation parameters:\n  - "
                             + "\n  - ".join(problems))
    name = simulation_run_name(model, version, parameter_set, experiment, resolution)
    if scenario != "historical":
        name = f"{name}_{scenario}_{scenario_gcm}"
    raw = {
        "name": name,
        "description": f"Global simulation of {model}.{version}, {parameter_set} parameters, "
                       f"{experiment}, submitted from the Prefect UI",
        "resolution": resolution,
        "forcing": {"source": "synthetic", "source_resolution": 2, "seed": 42},
        "periods": {"spinup_cycle": [1901, 1901], "transient_start": transient_start,
                    "historical": [historical_first, historical_last],
                    "scenario_end": scenario_end},
        "spinup": {"mode": "accelerated", "analytic_cycles": min(2, spinup_max_cycles),
                   "max_cycles": spinup_max_cycles, "consecutive": 1,
                   "on_max_cycles": "continue"},
        "models": [{"name": model, "version": version, "driver": driver,
                    parameter_set: str(params_path) if params_path else None,
                    "options": option_values}],
        "experiments": [parameter_set],
        "simulations": [experiment],
        "protocol": {"phase": phase, "calibration_scenario": calibration_scenario,
                     "cal_val": cal_val, "contact": contact or None,
                     "institution": institution or None},
        **({"scenarios": [scenario], "scenario_gcms": [scenario_gcm]}
           if scenario != "historical" else {}),
        "scheduler": {"backend": "local", "max_parallel": 2},
        "run_root": str(inside(roots.runs, collection or ".", "collection")),
    }
    return _campaign_from_mapping(raw, roots.runs / ".uploads", "global-simulation")[0]


def driver_options(driver: str, options: DriverOptions | dict | None, roots: Roots) -> dict:
    """The options the form gave, checked against the *chosen* driver's typed options (the
    form offers every driver's), with path options confined to the data root."""
    if options is None:
        return {}
    given = (options.model_dump(mode="json", exclude_unset=True)
             if isinstance(options, DriverOptions) else dict(options))
    model = DRIVER_OPTIONS[driver]
    try:
        model.model_validate(given)
    except ValidationError as exc:
        bad = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}"
                        for e in exc.errors())
        raise ParameterError(f"options for driver {driver!r}: {bad}") from None
    for key in model.path_fields:
        if given.get(key):
            given[key] = str(inside(roots.data, given[key], f"options.{key}"))
    return given


# ----------------------------------------------------------------------------- campaign
def campaign_config_names(config_dir: Path = CONFIG_DIR) -> tuple[str, ...]:
    """Choices of the campaign form: configs/*.yaml (not the catalog or server profiles), and
    the choice of pasting campaign YAML instead."""
    names = sorted(p.stem for p in config_dir.glob("*.yaml")
                   if p.stem != "references" and not p.stem.startswith("server"))
    return (*names, UPLOADED)


def _campaign_from_mapping(raw: dict, upload_dir: Path, what: str) -> tuple[Campaign, Path]:
    """Validate a campaign mapping by writing it (atomically) and loading it like any file.

    The file is kept (named by its content hash) so the run can be reproduced from it.
    """
    text = yaml.safe_dump(raw, sort_keys=False)
    upload_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = upload_dir / f"{what}-{digest}.yaml"
    atomic.write_text(path, text)
    try:
        return load_campaign(path), path
    except CampaignError as exc:
        path.unlink(missing_ok=True)
        raise ParameterError(str(exc)) from None


UPLOADED = "uploaded-yaml"


def validate_campaign(config: str, campaign_yaml: str, roots: Roots) -> Path:
    """The campaign file to run: a config from configs/, or uploaded YAML checked against roots.

    ``config`` is a campaign name from configs/ or ``"uploaded-yaml"``, in which case (and only
    then) ``campaign_yaml`` holds the campaign. Returns the path of the validated campaign file.
    """
    has_yaml = bool(campaign_yaml and campaign_yaml.strip())
    if (config == UPLOADED) != has_yaml:
        raise ParameterError(
            f"config {config!r} and campaign_yaml disagree: choose config {UPLOADED!r} and paste "
            "the campaign into campaign_yaml, or choose a campaign from configs/ and leave "
            "campaign_yaml empty")
    if config != UPLOADED:
        if config not in campaign_config_names():
            raise ParameterError(f"config {config!r} is not one of {campaign_config_names()}")
        path = CONFIG_DIR / f"{config}.yaml"
        try:
            load_campaign(path)
        except CampaignError as exc:
            raise ParameterError(str(exc)) from None
        return path
    try:
        raw = yaml.safe_load(campaign_yaml)
    except yaml.YAMLError as exc:
        raise ParameterError(f"campaign_yaml is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ParameterError("campaign_yaml must be a YAML mapping of campaign fields")
    # user-given paths: relative ones are taken relative to the data root, all must stay inside
    # it (inputs) or the run root (outputs); the campaign file itself lands in the run root
    for model in raw.get("models") or []:
        if isinstance(model, dict):
            for key in ("prior", "posterior"):
                if model.get(key):
                    model[key] = str(inside(roots.data, model[key], f"models[].{key}"))
            options = model.get("options")
            for key in option_path_fields(model):
                if isinstance(options, dict) and options.get(key):
                    options[key] = str(inside(roots.data, options[key],
                                              f"models[].options.{key}"))
    forcing = raw.get("forcing")
    if isinstance(forcing, dict):
        for key in FORCING_DIRS:
            if forcing.get(key):
                forcing[key] = str(inside(roots.data, forcing[key], f"forcing.{key}"))
    refs = raw.get("references")
    if isinstance(refs, dict):
        for key in ("catalog", "ilamb_root"):
            if refs.get(key):
                refs[key] = str(inside(roots.data, refs[key], f"references.{key}"))
    raw["run_root"] = str(inside(roots.runs, raw.get("run_root") or ".", "run_root"))
    return _campaign_from_mapping(raw, roots.runs / ".uploads", "campaign")[1]


Collection = Annotated[str, Field(
    pattern=rf"^$|{NAME}", title="Collection",
    description="Runs of one collection are benchmarked together when each finishes (e.g. a "
    "campaign name shared by the groups' prior and posterior runs); empty: the run root itself")]


# ----------------------------------------------------------------------------- benchmark
def collection_runs(run_dir: Path) -> list[Path]:
    """The finished runs of a run directory's collection: its sibling run directories (same
    parent) with a campaign file and CalLMIP files, the given one included, sorted."""
    siblings = [p for p in run_dir.parent.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(p for p in siblings
                  if (p / "campaign.yaml").is_file() and any((p / "callmip").glob("*/*.nc")))


def validate_run_dir(run_dir: str, roots: Roots) -> Path:
    """A finished run directory inside the run root, with its campaign and CalLMIP files."""
    path = inside(roots.runs, run_dir, "run_dir")
    if not (path / "campaign.yaml").is_file():
        raise ParameterError(f"run_dir: {path} is not a run directory (no campaign.yaml)")
    if not any((path / "callmip").glob("*/*.nc")):
        raise ParameterError(f"run_dir: {path} has no CalLMIP files in callmip/: "
                             "the simulation has not finished")
    return path


# ----------------------------------------------------------------------------- intercomparison
Mode = Annotated[Literal["ilamb27", "ilamb3"], Field(
    title="Scoring mode", description="ilamb27: ILAMB 2.7.3 compatible scores (default); "
    "ilamb3: ilamb3 compatible")]
CheckPolicy = Annotated[Literal["flag", "skip"], Field(
    title="Checker policy", description="flag: score the variables the CalLMIP checker accepts "
    "and flag the file; skip: do not score a file with any checker error")]
UploadPaths = Annotated[list[Annotated[str, Field(pattern=REL_PATH)]], Field(
    min_length=1, title="Uploaded files or directories",
    description="CalLMIP global files, or directories searched for *.nc, relative to the data "
    "root, e.g. uploads/CLM5 (one entry per line)")]
OptionalDataPath = Annotated[str, Field(
    pattern=rf"^$|{REL_PATH}", title="Path in the data root",
    description="A file or directory relative to the data root; empty: the project's own")]
ReportName = Annotated[str, Field(
    pattern=NAME, title="Report name",
    description="The report is written to <run root>/intercomparison/<name>/")]


@dataclass(frozen=True)
class IntercomparisonInputs:
    """Validated inputs of the intercomparison deployment."""

    paths: list[Path]
    references: Path
    ilamb_root: Path
    out: Path


def validate_intercomparison(
    paths: list[str], references: str, ilamb_root: str, name: str, roots: Roots
) -> IntercomparisonInputs:
    """Every user-given path inside the data root (symlinks resolved), the report inside the run
    root; the project's own catalog and shipped ILAMB_ROOT when none is given."""
    problems: list[str] = []
    resolved = [_confined(roots.data, given, f"paths[{k}]", problems)
                for k, given in enumerate(paths)]
    chosen = {"references": REPO_ROOT / "configs" / "references.yaml",
              "ilamb_root": REPO_ROOT / "data" / "ILAMB_ROOT"}
    for what, given in (("references", references), ("ilamb_root", ilamb_root)):
        if given:
            chosen[what] = _confined(roots.data, given, what, problems)
    if problems:
        raise ParameterError("invalid intercomparison parameters:\n  - "
                             + "\n  - ".join(problems))
    out = inside(roots.runs, f"intercomparison/{name}", "name")
    return IntercomparisonInputs([p for p in resolved if p is not None],
                                 chosen["references"], chosen["ilamb_root"], out)
