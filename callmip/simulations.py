"""The simulations a campaign may run, and which drivers of change vary in each.

One home for these facts: the campaign schema (:mod:`callmip.config`) takes its allowed
simulation names from :data:`SIMULATIONS`, the experiment matrix (:mod:`flows.runs.matrix`)
builds each run's years from :attr:`SimulationSpec.varying`, the upload bundles describe each
experiment with :attr:`SimulationSpec.description`, and a driver declares which drivers of
change it responds to with the names in :data:`DRIVERS_OF_CHANGE`.

TRENDY (Global Carbon Budget, Friedlingstein et al.; protocol of the TRENDY DGVM
intercomparison): every simulation is spun up with pre-industrial CO2, the recycled early climate
(1901-1920), the land use of the year before the transient starts (1700) and, for models with a
nitrogen cycle, that year's N deposition; then

* S0 (control): nothing varies;
* S1: CO2 varies (and N deposition, for models with N cycle);
* S2: CO2 and climate vary (and N deposition);
* S3: CO2, climate, land-use change and N deposition vary.

CalLMIP protocol v2, section 10: the equivalent of TRENDY's S3 with all global change drivers,
and "a simulation that best matches the way the transient simulation was run for the site-level
calibrations and validations - with CO2 only (or CO2+LUC and/or N DEP/FERT if modeling groups
included these global change drivers in their site-level simulations)": CO2only, CO2LUC,
CO2Ndep and CO2LUCNdep. In the CO2-only family the climate keeps cycling, as in the site-level
transient (protocol section 8).

A driver of change that does not vary is held at its level of the year before the transient
starts (the spin-up level), taken from the same files as the varying one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: the drivers of change a simulation varies and a model may respond to
CLIMATE, CO2, LUC, NDEP = "climate", "CO2", "LUC", "Ndep"
DRIVERS_OF_CHANGE: tuple[str, ...] = (CLIMATE, CO2, LUC, NDEP)


def ignored_by(responds: Iterable[str]) -> tuple[str, ...]:
    """The drivers of change a model responding to ``responds`` ignores, in
    :data:`DRIVERS_OF_CHANGE` order (for ``callmip validate`` and the bundle READMEs)."""
    responds = set(responds)
    return tuple(d for d in DRIVERS_OF_CHANGE if d not in responds)


#: what each driver of change is, for messages and READMEs
DRIVER_MEANING = {
    CLIMATE: "climate (the forcing year's own weather; else the spin-up cycle recycled)",
    CO2: "atmospheric CO2 (TRENDY annual global means; SSP concentrations from 2015)",
    LUC: "land-use change (LUH2 states and transitions per year)",
    NDEP: "nitrogen deposition (NHx + NOy per year)",
}


@dataclass(frozen=True)
class SimulationSpec:
    """One simulation: its name, which drivers of change vary, and what it is for."""

    name: str
    varying: frozenset[str]
    family: str  # "TRENDY" or "CalLMIP CO2-only-equivalent"
    description: str

    def holds(self) -> tuple[str, ...]:
        """Drivers of change held at their spin-up level, in :data:`DRIVERS_OF_CHANGE` order."""
        return tuple(d for d in DRIVERS_OF_CHANGE if d not in self.varying)

    def summary(self) -> str:
        """One line: what varies and what is held."""
        varying = ", ".join(d for d in DRIVERS_OF_CHANGE if d in self.varying) or "nothing"
        held = ", ".join(self.holds()) or "nothing"
        return f"{self.name}: varies {varying}; held at spin-up levels: {held}"


def _spec(name: str, varying: tuple[str, ...], family: str, description: str) -> SimulationSpec:
    return SimulationSpec(name, frozenset(varying), family, description)


_TRENDY, _CO2ONLY = "TRENDY", "CalLMIP CO2-only-equivalent"
SIMULATIONS: dict[str, SimulationSpec] = {
    s.name: s
    for s in (
        _spec("S0", (), _TRENDY, "TRENDY S0 control: CO2, climate, land use and N deposition "
              "all held at their pre-transient levels (the model's drift)"),
        _spec("S1", (CO2, NDEP), _TRENDY, "TRENDY S1: CO2 (and N deposition) vary; climate "
              "recycled, land use held"),
        _spec("S2", (CLIMATE, CO2, NDEP), _TRENDY, "TRENDY S2: CO2, climate (and N deposition) "
              "vary; land use held"),
        _spec("S3", (CLIMATE, CO2, LUC, NDEP), _TRENDY, "TRENDY S3, the CalLMIP S3-equivalent "
              "(protocol v2 section 10): CO2, climate, land-use change and N deposition vary"),
        _spec("CO2only", (CO2,), _CO2ONLY, "CalLMIP CO2-only-equivalent (protocol v2 section "
              "10): only CO2 varies; climate keeps cycling as in the site-level transient"),
        _spec("CO2LUC", (CO2, LUC), _CO2ONLY, "CalLMIP CO2-only-equivalent, CO2+LUC variant "
              "(for groups whose site-level runs included land-use change)"),
        _spec("CO2Ndep", (CO2, NDEP), _CO2ONLY, "CalLMIP CO2-only-equivalent, CO2+N deposition "
              "variant (for groups whose site-level runs included N deposition)"),
        _spec("CO2LUCNdep", (CO2, LUC, NDEP), _CO2ONLY, "CalLMIP CO2-only-equivalent, "
              "CO2+LUC+N deposition variant"),
    )
}
SIMULATION_NAMES: tuple[str, ...] = tuple(SIMULATIONS)
#: the simulation whose end-of-2014 state starts the SSP x GCM scenario runs
SCENARIO_PARENT = "S3"


def simulation(name: str) -> SimulationSpec:
    """The spec of ``name``, or a ValueError naming the allowed simulations."""
    try:
        return SIMULATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown simulation {name!r}; allowed: {', '.join(SIMULATION_NAMES)}"
        ) from None


def transient_signature(spec: SimulationSpec, responds_to: frozenset[str]) -> tuple[str, ...]:
    """What varies during the transient before the historical climate (climate never does: it
    recycles the spin-up cycle there), restricted to what the model responds to.

    Simulations with the same signature share one transient run: e.g. for a model without an
    N cycle, S2 and S1 share theirs with CO2only.
    """
    return tuple(d for d in (CO2, LUC, NDEP) if d in spec.varying and d in responds_to)
