"""The few CMIP6 (Amon) variable definitions the bridge writes, and how references map to them.

Standard names and units come from the one CalLMIP variable table; the CMIP6 long names and
signs are kept here (not read from ESMValCore's tables) so the layout can be written without the
optional extra installed; a test checks these entries against ESMValCore's own CMIP6 tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.variables import DERIVED
from callmip.conform.table import TABLE


@dataclass(frozen=True)
class CmorVariable:
    """A CMIP6 Amon variable entry (the attributes ESMValCore's CMOR checker compares)."""

    short_name: str
    standard_name: str
    long_name: str
    units: str
    positive: str = ""
    mip: str = "Amon"


def _cmip6(name: str, long_name: str, positive: str = "") -> CmorVariable:
    """The CMIP6 Amon entry of a CalLMIP (or derived) variable: standard name and units come
    from the one CalLMIP table (:mod:`callmip.conform.table`, derived ones from
    :data:`benchmarks.variables.DERIVED`); the long name and ``positive`` are CMIP6's own."""
    row = TABLE.get(name) or DERIVED[name]
    return CmorVariable(name, row.standard_name, long_name, row.units, positive)


CMOR_VARIABLES: dict[str, CmorVariable] = {
    "hfls": _cmip6("hfls", "Surface Upward Latent Heat Flux", "up"),
    "hfss": _cmip6("hfss", "Surface Upward Sensible Heat Flux", "up"),
    "evspsbl": _cmip6("evspsbl", "Evaporation Including Sublimation and Transpiration"),
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
