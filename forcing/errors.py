"""The forcing stage's one exception type.

Contract: every problem with an *input* (a file that is missing, truncated, in the wrong layout,
in the wrong units, or holding a value outside physical bounds) is raised as
:class:`ForcingError`, whose message names the file, the variable, the problem and, for value
problems, the offending value and where it sits (time stamp, latitude, longitude). Bugs in our
own code stay ordinary exceptions, so the two are never confused.

The class pickles cleanly (``__reduce__``) because it travels from dask workers back to the
process that launched the work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ForcingError(Exception):
    """A forcing input is unusable; the message says which file, variable, value and where."""

    def __init__(
        self,
        file: str | Path | None,
        variable: str | None,
        problem: str,
        *,
        value: Any = None,
        where: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.variable = variable
        self.problem = problem
        self.value = value
        self.where = where
        super().__init__(self._message())

    def _message(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(f"{self.file}")
        if self.variable is not None:
            parts.append(f"variable '{self.variable}'")
        head = ": ".join(parts)
        text = f"{head}: {self.problem}" if head else self.problem
        if self.value is not None:
            text += f" (value {self.value!r}"
            text += f" at {self.where})" if self.where else ")"
        elif self.where:
            text += f" (at {self.where})"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (self.file, self.variable, self.problem, self.value, self.where),
        )


def _rebuild(
    file: str | None, variable: str | None, problem: str, value: Any, where: str | None
) -> ForcingError:
    return ForcingError(file, variable, problem, value=value, where=where)
