"""Atomic file writing and checksums shared by the forcing writers.

Contract: :func:`atomic_path` hands out a temporary name in the destination's directory and
moves it into place with ``os.replace`` only when the ``with`` block succeeds, so a reader never
sees a half-written file and a failure leaves the previous file (if any) untouched.
:func:`sha256_file` is the checksum the manifests record.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_CHUNK = 1024 * 1024


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` on success."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers (netCDF4) want to create the file themselves
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temporaries(directory: Path, name: str = "") -> int:
    """Delete temporaries a killed writer left for outputs whose name starts with ``name``
    (``.<name>*.tmp``); returns how many. Give the name: other processes may be writing other
    outputs in the same directory right now."""
    if not directory.is_dir():
        return 0
    count = 0
    for tmp in directory.glob(f".{name}*.tmp"):
        tmp.unlink(missing_ok=True)
        count += 1
    return count


def gzip_file(src: Path, dst: Path, level: int = 1) -> None:
    """Gzip ``src`` into ``dst`` atomically (CRU-JRA is distributed as ``.nc.gz``)."""
    with atomic_path(dst) as tmp, src.open("rb") as fin, gzip.open(tmp, "wb", level) as fout:
        shutil.copyfileobj(fin, fout, _CHUNK)


def gunzip_file(src: Path, dst: Path) -> None:
    """Decompress ``src`` (.gz) into ``dst`` atomically; raises on a truncated stream."""
    with atomic_path(dst) as tmp, gzip.open(src, "rb") as fin, tmp.open("wb") as fout:
        shutil.copyfileobj(fin, fout, _CHUNK)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()
