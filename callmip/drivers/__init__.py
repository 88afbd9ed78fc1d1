"""Model drivers: how each model's inputs are rendered, run and mapped to CalLMIP.

Names are imported on first use (PEP 562), so a job-side launcher such as
``python -m callmip.drivers.cable_pop.launch`` does not pay for importing every driver (and
xarray) before its model starts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> module that defines it
_EXPORTS = {
    "Capabilities": "callmip.drivers.base",
    "DriverOptions": "callmip.drivers.base",
    "Mapping": "callmip.drivers.base",
    "ModelDriver": "callmip.drivers.base",
    "ModelRun": "callmip.drivers.base",
    "NativeOutputError": "callmip.drivers.base",
    "Term": "callmip.drivers.base",
    "YearSpec": "callmip.drivers.base",
    "RenderError": "callmip.drivers.render",
    "CablePopDriver": "callmip.drivers.cable_pop.driver",
    "CelmDriver": "callmip.drivers.celm",
    "ClassicDriver": "callmip.drivers.classic",
    "ClmDriver": "callmip.drivers.clm",
    "OrchideeDriver": "callmip.drivers.orchidee",
    "DRIVERS": "callmip.drivers.registry",
    "get_driver": "callmip.drivers.registry",
}

if TYPE_CHECKING:
    from callmip.drivers.base import (
        Capabilities,
        DriverOptions,
        Mapping,
        ModelDriver,
        ModelRun,
        NativeOutputError,
        Term,
        YearSpec,
    )
    from callmip.drivers.cable_pop.driver import CablePopDriver
    from callmip.drivers.celm import CelmDriver
    from callmip.drivers.classic import ClassicDriver
    from callmip.drivers.clm import ClmDriver
    from callmip.drivers.orchidee import OrchideeDriver
    from callmip.drivers.registry import DRIVERS, get_driver
    from callmip.drivers.render import RenderError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'callmip.drivers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "DRIVERS",
    "CablePopDriver",
    "Capabilities",
    "CelmDriver",
    "ClassicDriver",
    "ClmDriver",
    "DriverOptions",
    "Mapping",
    "ModelDriver",
    "ModelRun",
    "NativeOutputError",
    "OrchideeDriver",
    "RenderError",
    "Term",
    "YearSpec",
    "get_driver",
]
