"""The scheduler contract: what every backend (local executor, Slurm) must do.

Model runs are batch jobs that outlive the orchestrator, so the contract is deliberately small and
stateless on the Python side: ``submit`` returns a job id, ``poll`` maps job ids to states, and
``cancel`` stops one. Anything the orchestrator must remember across its own restarts lives in the
:class:`~callmip.scheduler.ledger.JobLedger` file in the run directory, keyed by job id, never in
memory.

Job specifications are built from validated values only: the command is an argv list (never a
shell string), names match :data:`SAFE_NAME`, and every path must lie inside the campaign's run
directory. Backends that must write a shell script (Slurm) quote every argument.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

#: Job and run names: letters, digits, dot, dash, underscore; no shell or path syntax.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
#: Environment variable names a job may set.
SAFE_ENV_KEY = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")


class JobSpecError(ValueError):
    """A job specification contains a value that is unsafe or invalid."""


class JobState(StrEnum):
    """Job states, named as Slurm names them so every backend reports the same words."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"
    NODE_FAIL = "NODE_FAIL"
    PREEMPTED = "PREEMPTED"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    UNKNOWN = "UNKNOWN"

    @property
    def finished(self) -> bool:
        """True once the job will not change state any more."""
        return self not in (JobState.PENDING, JobState.RUNNING, JobState.UNKNOWN)


class Resources(BaseModel):
    """Batch resources for one job, taken from the campaign's HPC profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partition: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$", description="Slurm partition")
    account: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$", description="Slurm account")
    qos: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$", description="Slurm QOS")
    nodes: int = Field(1, ge=1, le=10000)
    ntasks: int = Field(1, ge=1, le=1_000_000)
    cpus_per_task: int = Field(1, ge=1, le=1024)
    mem_mb: int = Field(2000, ge=16, le=10_000_000, description="memory per node in MB")
    walltime_min: int = Field(60, ge=1, le=60 * 24 * 30, description="wall-clock limit in minutes")


@dataclass(frozen=True)
class JobSpec:
    """One batch job: a command (argv, no shell) with its working directory, log and resources."""

    name: str
    argv: tuple[str, ...]
    workdir: Path
    log_path: Path
    resources: Resources = field(default_factory=Resources)
    env: Mapping[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()

    def validate(self, run_root: Path) -> None:
        """Refuse anything a job script could be tricked with, before a backend sees it."""
        if not SAFE_NAME.match(self.name):
            raise JobSpecError(
                f"job name {self.name!r} is not allowed: use letters, digits, '.', '-', '_' only"
            )
        if not self.argv:
            raise JobSpecError(f"job {self.name}: empty command")
        for arg in self.argv:
            if "\x00" in arg or "\n" in arg:
                raise JobSpecError(f"job {self.name}: command argument {arg!r} has a control char")
        root = run_root.resolve()
        for label, path in (("workdir", self.workdir), ("log_path", self.log_path)):
            resolved = Path(path).resolve()
            if not resolved.is_relative_to(root):
                raise JobSpecError(
                    f"job {self.name}: {label} {path} is outside the run directory {root}"
                )
        for key, value in self.env.items():
            if not SAFE_ENV_KEY.match(key):
                raise JobSpecError(f"job {self.name}: environment name {key!r} is not allowed")
            if "\x00" in value or "\n" in value:
                raise JobSpecError(f"job {self.name}: environment value of {key} has a control char")


@dataclass(frozen=True)
class JobStatus:
    """What a backend knows about one job right now."""

    job_id: str
    state: JobState
    exit_code: int | None = None
    reason: str = ""


class Scheduler(ABC):
    """A batch backend. Implementations must be safe to re-create after an orchestrator restart:
    they may not keep job bookkeeping in memory that ``poll`` depends on."""

    name: str = "abstract"

    def __init__(self, run_root: Path) -> None:
        self.run_root = Path(run_root).resolve()

    @abstractmethod
    def submit(self, spec: JobSpec) -> str:
        """Submit a validated job; return its id (the backend's own id, as a string)."""

    @abstractmethod
    def poll(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Current status of each job id (unknown ids map to ``JobState.UNKNOWN``)."""

    @abstractmethod
    def cancel(self, job_id: str) -> None:
        """Ask the backend to stop a job. Returns at once; poll to see it end."""
