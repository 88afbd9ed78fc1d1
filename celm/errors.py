"""CELM's exception types.

Contract: a problem with an *input* the user controls (namelist, parameter file, forcing file,
restart) is a :class:`CelmInputError` whose message names the file, the variable or key, and the
problem; the CLI prints it as one line and exits with status 2. Bugs in CELM itself stay ordinary
exceptions (exit status 1 with a traceback), so the two are never confused.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import netCDF4


class CelmInputError(Exception):
    """An input file or setting is unusable; the message says which, what and why."""

    def __init__(self, file: str | Path | None, item: str | None, problem: str) -> None:
        self.file = str(file) if file is not None else None
        self.item = item
        self.problem = problem
        parts = [p for p in (self.file, f"'{item}'" if item else None) if p]
        head = ": ".join(parts)
        super().__init__(f"{head}: {problem}" if head else problem)

    def __reduce__(self) -> tuple:
        return (CelmInputError, (self.file, self.item, self.problem))


def open_input(path: str | Path, what: str) -> netCDF4.Dataset:
    """Open an input NetCDF file (forcing, restart, land use), or raise :class:`CelmInputError`
    saying ``what`` was not found or not readable."""
    import netCDF4

    path = Path(path)
    if not path.is_file():
        raise CelmInputError(path, None, f"{what} not found")
    try:
        return netCDF4.Dataset(path)
    except OSError as exc:
        raise CelmInputError(path, None, f"not a readable NetCDF file ({exc})") from exc
