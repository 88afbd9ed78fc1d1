"""Batch scheduling: a small contract (:mod:`.base`), a persisted job ledger, and backends.

See README.md in this directory for the policy, the safety rules and the Slurm details.
"""

from callmip.scheduler.base import (
    JobSpec,
    JobSpecError,
    JobState,
    JobStatus,
    Resources,
    Scheduler,
    SchedulerError,
)
from callmip.scheduler.ledger import JobLedger
from callmip.scheduler.local import LocalScheduler
from callmip.scheduler.slurm import SlurmScheduler

__all__ = [
    "JobLedger",
    "JobSpec",
    "JobSpecError",
    "JobState",
    "JobStatus",
    "LocalScheduler",
    "Resources",
    "Scheduler",
    "SchedulerError",
    "SlurmScheduler",
]
