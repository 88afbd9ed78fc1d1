"""Batch scheduling: a small contract (:mod:`.base`), a persisted job ledger, and backends."""

from callmip.scheduler.base import JobSpec, JobSpecError, JobState, JobStatus, Resources, Scheduler
from callmip.scheduler.ledger import JobLedger
from callmip.scheduler.local import LocalScheduler

__all__ = [
    "JobLedger",
    "JobSpec",
    "JobSpecError",
    "JobState",
    "JobStatus",
    "LocalScheduler",
    "Resources",
    "Scheduler",
]
