"""Model drivers: how each model's inputs are rendered, run and mapped to CalLMIP."""

from callmip.drivers.base import (
    Mapping,
    ModelDriver,
    ModelRun,
    NativeOutputError,
    Term,
    YearSpec,
)
from callmip.drivers.cable_pop import CablePopDriver
from callmip.drivers.celm import CelmDriver
from callmip.drivers.classic import ClassicDriver
from callmip.drivers.clm import ClmDriver
from callmip.drivers.orchidee import OrchideeDriver
from callmip.drivers.render import RenderError

#: driver name (as in a campaign's ``models[].driver``) -> driver class
DRIVERS: dict[str, type[ModelDriver]] = {
    "celm": CelmDriver,
    "cable_pop": CablePopDriver,
    "orchidee": OrchideeDriver,
    "clm": ClmDriver,
    "classic": ClassicDriver,
}


def get_driver(name: str) -> ModelDriver:
    """Instantiate the driver registered under ``name``."""
    try:
        return DRIVERS[name]()
    except KeyError:
        raise ValueError(f"unknown model driver {name!r}; known: {sorted(DRIVERS)}") from None


__all__ = ["DRIVERS", "CablePopDriver", "CelmDriver", "ClassicDriver", "ClmDriver", "Mapping",
           "ModelDriver", "ModelRun", "NativeOutputError", "OrchideeDriver", "RenderError",
           "Term", "YearSpec", "get_driver"]
