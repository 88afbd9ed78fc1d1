"""Conform model outputs to the CalLMIP table and check files like a CMOR checker would."""

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

__all__ = ["OPTIMISED", "TABLE", "CheckReport", "ConformError", "GlobalAttrs", "RunningSpread",
           "check_file", "conform_run", "ensemble_spread", "global_file_name",
           "native_to_callmip", "post_unc_name"]
