"""The experiment matrix: which model runs a campaign needs, in which order, from which restart.

For every model and experiment (prior, posterior; posterior ensemble members share the central
posterior's spin-up and transient) the chain is::

    spin-up (cycles of spinup_cycle years at 1850 CO2)
      -> transient (transient_start .. first historical year - 1: climate recycled, CO2 historical)
        -> S3       (historical years with their own climate and CO2)
        -> CO2only  (historical years, climate still recycled, CO2 historical)
        S3 state at the end of 2014
          -> <ssp>_<gcm> (2015..scenario_end: ISIMIP3b climate of that GCM, CO2 of that SSP)

Each run is split into segments of at most ``scheduler.segment_years`` simulated years that chain
through restart files, so no batch job needs to outlive its walltime.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from callmip.config import SCENARIO_FIRST_YEAR, Campaign, ModelConfigBase
from callmip.drivers.base import YearSpec
from callmip.protocol import PREINDUSTRIAL_CO2_PPM



@dataclass(frozen=True)
class Member:
    """One parameter set of one model: a spin-up + transient chain."""

    model: ModelConfigBase
    experiment: str  # prior | posterior
    params_file: Path

    @property
    def label(self) -> str:
        return f"{self.model.name}.{self.model.version}_{self.experiment}"

    @property
    def stage(self) -> str:
        return "Prior" if self.experiment == "prior" else "Posterior"


@dataclass(frozen=True)
class RunPlan:
    """One run (all its years) of one member, before segmentation."""

    run_id: str
    member: Member
    simulation: str  # transient | S3 | CO2only | <ssp>_<gcm>
    years: tuple[YearSpec, ...]
    ensemble_member: int | None = None
    scenario: tuple[str, str] | None = None  # (ssp, gcm) of a 2015-2100 run


def scenario_label(ssp: str, gcm: str) -> str:
    """Name of a scenario simulation, e.g. ``ssp585_gfdl-esm4`` (run ids, directories)."""
    return f"{ssp}_{gcm}"


def recycled(year: int, first: int, cycle: tuple[int, int]) -> int:
    """Forcing year used for ``year`` when recycling ``cycle`` from ``first`` onwards."""
    a, b = cycle
    return a + (year - first) % (b - a + 1)


def spinup_years(campaign: Campaign) -> tuple[YearSpec, ...]:
    a, b = campaign.periods.spinup_cycle
    return tuple(YearSpec(y, y, PREINDUSTRIAL_CO2_PPM) for y in range(a, b + 1))


def transient_years(campaign: Campaign, co2: dict[int, float]) -> tuple[YearSpec, ...]:
    p = campaign.periods
    first, last = p.transient_start, p.historical[0] - 1
    return tuple(
        YearSpec(y, recycled(y, first, p.spinup_cycle), co2[y]) for y in range(first, last + 1)
    )


def historical_years(
    campaign: Campaign, simulation: str, co2: dict[int, float]
) -> tuple[YearSpec, ...]:
    p = campaign.periods
    h0, h1 = p.historical
    if simulation == "S3":
        return tuple(YearSpec(y, y, co2[y]) for y in range(h0, h1 + 1))
    if simulation == "CO2only":
        # climate keeps cycling after the transient, exactly as in the site-level protocol
        return tuple(
            YearSpec(y, recycled(y, p.transient_start, p.spinup_cycle), co2[y])
            for y in range(h0, h1 + 1)
        )
    raise ValueError(f"unknown simulation {simulation!r}")


def members(campaign: Campaign, params_dir: Path) -> list[Member]:
    """Parameter sets to spin up: one per model and experiment."""
    out = []
    for model in campaign.models:
        for exp in campaign.experiments:
            out.append(Member(model, exp, params_dir / f"{model.name}.{model.version}_{exp}.json"))
    return out


def historical_runs(campaign: Campaign, member: Member, co2: dict[int, float]) -> list[RunPlan]:
    """The historical runs of one member (per simulation, and per ensemble member if any)."""
    plans = []
    n_ens = member.model.ensemble_members if member.experiment == "posterior" else 0
    for sim in campaign.simulations:
        years = historical_years(campaign, sim, co2)
        plans.append(RunPlan(f"{member.label}_{sim}", member, sim, years))
        for k in range(n_ens):
            plans.append(RunPlan(f"{member.label}_m{k:03d}_{sim}", member, sim, years, k))
    return plans


def scenario_runs(
    campaign: Campaign, member: Member, co2_by_ssp: dict[str, dict[int, float]]
) -> list[RunPlan]:
    """The 2015-``scenario_end`` runs of one member: one per SSP and GCM (central parameters).

    Each starts from the member's S3 state at the end of 2014 (see :func:`scenario_branch_year`);
    its climate is the GCM's ISIMIP3b forcing of that SSP and its CO2 the SSP's concentrations.
    """
    first, last = SCENARIO_FIRST_YEAR, campaign.periods.scenario_end
    plans = []
    for ssp in campaign.scenarios:
        co2 = co2_by_ssp[ssp]
        years = tuple(YearSpec(y, y, co2[y]) for y in range(first, last + 1))
        for gcm in campaign.scenario_gcms:
            label = scenario_label(ssp, gcm)
            plans.append(RunPlan(f"{member.label}_{label}", member, label, years,
                                 scenario=(ssp, gcm)))
    return plans


def scenario_branch_year(campaign: Campaign) -> int | None:
    """Last S3 year whose end state starts the scenarios (the S3 run gets a restart there)."""
    return SCENARIO_FIRST_YEAR - 1 if campaign.scenarios else None


def segments(
    years: tuple[YearSpec, ...], segment_years: int, break_after: tuple[int, ...] = ()
) -> list[tuple[YearSpec, ...]]:
    """Split a run into walltime-sized segments that chain through restarts.

    A segment also ends after every year in ``break_after`` (e.g. 2014 in an S3 run, so the
    scenario runs have a restart file to branch from).
    """
    out: list[tuple[YearSpec, ...]] = []
    current: list[YearSpec] = []
    for spec in years:
        current.append(spec)
        if len(current) == segment_years or spec.year in break_after:
            out.append(tuple(current))
            current = []
    if current:
        out.append(tuple(current))
    return out
