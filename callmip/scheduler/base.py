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
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

#: Job and run names: letters, digits, dot, dash, underscore; no shell or path syntax.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
#: Environment variable names a job may set.
SAFE_ENV_KEY = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")
#: Submission tags (see :attr:`JobSpec.tag`).
SAFE_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: The one placeholder a job-array template may use; each member gets its own index there.
ARRAY_INDEX = "{array_index}"


class JobSpecError(ValueError):
    """A job specification contains a value that is unsafe or invalid."""


class SchedulerError(RuntimeError):
    """The batch system refused a request or could not be reached (message says which)."""


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

    def with_defaults(self, profile: Resources) -> Resources:
        """These resources over a profile: fields set explicitly here win, the rest come from
        the profile (the campaign's HPC profile supplies partition, account, qos...)."""
        explicit = {name: getattr(self, name) for name in self.model_fields_set}
        return profile.model_copy(update=explicit)


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
    #: A unique label the supervisor gives each submission before making it, so that after a
    #: crash between "submitted" and "recorded" it can ask the backend whether the job exists
    #: (:meth:`Scheduler.find_tagged`) instead of submitting it twice. Empty: untagged.
    tag: str = ""
    #: Set by :meth:`for_index` on an array member (the number that replaced ``{array_index}``).
    array_index: int | None = None

    def validate(self, run_root: Path) -> None:
        """Refuse anything a job script could be tricked with, before a backend sees it."""
        if not SAFE_NAME.fullmatch(self.name):
            raise JobSpecError(
                f"job name {self.name!r} is not allowed: use letters, digits, '.', '-', '_' only"
            )
        if not self.argv:
            raise JobSpecError(f"job {self.name}: empty command")
        if isinstance(self.argv, str):
            raise JobSpecError(f"job {self.name}: argv must be a sequence of arguments, not a str")
        for arg in self.argv:
            if not isinstance(arg, str):
                raise JobSpecError(f"job {self.name}: command argument {arg!r} is not a string")
            if "\x00" in arg or "\n" in arg or "\r" in arg:
                raise JobSpecError(f"job {self.name}: command argument {arg!r} has a control char")
        if self.tag and not SAFE_TAG.fullmatch(self.tag):
            raise JobSpecError(f"job {self.name}: submission tag {self.tag!r} is not allowed")
        root = run_root.resolve()
        for label, path in (("workdir", self.workdir), ("log_path", self.log_path)):
            if any(c in str(path) for c in "\x00\n\r"):
                raise JobSpecError(f"job {self.name}: {label} {str(path)!r} has a control char")
            resolved = Path(path).resolve()
            if not resolved.is_relative_to(root):
                raise JobSpecError(
                    f"job {self.name}: {label} {path} is outside the run directory {root}"
                )
        for key, value in self.env.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise JobSpecError(f"job {self.name}: environment {key!r}={value!r} is not text")
            if not SAFE_ENV_KEY.fullmatch(key):
                raise JobSpecError(f"job {self.name}: environment name {key!r} is not allowed")
            if "\x00" in value or "\n" in value or "\r" in value:
                raise JobSpecError(
                    f"job {self.name}: environment value of {key} has a control char"
                )

    def for_index(self, index: int) -> JobSpec:
        """This spec as array member ``index``: every ``{array_index}`` in argv, environment
        values, workdir and log path replaced by the number (the tag is kept)."""
        if index < 0:
            raise JobSpecError(f"job {self.name}: array index {index} is negative")
        text = str(index)
        return replace(
            self,
            argv=tuple(a.replace(ARRAY_INDEX, text) for a in self.argv),
            env={k: v.replace(ARRAY_INDEX, text) for k, v in self.env.items()},
            workdir=Path(str(self.workdir).replace(ARRAY_INDEX, text)),
            log_path=Path(str(self.log_path).replace(ARRAY_INDEX, text)),
            array_index=index,
        )


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

    def submit_array(
        self, spec: JobSpec, n: int | Sequence[int], max_parallel: int | None = None
    ) -> list[str]:
        """Submit an ensemble: members ``0..n-1`` (or exactly the indices given) of a template
        whose argv, env, workdir and log path may contain ``{array_index}``.

        Returns one job id per member, in the order of the indices. This default submits one
        job per member (what the local executor does; it has its own slots, so
        ``max_parallel`` is ignored); Slurm overrides it with a single job array.
        """
        indices = array_indices(n)
        return [self.submit(spec.for_index(i)) for i in indices]

    def find_tagged(self, tags: Sequence[str]) -> dict[str, dict[int | None, str]]:
        """Jobs that were submitted with one of ``tags``: tag -> {array index or None: job id}.

        Used after a crash between submitting and recording a job. A backend that cannot tell
        returns ``{}`` (the caller then submits again: a duplicate is possible there)."""
        return {}


def array_indices(n: int | Sequence[int]) -> list[int]:
    """Member indices of an array request: ``range(n)`` for an int, else the given indices
    (non-negative, unique, sorted order is not required)."""
    indices = list(range(n)) if isinstance(n, int) else [int(i) for i in n]
    if not indices:
        raise JobSpecError("an array needs at least one member")
    if min(indices) < 0 or len(set(indices)) != len(indices):
        raise JobSpecError(f"array indices must be unique and non-negative: {indices}")
    return indices
