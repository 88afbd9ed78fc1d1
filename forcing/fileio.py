"""Gzip and checksums shared by the forcing writers.

Files are written with the project's one atomic-write helper, :mod:`callmip.atomic` (re-exported
here for the forcing writers). :func:`sha256_file` is the checksum the manifests record.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

from callmip.atomic import atomic_path, remove_stale_temporaries

__all__ = ["atomic_path", "gunzip_file", "gzip_file", "remove_stale_temporaries", "sha256_file"]

_CHUNK = 1024 * 1024


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
