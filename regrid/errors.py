"""Exceptions raised by the ``regrid`` package.

Contract: every error a user can trigger with bad input (an unboundable coordinate, a weights
file that does not fit the grids, a missing external tool) is one of these classes, and its
message names the coordinate, variable or file and says what is wrong. Bugs stay ordinary
Python exceptions.
"""

from __future__ import annotations


class RegridError(Exception):
    """Base class for every user-facing error of the ``regrid`` package."""


class GridError(RegridError, ValueError):
    """A coordinate cannot describe a rectilinear lat-lon grid (bad bounds, irregular spacing)."""


class GridMismatchError(RegridError, ValueError):
    """Data or a weights file does not lie on the grid the regridder was built for."""


class WeightsFileError(RegridError, ValueError):
    """A weights file is unreadable, of unknown format, or inconsistent with the grids."""


class BackendUnavailableError(RegridError, ImportError):
    """An optional backend (xesmf/esmpy, the ``cdo`` executable) is not installed here."""


class BackendError(RegridError, RuntimeError):
    """An optional backend was available but failed (e.g. ``cdo`` exited non-zero)."""
