"""The CalLMIP variable table as the benchmark stage sees it, plus derived variables.

Contract: :data:`CALLMIP_UNITS` holds the units each CalLMIP (protocol v2, Table 3) variable
must carry in a conformed file, exactly as written there - taken from the one CalLMIP table,
:mod:`callmip.conform.table`, as are the alternative spellings the protocol allows
(:func:`accepted_units`: lai in ``1`` or ``m2 m-2``). :data:`SEMANTIC_UNITS` is the unit
the benchmark converts from (carbon stocks written ``kg m-2`` are carbon masses, ``kgC m-2``).
:data:`DERIVED` defines variables a reference product may need that models do not write
directly (total evapotranspiration from the latent heat flux) - each derivation in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from benchmarks.units import latent_heat_to_evaporation
from callmip.conform.table import TABLE

CALLMIP_UNITS: Mapping[str, str] = MappingProxyType({n: v.units for n, v in TABLE.items()})

SEMANTIC_UNITS: Mapping[str, str] = MappingProxyType(
    {**CALLMIP_UNITS, "cLiveBioAbove": "kgC m-2", "cSoil": "kgC m-2"}
)

@dataclass(frozen=True)
class Derived:
    """A variable computed from CalLMIP variables."""

    inputs: tuple[str, ...]
    units: str
    compute: Callable[..., np.ndarray]
    formula: str
    label: str
    standard_name: str


DERIVED: Mapping[str, Derived] = MappingProxyType(
    {
        "evspsbl": Derived(
            inputs=("hfls",),
            units="kg m-2 s-1",
            compute=latent_heat_to_evaporation,
            formula="evspsbl = hfls / L_v (L_v = 2.501e6 J kg-1)",
            label="Evapotranspiration",
            standard_name="water_evapotranspiration_flux",
        ),
    }
)

#: short names for tables and files: the CalLMIP table's labels and the derived variables'
LONG_NAMES: Mapping[str, str] = MappingProxyType(
    {**{n: v.label for n, v in TABLE.items()}, **{n: d.label for n, d in DERIVED.items()}}
)


def accepted_units(name: str) -> tuple[str, ...]:
    """Unit strings a conformed file may carry for CalLMIP variable ``name``."""
    row = TABLE[name]
    return (row.units, *row.alt_units)


def known_variable(name: str) -> bool:
    """True for a CalLMIP variable or a derived one."""
    return name in CALLMIP_UNITS or name in DERIVED


def semantic_units(name: str) -> str:
    """Units in which the benchmark reads a (CalLMIP or derived) variable."""
    if name in DERIVED:
        return DERIVED[name].units
    return SEMANTIC_UNITS[name]
