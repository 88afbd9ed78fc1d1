"""The few CMIP6 (Amon) variable definitions the bridge writes, and how references map to them.

Kept as data here (not read from ESMValCore's tables) so the layout can be written without the
optional extra installed; a test checks these entries against ESMValCore's own CMIP6 tables.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CmorVariable:
    """A CMIP6 Amon variable entry (the attributes ESMValCore's CMOR checker compares)."""

    short_name: str
    standard_name: str
    long_name: str
    units: str
    positive: str = ""
    mip: str = "Amon"


CMOR_VARIABLES: dict[str, CmorVariable] = {
    "hfls": CmorVariable(
        "hfls", "surface_upward_latent_heat_flux", "Surface Upward Latent Heat Flux", "W m-2",
        "up",
    ),
    "hfss": CmorVariable(
        "hfss", "surface_upward_sensible_heat_flux", "Surface Upward Sensible Heat Flux",
        "W m-2", "up",
    ),
    "evspsbl": CmorVariable(
        "evspsbl", "water_evapotranspiration_flux",
        "Evaporation Including Sublimation and Transpiration", "kg m-2 s-1",
    ),
}


@dataclass(frozen=True)
class Obs6Dataset:
    """How one reference product is named as an ESMValTool OBS6 dataset."""

    dataset: str
    tier: int
    type: str
    version: str
    reference: str  # BibTeX key written next to the recipe


#: Catalog product name -> OBS6 naming (ESMValTool's own CMORizers use these dataset names).
OBS6_NAMES: dict[str, Obs6Dataset] = {
    "FLUXCOM": Obs6Dataset("FLUXCOM", 3, "reanaly", "ANN-v1", "jung19"),
    "GLEAM4.2a": Obs6Dataset("GLEAM", 2, "sat", "v4.2a", "miralles25"),
}


def obs6_name(product: str) -> Obs6Dataset:
    """The OBS6 naming of a catalog product (an unknown product gets a safe generic name)."""
    if product in OBS6_NAMES:
        return OBS6_NAMES[product]
    safe = "".join(c if c.isalnum() or c == "-" else "-" for c in product)
    return Obs6Dataset(safe, 3, "reanaly", "v1", "")
