"""The registered drivers: a campaign's ``models[].driver`` name -> driver class."""

from __future__ import annotations

from pathlib import Path

from callmip.drivers.base import DriverOptions, ModelDriver
from callmip.drivers.cable_pop.driver import CablePopDriver
from callmip.drivers.celm import CelmDriver
from callmip.drivers.classic import ClassicDriver
from callmip.drivers.clm import ClmDriver
from callmip.drivers.orchidee import OrchideeDriver

#: driver name (as in a campaign's ``models[].driver``) -> driver class
DRIVERS: dict[str, type[ModelDriver]] = {
    "celm": CelmDriver,
    "cable_pop": CablePopDriver,
    "orchidee": OrchideeDriver,
    "clm": ClmDriver,
    "classic": ClassicDriver,
}


def get_driver(name: str, options: DriverOptions | dict | None = None,
               workspace: Path | None = None) -> ModelDriver:
    """The driver registered under ``name``, configured by a campaign's ``options``; its
    ``workspace`` is where it keeps the campaign's model-level files."""
    try:
        cls = DRIVERS[name]
    except KeyError:
        raise ValueError(f"unknown model driver {name!r}; known: {sorted(DRIVERS)}") from None
    return cls.from_options(options, workspace=workspace)
