"""The experiment matrix: which model runs a campaign needs, in which order, from which restart.

For every model and experiment (prior, posterior; posterior ensemble members share the central
posterior's spin-up and transient) the chain is::

    spin-up (cycles of spinup_cycle years; CO2, land use and N deposition held at the levels of
             the year before the transient starts, from the same files)
      -> transient (transient_start .. first historical year - 1: climate recycled; CO2, land
                    use and N deposition vary as the simulation says, else held) - one per
                    distinct set of varying drivers the model responds to
        -> <simulation> (historical years: S0-S3, CO2only, CO2LUC, CO2Ndep, CO2LUCNdep; what
                         varies is callmip.simulations' table; climate varies only here)
        S3 state at the end of 2014
          -> <ssp>_<gcm> (2015..scenario_end: ISIMIP3b climate of that GCM, CO2, land use and N
                          deposition of that SSP)

Each run is split into segments of at most ``scheduler.segment_years`` simulated years that chain
through restart files, so no batch job needs to outlive its walltime.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from callmip.config import Campaign, ModelConfigBase
from callmip.constants import PREINDUSTRIAL_CO2_PPM, SCENARIO_FIRST_YEAR
from callmip.drivers.base import YearSpec
from callmip.simulations import (
    CLIMATE,
    CO2,
    LUC,
    NDEP,
    SCENARIO_PARENT,
    SimulationSpec,
    simulation,
    transient_signature,
)


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


def level_year(campaign: Campaign) -> int:
    """The year whose CO2, land use and N deposition hold through spin-up (and through a
    simulation that does not vary them): the year before the transient starts."""
    return campaign.periods.transient_start - 1


def spinup_co2(campaign: Campaign, co2: dict[int, float]) -> float:
    """Spin-up CO2: the file's value of :func:`level_year`, or the CalLMIP site protocol's
    287.42 ppm with ``spinup.forcing_levels: callmip_site``."""
    if campaign.spinup.forcing_levels == "callmip_site":
        return PREINDUSTRIAL_CO2_PPM
    year = level_year(campaign)
    if year not in co2:
        raise ValueError(f"no CO2 for {year}, the year before periods.transient_start: the "
                         f"CO2 file covers {min(co2)}-{max(co2)}")
    return co2[year]


def spinup_years(campaign: Campaign, co2: dict[int, float] | None = None) -> tuple[YearSpec, ...]:
    """One cycle of the spin-up: the spin-up forcing years at the levels of :func:`level_year`."""
    if co2 is None:
        from forcing.co2 import read_trendy_co2

        co2 = read_trendy_co2()
    a, b = campaign.periods.spinup_cycle
    level, ppm = level_year(campaign), spinup_co2(campaign, co2)
    return tuple(YearSpec(y, y, ppm, level, level) for y in range(a, b + 1))


def simulation_years(
    campaign: Campaign, spec: SimulationSpec, first: int, last: int, co2: dict[int, float]
) -> tuple[YearSpec, ...]:
    """Years ``first..last`` of ``spec``: each driver of change it varies takes the year's own
    value, the others stay at the spin-up level. Climate varies only in the historical period
    (before it the spin-up cycle keeps recycling, continuing from transient_start)."""
    p = campaign.periods
    level, held_co2 = level_year(campaign), spinup_co2(campaign, co2)
    varying = spec.varying
    out = []
    for y in range(first, last + 1):
        climate = CLIMATE in varying and y >= p.historical[0]
        out.append(YearSpec(
            year=y,
            forcing_year=y if climate else recycled(y, p.transient_start, p.spinup_cycle),
            co2_ppm=co2[y] if CO2 in varying else held_co2,
            landuse_year=y if LUC in varying else level,
            ndep_year=y if NDEP in varying else level,
        ))
    return tuple(out)


def transient_years(
    campaign: Campaign, co2: dict[int, float], spec: SimulationSpec | None = None
) -> tuple[YearSpec, ...]:
    """The transient (transient_start .. first historical year - 1) of ``spec`` (default S3)."""
    p = campaign.periods
    spec = spec or simulation(SCENARIO_PARENT)
    return simulation_years(campaign, spec, p.transient_start, p.historical[0] - 1, co2)


def historical_years(
    campaign: Campaign, simulation_name: str, co2: dict[int, float]
) -> tuple[YearSpec, ...]:
    h0, h1 = campaign.periods.historical
    return simulation_years(campaign, simulation(simulation_name), h0, h1, co2)


@dataclass(frozen=True)
class TransientPlan:
    """One transient run of a member, shared by the simulations with the same signature."""

    run_id: str
    member: Member
    signature: tuple[str, ...]
    simulations: tuple[str, ...]
    years: tuple[YearSpec, ...]


def transient_id(member: Member, signature: tuple[str, ...]) -> str:
    """Run id of a transient, e.g. ``CELM-A.v1_prior_transient_CO2LUC`` (``_fixed``: S0)."""
    return f"{member.label}_transient_{''.join(signature) or 'fixed'}"


def transient_runs(
    campaign: Campaign, member: Member, co2: dict[int, float], responds_to: frozenset[str]
) -> list[TransientPlan]:
    """The member's transients: one per distinct set of drivers of change that vary before the
    historical period and that the model responds to (``responds_to``, from its driver's
    capabilities), so e.g. S2 and CO2only share one for a model without an N cycle."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for name in campaign.simulations:
        groups.setdefault(transient_signature(simulation(name), responds_to), []).append(name)
    return [
        TransientPlan(transient_id(member, sig), member, sig, tuple(sims),
                      transient_years(campaign, co2, simulation(sims[0])))
        for sig, sims in groups.items()
    ]


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
        # everything varies, as in the S3 run they branch from (the SSP's land use and N
        # deposition are prepared per SSP, see flows.pipeline)
        years = tuple(YearSpec(y, y, co2[y], y, y) for y in range(first, last + 1))
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
