"""Exceptions of the benchmark stage.

User errors (a bad file, a bad catalog entry) carry the file, the variable and the problem in
their message; they are kept apart from bugs so callers can report them without a traceback.
"""

from __future__ import annotations


class BenchmarkError(Exception):
    """Base class of every error the benchmark stage raises on purpose."""


class CatalogError(BenchmarkError):
    """The reference catalog configuration is malformed (not merely a missing product)."""


class ModelOutputError(BenchmarkError):
    """A CalLMIP model file is missing, unreadable or not conformant."""


class ReferenceDataError(BenchmarkError):
    """A reference product file exists but cannot be used as declared."""


class UnitError(BenchmarkError):
    """A unit string is unknown or two units are not convertible."""


class NotComparableError(BenchmarkError):
    """Model and reference cannot be scored together (no overlap in time or space).

    Raised to signal a *skip* with a reason rather than a failure of the run.
    """
