"""How the command line reports errors: known user errors as one line, with an exit code per kind.

A user who feeds a campaign a truncated forcing file needs one sentence naming the file, the
variable and the problem, not the same traceback printed by every Prefect flow level it crossed.
The project's own error classes for bad *inputs* are listed here by kind; each kind has its own
exit code, so scripts can tell a bad forcing file from a bad model output. Anything else is a
bug (or an environment problem) and keeps its traceback on the terminal.

Classes are named as ``module:QualName`` strings and matched along the exception's MRO, so this
module imports nothing (the CLI must set Prefect's environment before anything imports Prefect)
and a subclass is reported like its base. ``tests/test_cli_errors.py`` checks every name still
resolves to an exception class, so a renamed class cannot silently drop out of the table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorKind:
    """One kind of user error: its exit code, what to call it, and the classes that raise it."""

    code: int
    name: str
    meaning: str
    classes: tuple[str, ...]


#: Exit code 0 is success and 1 an unexpected error (traceback shown); the kinds below are the
#: known user errors. This table is the one place that says which class is which kind.
ERROR_KINDS: tuple[ErrorKind, ...] = (
    ErrorKind(2, "campaign", "invalid campaign file or arguments", (
        "callmip.config:CampaignError",
        "callmip.conform.phase1_sites:SiteTableError",
    )),
    ErrorKind(3, "forcing", "a forcing input is unusable", (
        "forcing.errors:ForcingError",
    )),
    ErrorKind(4, "driver", "a model's inputs could not be rendered or were rejected", (
        "callmip.drivers.render:RenderError",
        "celm.errors:CelmInputError",
    )),
    ErrorKind(5, "model output", "a model's output is missing, unreadable or not conformant", (
        "callmip.drivers.base:NativeOutputError",
        "callmip.drivers.native_time:TimeAxisError",
        "callmip.conform.conform:ConformError",
        "callmip.bundle:BundleError",
        "benchmarks.errors:ModelOutputError",
    )),
    ErrorKind(6, "reference data", "a reference product or its catalog is unusable", (
        "benchmarks.errors:ReferenceDataError",
        "benchmarks.errors:CatalogError",
        "benchmarks.errors:UnitError",
        "callmip.fluxobs:ObservationFileError",
        "benchmarks.site_level.met:MetFileError",
    )),
    ErrorKind(7, "spin-up", "the spin-up did not reach equilibrium within its cycles", (
        "flows.spinup.loop:SpinupError",
    )),
    ErrorKind(8, "server", "the Prefect server could not be started, reached or stopped", (
        "callmip_app.server.profile:ServerError",
    )),
)

EXIT_UNEXPECTED = 1


def _qualified(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def classify(exc: BaseException) -> ErrorKind | None:
    """The kind of a known user error, or None for anything else (a bug: show its traceback)."""
    names = {_qualified(cls) for cls in type(exc).__mro__}
    for kind in ERROR_KINDS:
        if names.intersection(kind.classes):
            return kind
    return None


class HideKnownErrorTracebacks(logging.Filter):
    """Keep log records about a known user error off the terminal (unless ``-v``).

    Prefect's engine logs "Encountered exception during execution" with the full traceback at
    every flow and task level the exception crosses, then "Finished in state Failed(...)". For a
    known user error the CLI prints the one clear message itself; those records still reach the
    run's log file and the Prefect UI, which have their own handlers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            return classify(record.exc_info[1]) is None
        if record.levelno >= logging.ERROR and record.name.startswith("prefect."):
            message = record.getMessage()
            return not any(
                name.rsplit(":", 1)[1] in message for kind in ERROR_KINDS for name in kind.classes
            )
        return True
