"""CABLE-POP (TRENDY branch): build, inputs, namelists, parameter tables, chunk jobs (launch,
judge, merge) and the driver. Names are imported on first use, so the job-side launcher
(``python -m callmip.drivers.cable_pop.launch``) starts without the driver's dependencies."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {"CABLE_ZSE", "CablePopDriver", "CablePopOptions", "top_layer_weights"}

if TYPE_CHECKING:
    from callmip.drivers.cable_pop.driver import CABLE_ZSE, CablePopDriver, top_layer_weights
    from callmip.drivers.cable_pop.options import CablePopOptions


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'callmip.drivers.cable_pop' has no attribute {name!r}")
    module = "options" if name == "CablePopOptions" else "driver"
    return getattr(importlib.import_module(f"callmip.drivers.cable_pop.{module}"), name)


__all__ = ["CABLE_ZSE", "CablePopDriver", "CablePopOptions", "top_layer_weights"]
