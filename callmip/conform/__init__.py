"""Conform model outputs to the CalLMIP table and check files like a CMOR checker would.

The names below are loaded on first use (PEP 562): the campaign schema reads the table of
allowed global-attribute values from :mod:`callmip.conform.table`, and importing the package
must not pull xarray and the regridder into every ``callmip validate`` - nor into ``callmip
check`` and ``callmip sites``, which only read files with netCDF4.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "CheckReport": "check", "check_file": "check",
    "ConformError": "conform", "ConformedFile": "conform", "GlobalAttrs": "conform",
    "RunningSpread": "conform",
    "conform_run": "conform", "ensemble_spread": "conform", "native_to_callmip": "conform",
    "OPTIMISED": "table", "TABLE": "table", "global_file_name": "table",
    "parse_global_file_name": "table", "parse_site_file_name": "table", "post_unc_name": "table",
}  # fmt: skip


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'callmip.conform' has no attribute {name!r}")
    return getattr(importlib.import_module(f"callmip.conform.{module}"), name)


__all__ = ["OPTIMISED", "TABLE", "CheckReport", "ConformError", "ConformedFile", "GlobalAttrs",
           "RunningSpread", "check_file", "conform_run", "ensemble_spread", "global_file_name",
           "native_to_callmip", "parse_global_file_name", "parse_site_file_name",
           "post_unc_name"]
