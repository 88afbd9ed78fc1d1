"""Conform model outputs to the CalLMIP table and check files like a CMOR checker would."""

from callmip.conform.check import CheckReport, check_file
from callmip.conform.conform import ConformError, GlobalAttrs, conform_run
from callmip.conform.table import TABLE, global_file_name

__all__ = ["TABLE", "CheckReport", "ConformError", "GlobalAttrs", "check_file", "conform_run",
           "global_file_name"]
