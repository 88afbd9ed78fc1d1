"""The CalLMIP variable table (protocol v2, Table 3) as data.

Units are the strings the protocol says to write *exactly*; standard names are the CMIP6/CF ones
where the variable is a CMIP variable (reco and cLiveBioAbove are not and have none). The ranges
are generous physical bounds for monthly or coarser global means, used by the checker to catch
unit mistakes (a factor 86400 or 1000 falls far outside them), not to judge science.
"""

from __future__ import annotations

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
        ),
        CalLMIPVariable(
            "hfls", "Latent heat flux", "W m-2", "surface_upward_latent_heat_flux", -100, 600,
            optimised=True,
        ),
        CalLMIPVariable(
            "hfss", "Sensible heat flux", "W m-2", "surface_upward_sensible_heat_flux", -300, 600,
            optimised=True,
        ),
        CalLMIPVariable(
            "gpp",
            "Gross primary production",
            "kgC m-2 s-1",
            "gross_primary_productivity_of_biomass_expressed_as_carbon",
            0,
            2e-6,
        ),
        CalLMIPVariable("reco", "Total ecosystem respiration", "kgC m-2 s-1", None, 0, 2e-6),
        CalLMIPVariable("tran", "Transpiration", "kg m-2 s-1", "transpiration_flux", -1e-5, 5e-4),
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
        ),
        CalLMIPVariable(
            "hfg", "Ground heat flux", "W m-2", "downward_heat_flux_in_soil", -300, 300,
            required=False,
        ),
        CalLMIPVariable("ts", "Land surface temperature", "K", "surface_temperature", 150, 350),
        CalLMIPVariable(
            "lai", "Leaf area index", "1", "leaf_area_index", 0, 20, alt_units=("m2 m-2",)
        ),
        CalLMIPVariable(
            "cLiveBioAbove", "Carbon mass in all aboveground live biomass pools", "kg m-2",
            None, 0, 100,
        ),
        CalLMIPVariable(
            "cSoil", "Carbon mass in all soil pools", "kg m-2", "soil_mass_content_of_carbon",
            0, 500,
        ),
        CalLMIPVariable(
            "mrso", "Total soil column moisture content", "kg m-2",
            "mass_content_of_water_in_soil", 0, 10000,
        ),
        CalLMIPVariable(
            "mrsos", "Moisture in upper portion of soil column (top 10 cm)", "kg m-2",
            "mass_content_of_water_in_soil_layer", 0, 1000,
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
    model: str, version: str, resolution: float, freq: str, y0: int, y1: int, stage: str
) -> str:
    """``<model>.<version>_global_<res>_<freq>_<YYYY-YYYY>_<Prior|Posterior>.nc`` (protocol s7)."""
    return (
        f"{model}.{version}_global_{RESOLUTION_LABELS[resolution]}_{freq}_"
        f"{y0:04d}-{y1:04d}_{stage}.nc"
    )
