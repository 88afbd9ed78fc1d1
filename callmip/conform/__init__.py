"""Conform model outputs to the CalLMIP table and check files like a CMOR checker would.

The names below load on first use (PEP 562 module ``__getattr__``): checking a file needs
neither xarray nor the regridder that conforming a run pulls in, so ``callmip check`` and
``callmip sites`` start without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "CheckReport": "callmip.conform.check",
    "check_file": "callmip.conform.check",
    "ConformError": "callmip.conform.conform",
    "GlobalAttrs": "callmip.conform.conform",
    "RunningSpread": "callmip.conform.conform",
    "conform_run": "callmip.conform.conform",
    "ensemble_spread": "callmip.conform.conform",
    "native_to_callmip": "callmip.conform.conform",
    "OPTIMISED": "callmip.conform.table",
    "TABLE": "callmip.conform.table",
    "global_file_name": "callmip.conform.table",
    "post_unc_name": "callmip.conform.table",
}

__all__ = ["OPTIMISED", "TABLE", "CheckReport", "ConformError", "GlobalAttrs", "RunningSpread",
           "check_file", "conform_run", "ensemble_spread", "global_file_name",
           "native_to_callmip", "post_unc_name"]

if TYPE_CHECKING:
    from callmip.conform.check import CheckReport, check_file
    from callmip.conform.conform import (
        ConformError,
        GlobalAttrs,
        RunningSpread,
        conform_run,
        ensemble_spread,
        native_to_callmip,
    )
    from callmip.conform.table import OPTIMISED, TABLE, global_file_name, post_unc_name


assert set(__all__) == set(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
