"""The registered scheduler backends: a campaign's ``scheduler.backend`` name -> backend.

Adding a backend: implement :class:`callmip.scheduler.base.Scheduler` in a module of this
package and add one line to :data:`SCHEDULERS`; the campaign schema's ``scheduler.backend``
choices and the run stage follow from this table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from callmip.scheduler.base import Scheduler
from callmip.scheduler.local import LocalScheduler
from callmip.scheduler.slurm import SlurmScheduler

#: backend name -> factory(run_root, max_parallel); Slurm bounds parallelism itself
SCHEDULERS: dict[str, Callable[[Path, int | None], Scheduler]] = {
    "local": LocalScheduler,
    "slurm": lambda run_root, max_parallel: SlurmScheduler(run_root),
}
SCHEDULER_NAMES: tuple[str, ...] = tuple(SCHEDULERS)


def make_scheduler(backend: str, run_root: Path, max_parallel: int | None = None) -> Scheduler:
    """The backend registered under ``backend`` for the run directory ``run_root``."""
    try:
        factory = SCHEDULERS[backend]
    except KeyError:
        raise ValueError(f"unknown scheduler backend {backend!r}; known: {list(SCHEDULERS)}"
                         ) from None
    return factory(run_root, max_parallel)
