"""The CalLMIP variable table (protocol v2, Table 3) as data.

Units are the strings the protocol says to write *exactly*; standard names are the CMIP6/CF ones
where the variable is a CMIP variable (reco and cLiveBioAbove are not and have none). The ranges
are generous physical bounds used by the checker to catch unit mistakes (a factor 86400 or 1000
falls far outside them), not to judge science: ``valid_min/max`` for monthly or coarser global
means, ``site_min/max`` for the daily means of one flux-tower site (Phase 1 site files), where
the shipped FLUXNET2015 towers span -12..6 gC m-2 d-1 of NEE, -54..204 W m-2 of Qle and
-210..230 W m-2 of Qh.

Also here: the one formatter and parser of CalLMIP file names, global
(``<model>.<version>_global_<res>_<freq>_<YYYY-YYYY>_<Prior|Posterior>.nc``) and site
(``<model>.<version>_Phase1b_Scen<N>_<Site>_<Cal|Val>_<Prior|Posterior>.nc``, protocol v2
section 7).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CalLMIPVariable:
    """One row of Table 3."""

    name: str
    long_name: str
    units: str
    standard_name: str | None
    valid_min: float
    valid_max: float
    optimised: bool = False  # NEE, LE and H are the calibration targets: need _post_unc
    alt_units: tuple[str, ...] = ()
    required: bool = True  # hfg: "output only if your model outputs this variable"
    site_min: float | None = None  # daily mean at one site; None: the global bounds
    site_max: float | None = None
    #: short name for report tables and benchmark files (long_name is the protocol's wording)
    label: str = ""

    def bounds(self, site: bool) -> tuple[float, float]:
        """Plausible (min, max): daily site values when ``site``, else global means."""
        if site:
            return (
                self.valid_min if self.site_min is None else self.site_min,
                self.valid_max if self.site_max is None else self.site_max,
            )
        return self.valid_min, self.valid_max


TABLE: dict[str, CalLMIPVariable] = {
    v.name: v
    for v in (
        CalLMIPVariable(
            "nep",
            "Net ecosystem productivity (positive into the land)",
            "kgC m-2 s-1",
            "surface_net_downward_mass_flux_of_carbon_dioxide_expressed_as_carbon_due_to_all_"
            "land_processes_excluding_anthropogenic_land_use_change",
            -2e-6,
            2e-6,
            optimised=True,
            site_min=-4e-7,  # +-35 gC m-2 d-1
            site_max=4e-7,
            label="Net ecosystem productivity",
        ),
        CalLMIPVariable(
            "hfls", "Latent heat flux", "W m-2", "surface_upward_latent_heat_flux", -100, 600,
            optimised=True, site_min=-100, site_max=450,
            label="Latent heat flux",
        ),
        CalLMIPVariable(
            "hfss", "Sensible heat flux", "W m-2", "surface_upward_sensible_heat_flux", -300, 600,
            optimised=True, site_min=-300, site_max=450,
            label="Sensible heat flux",
        ),
        CalLMIPVariable(
            "gpp",
            "Gross primary production",
            "kgC m-2 s-1",
            "gross_primary_productivity_of_biomass_expressed_as_carbon",
            0,
            2e-6,
            site_min=-1e-9,
            site_max=4e-7,
            label="Gross primary production",
        ),
        CalLMIPVariable(
            "reco", "Total ecosystem respiration", "kgC m-2 s-1", None, 0, 2e-6, site_max=3e-7,
            label="Ecosystem respiration",
        ),
        CalLMIPVariable(
            "tran", "Transpiration", "kg m-2 s-1", "transpiration_flux", -1e-5, 5e-4,
            site_min=-1e-5, site_max=1.5e-4,  # 13 mm d-1
            label="Transpiration",
        ),
        CalLMIPVariable(
            "evspsblsoi",
            "Evaporation from soil (including sublimation)",
            "kg m-2 s-1",
            "water_evaporation_flux_from_soil",
            # deposition on soil and snow can dominate a month: CABLE-POP gave -1.3e-5
            # (-1.1 mm/d, hfls -21 W m-2) at 49N in a snowmelt May; the bound matches hfls's
            # -100 W m-2 (-4e-5 kg m-2 s-1) and still catches a factor 1000 or 86400
            -4e-5,
            5e-4,
            site_min=-2e-5,
            site_max=1.5e-4,
            label="Soil evaporation",
        ),
        CalLMIPVariable(
            "hfg", "Ground heat flux", "W m-2", "downward_heat_flux_in_soil", -300, 300,
            required=False, site_min=-200, site_max=200,
            label="Ground heat flux",
        ),
        CalLMIPVariable(
            "ts", "Land surface temperature", "K", "surface_temperature", 150, 350,
            site_min=200, site_max=340,
            label="Surface temperature",
        ),
        CalLMIPVariable(
            "lai", "Leaf area index", "1", "leaf_area_index", 0, 20, alt_units=("m2 m-2",),
            site_max=15,
            label="Leaf area index",
        ),
        CalLMIPVariable(
            "cLiveBioAbove", "Carbon mass in all aboveground live biomass pools", "kg m-2",
            None, 0, 100,
            label="Above-ground live biomass carbon",
        ),
        CalLMIPVariable(
            "cSoil", "Carbon mass in all soil pools", "kg m-2", "soil_mass_content_of_carbon",
            0, 500,
            label="Soil carbon",
        ),
        CalLMIPVariable(
            "mrso", "Total soil column moisture content", "kg m-2",
            "mass_content_of_water_in_soil", 0, 10000,
            label="Total soil moisture",
        ),
        CalLMIPVariable(
            "mrsos", "Moisture in upper portion of soil column (top 10 cm)", "kg m-2",
            "mass_content_of_water_in_soil_layer", 0, 1000,
            site_max=100,  # 10 cm of soil hold at most 100 kg m-2 of water
            label="Surface soil moisture",
        ),
    )
}

#: suffix of the posterior-uncertainty variables (protocol section 6.2: "nep_post_unc")
POST_UNC_SUFFIX = "_post_unc"
#: variables optimised in the calibration (NEE, LE, H), which need ``<var>_post_unc``
OPTIMISED: tuple[str, ...] = tuple(v.name for v in TABLE.values() if v.optimised)


def post_unc_name(name: str) -> str:
    """``nep`` -> ``nep_post_unc``."""
    return f"{name}{POST_UNC_SUFFIX}"


def post_unc_parent(name: str) -> str | None:
    """``nep_post_unc`` -> ``nep``; None for any other name."""
    if name.endswith(POST_UNC_SUFFIX):
        return name[: -len(POST_UNC_SUFFIX)]
    return None


#: required global attributes (protocol section 6.3) and their allowed values (None: any)
REQUIRED_GLOBAL_ATTRS: dict[str, tuple[str, ...] | None] = {
    "Model": None,
    "CalLMIP_Phase": ("Phase1a", "Phase1b"),
    "Calibration_Scenario": ("Scen1", "Scen2", "Scen3", "Scen4", "Scen5", "Scen6"),
    "Calibration_stage": ("Prior", "Posterior"),
    "Cal_Val": ("Calibration", "Validation"),
}

RESOLUTION_LABELS = {0.5: "0.5deg", 1: "1deg", 2: "2deg"}
FREQUENCIES = ("monthly", "annual")


def global_file_name(
    model: str, version: str, resolution: float | str, freq: str, y0: int, y1: int, stage: str
) -> str:
    """``<model>.<version>_global_<res>_<freq>_<YYYY-YYYY>_<Prior|Posterior>.nc`` (protocol s7).

    ``resolution`` in degrees (0.5, 1, 2) or as its label ("0.5deg", "1deg", "2deg")."""
    label = resolution if isinstance(resolution, str) else RESOLUTION_LABELS[resolution]
    return f"{model}.{version}_global_{label}_{freq}_{y0:04d}-{y1:04d}_{stage}.nc"


#: global file names (protocol v2 section 7); the checker also accepts daily files
GLOBAL_FILE_NAME = re.compile(
    r"^(?P<model>[A-Za-z0-9-]+)\.(?P<version>[A-Za-z0-9.-]+)_global_"
    r"(?P<res>0\.5deg|1deg|2deg)_(?P<freq>monthly|annual|daily)_"
    r"(?P<y0>\d{4})-(?P<y1>\d{4})_(?P<stage>Prior|Posterior)\.nc$"
)


@dataclass(frozen=True)
class _ModelFileName:
    """What global and site file names share: they start with ``<model>.<version>_``."""

    model: str
    version: str

    @property
    def model_id(self) -> str:
        """``<model>.<version>``, the ``Model`` global attribute."""
        return f"{self.model}.{self.version}"


@dataclass(frozen=True)
class GlobalFileName(_ModelFileName):
    """The parts of a global file name."""

    resolution: str  # 0.5deg | 1deg | 2deg
    frequency: str  # monthly | annual | daily
    y0: int
    y1: int
    stage: str  # Prior | Posterior

    @property
    def years(self) -> str:
        """``YYYY-YYYY`` as in the name."""
        return f"{self.y0:04d}-{self.y1:04d}"

    @property
    def name(self) -> str:
        return global_file_name(self.model, self.version, self.resolution, self.frequency,
                                self.y0, self.y1, self.stage)


def parse_global_file_name(name: str) -> GlobalFileName | None:
    """The parts of a global file name, or None when ``name`` does not follow the protocol."""
    m = GLOBAL_FILE_NAME.match(name)
    if m is None:
        return None
    return GlobalFileName(m["model"], m["version"], m["res"], m["freq"], int(m["y0"]),
                          int(m["y1"]), m["stage"])


#: site file names (protocol v2 section 7); Phase1a files (DK-Sor test) follow the same pattern
SITE_FILE_NAME = re.compile(
    r"^(?P<model>[A-Za-z0-9-]+)\.(?P<version>[A-Za-z0-9.-]+)_(?P<phase>Phase1[ab])_"
    r"Scen(?P<scenario>[1-6])_(?P<site>[A-Z]{2}-[A-Za-z0-9]{3})_(?P<calval>Cal|Val)_"
    r"(?P<stage>Prior|Posterior)\.nc$"
)
#: the Cal/Val label of the file name and the matching ``Cal_Val`` attribute value
CAL_VAL = {"Cal": "Calibration", "Val": "Validation"}


@dataclass(frozen=True)
class SiteFileName(_ModelFileName):
    """The parts of a Phase 1 site file name."""

    phase: str
    scenario: int
    site: str
    calval: str  # Cal | Val
    stage: str  # Prior | Posterior

    @property
    def name(self) -> str:
        return site_file_name(self.model, self.version, self.scenario, self.site, self.calval,
                              self.stage, phase=self.phase)


def site_file_name(
    model: str, version: str, scenario: int, site: str, calval: str, stage: str,
    phase: str = "Phase1b",
) -> str:
    """``<model>.<version>_Phase1b_Scen<N>_<Site>_<Cal|Val>_<Prior|Posterior>.nc``."""
    return f"{model}.{version}_{phase}_Scen{scenario}_{site}_{calval}_{stage}.nc"


def parse_site_file_name(name: str) -> SiteFileName | None:
    """The parts of a site file name, or None when ``name`` does not follow the protocol."""
    m = SITE_FILE_NAME.match(name)
    if m is None:
        return None
    return SiteFileName(m["model"], m["version"], m["phase"], int(m["scenario"]), m["site"],
                        m["calval"], m["stage"])
