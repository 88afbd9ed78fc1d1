"""Model drivers: how each model's inputs are rendered, run and mapped to CalLMIP."""

from callmip.drivers.base import Mapping, ModelDriver, ModelRun, Term, YearSpec
from callmip.drivers.celm import CelmDriver

#: driver name (as in a campaign's ``models[].driver``) -> driver class
DRIVERS: dict[str, type[ModelDriver]] = {"celm": CelmDriver}


def get_driver(name: str) -> ModelDriver:
    """Instantiate the driver registered under ``name``."""
    try:
        return DRIVERS[name]()
    except KeyError:
        raise ValueError(f"unknown model driver {name!r}; known: {sorted(DRIVERS)}") from None


__all__ = ["DRIVERS", "CelmDriver", "Mapping", "ModelDriver", "ModelRun", "Term", "YearSpec",
           "get_driver"]
