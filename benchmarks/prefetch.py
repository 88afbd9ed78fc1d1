"""Read big fields in worker processes while the caller scores the ones already read.

Why: a 20-year 0.5-degree field is a quarter of a gigabyte once decompressed, and reading one
is bound by zlib (about a second each); a benchmark of 4 variables x 2 products reads 12 of
them. HDF5 is not thread-safe (two netCDF4 reads in threads crash the interpreter), so the
overlap happens in processes. A worker hands its values back through a file in shared memory
(``/dev/shm``) that the caller maps and unlinks at once, not through a pickle: no copy of the
field crosses the pipe, and the pages are freed with the last array that views them.

Contract: :class:`FieldReader` takes plain reading functions (``read_reference``,
``read_model_variable``) and their arguments; :meth:`FieldReader.submit` returns an object
whose ``result()`` gives the function's :class:`~benchmarks.gridded.GriddedSeries` or raises
the exception the function raised, exactly as a direct call would. With ``workers=0`` (one
CPU, small inputs, or ``CALLMIP_READ_WORKERS=0``) the call simply happens in ``result()``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.gridded import GriddedSeries

logger = logging.getLogger(__name__)

#: Environment variable that sets the number of reading processes (0 = read in the caller).
WORKERS_ENV = "CALLMIP_READ_WORKERS"
#: Below this many decompressed bytes in all, starting processes costs more than it saves.
MIN_PARALLEL_BYTES = 256 * 2**20


def usable_cpus() -> int:
    """CPUs this process may run on (a Slurm allocation, not the node's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_workers(total_bytes: int) -> int:
    """Reading processes for ``total_bytes`` of fields: 0 when overlap cannot pay."""
    if WORKERS_ENV in os.environ:
        return max(0, int(os.environ[WORKERS_ENV]))
    cpus = usable_cpus()
    if multiprocessing.current_process().daemon:  # a pool's worker may not start processes
        return 0
    if cpus < 2 or total_bytes < MIN_PARALLEL_BYTES:
        return 0
    return min(2, cpus)


def _shared_dir(nbytes: int) -> str:
    """``/dev/shm`` when it can hold ``nbytes`` (containers often give it 64 MB), else tmp."""
    shm = "/dev/shm"  # noqa: S108 - files are made by mkstemp (O_EXCL, mode 0600)
    try:
        if os.path.isdir(shm) and shutil.disk_usage(shm).free > 2 * nbytes:
            return shm
    except OSError:
        pass
    return tempfile.gettempdir()


def _read_into_file(
    function: Callable[..., GriddedSeries], args: tuple
) -> tuple[GriddedSeries, str, tuple[int, ...], str]:
    """Worker side: call ``function`` and leave the values in a file the caller maps."""
    series = function(*args)
    values = np.ascontiguousarray(series.values)
    fd, path = tempfile.mkstemp(
        prefix="callmip-field-", suffix=".raw", dir=_shared_dir(values.nbytes)
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            values.tofile(handle)
    except BaseException:
        os.unlink(path)
        raise
    return replace(series, values=np.empty(0, values.dtype)), path, values.shape, values.dtype.str


def _map_file(path: str, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Caller side: map the worker's file and unlink it (the mapping keeps the pages)."""
    try:
        if int(np.prod(shape)) == 0:
            return np.empty(shape, dtype)
        return np.asarray(np.memmap(path, dtype=dtype, mode="r+", shape=shape))
    finally:
        os.unlink(path)


class PendingField:
    """A field being read: ``result()`` returns it (the same object every time) or raises the
    reader's exception."""

    _UNSET = object()

    def __init__(self, future: Future | None, call: tuple[Callable, tuple] | None = None):
        self._future = future
        self._call = call
        self._series: Any = self._UNSET

    def result(self) -> GriddedSeries:
        if self._series is self._UNSET:
            if self._future is None:
                function, args = self._call
                self._series = function(*args)
            else:
                series, path, shape, dtype = self._future.result()
                self._series = replace(series, values=_map_file(path, shape, dtype))
        return self._series


class FieldReader:
    """A small pool of reading processes (or none); use as a context manager."""

    def __init__(self, workers: int = 0):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future] = []  # not the fields: those go with their last user

    def __enter__(self) -> FieldReader:
        if self.workers > 0:
            context = multiprocessing.get_context("forkserver")
            # workers fork from a server that has imported the readers once (no fork of a
            # caller that may hold Prefect's threads and locks)
            context.set_forkserver_preload(["benchmarks.gridded"])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
        return self

    def submit(self, function: Callable[..., GriddedSeries], *args: Any) -> PendingField:
        if self._pool is None:
            return PendingField(None, (function, args))
        future = self._pool.submit(_read_into_file, function, args)
        self._futures.append(future)
        return PendingField(future)

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is None:
            return
        for future in self._futures:
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for future in self._futures:  # read but never asked for (or asked for: already gone)
            if future.done() and not future.cancelled() and future.exception() is None:
                Path(future.result()[1]).unlink(missing_ok=True)
