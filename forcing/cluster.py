"""Where forcing tasks run: a dask LocalCluster by default, a dask-jobqueue SLURMCluster when
the campaign's HPC profile says so.

Contract: :class:`ClusterSpec` is a frozen description built from a profile mapping
(:meth:`ClusterSpec.from_profile`); :func:`dask_client` is a context manager yielding a
``distributed.Client`` on a cluster it starts and stops itself. Workers run one task at a time
(one thread each), because each forcing task is memory-bound streaming I/O and the numba
regridding kernel uses one thread inside workers.

Profile keys (all optional)::

    {"cluster": "local" | "slurm",
     "n_workers": 2,                  # default: cores of this machine (local) / 1 job (slurm)
     "memory_per_worker": "2GiB",
     "slurm": {"queue": "compute", "account": "proj", "walltime": "01:00:00",
               "cores": 1, "memory": "4GB", "job_extra_directives": ["--qos=normal"],
               "job_script_prologue": ["module load netcdf"], "log_directory": "logs",
               "python": "/path/to/python"}}
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

logger = logging.getLogger(__name__)

ClusterKind = Literal["local", "slurm"]
_SLURM_KEYS = {
    "queue",
    "account",
    "walltime",
    "cores",
    "memory",
    "job_extra_directives",
    "job_script_prologue",
    "log_directory",
    "python",
    "local_directory",
}


@dataclass(frozen=True)
class SlurmSpec:
    """Arguments of ``dask_jobqueue.SLURMCluster`` (one worker process per job)."""

    queue: str | None = None
    account: str | None = None
    walltime: str = "01:00:00"
    cores: int = 1
    memory: str = "4GB"
    job_extra_directives: tuple[str, ...] = ()
    job_script_prologue: tuple[str, ...] = ()
    log_directory: str | None = None
    python: str | None = None
    local_directory: str | None = None


@dataclass(frozen=True)
class ClusterSpec:
    kind: ClusterKind = "local"
    n_workers: int | None = None
    memory_per_worker: str = "2GiB"
    slurm: SlurmSpec = field(default_factory=SlurmSpec)

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any] | None) -> ClusterSpec:
        """Build from a campaign HPC profile mapping; unknown keys are an error."""
        profile = dict(profile or {})
        kind = profile.pop("cluster", "local")
        if kind not in ("local", "slurm"):
            raise ValueError(f"cluster must be 'local' or 'slurm', got {kind!r}")
        slurm = dict(profile.pop("slurm", {}) or {})
        unknown = set(slurm) - _SLURM_KEYS
        if unknown:
            raise ValueError(
                f"unknown slurm profile keys {sorted(unknown)}; known {sorted(_SLURM_KEYS)}"
            )
        for key in ("job_extra_directives", "job_script_prologue"):
            if key in slurm:
                slurm[key] = tuple(slurm[key])
        n_workers = profile.pop("n_workers", None)
        memory = profile.pop("memory_per_worker", "2GiB")
        if profile:
            raise ValueError(f"unknown cluster profile keys {sorted(profile)}")
        return cls(
            kind=kind, n_workers=n_workers, memory_per_worker=memory, slurm=SlurmSpec(**slurm)
        )

    def workers(self) -> int:
        if self.n_workers is not None:
            return max(1, int(self.n_workers))
        if self.kind == "slurm":
            return 1
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - non-Linux
            return max(1, os.cpu_count() or 1)


def make_slurm_cluster(spec: ClusterSpec) -> Any:
    """A (not yet scaled) ``dask_jobqueue.SLURMCluster`` for ``spec`` (optional extra 'hpc')."""
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "the slurm cluster needs the optional extra: uv sync --extra hpc"
        ) from exc
    s = spec.slurm
    kwargs: dict[str, Any] = {
        "cores": s.cores,
        "processes": 1,
        "memory": s.memory,
        "walltime": s.walltime,
        "job_extra_directives": list(s.job_extra_directives),
        "job_script_prologue": list(s.job_script_prologue),
        "worker_extra_args": ["--nthreads", "1"],
    }
    for key in ("queue", "account", "log_directory", "python", "local_directory"):
        value = getattr(s, key)
        if value is not None:
            kwargs[key] = value
    return SLURMCluster(**kwargs)


@contextmanager
def dask_client(spec: ClusterSpec | Mapping[str, Any] | None = None) -> Iterator[Any]:
    """Start the cluster ``spec`` describes, yield a Client, and shut both down afterwards."""
    from distributed import Client, LocalCluster

    if not isinstance(spec, ClusterSpec):
        spec = ClusterSpec.from_profile(spec)
    n = spec.workers()
    if spec.kind == "local":
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            memory_limit=spec.memory_per_worker,
            dashboard_address=None,
        )
    else:
        cluster = make_slurm_cluster(spec)
        cluster.scale(jobs=n)
    logger.info("started %s dask cluster with %d worker(s)", spec.kind, n)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()
