"""Atomic file writing: the one helper every writer of callmip-global uses.

Contract: :func:`atomic_path` hands out a temporary name in the destination's directory
(``.<name>.<random>.tmp``) and moves it into place with ``os.replace`` only when the ``with``
block succeeds, so a reader never sees a half-written file and a failure (or a kill) leaves the
previous file, if any, untouched. The temporary lives in the same directory so the rename is
atomic on POSIX file systems, and its random part lets concurrent writers of one file not
clobber each other's temporaries. :func:`write_text`, :func:`write_bytes` and
:func:`write_json` are the common cases.

The embedded model CELM, a standalone program, keeps its own small copy (``celm/params.py``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(final: Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` on success.

    The temporary does not exist yet when yielded (writers such as netCDF4 want to create the
    file themselves). ``mode``, if given, is set on it before the rename (e.g. 0o755 for a
    script)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        if mode is not None:
            tmp.chmod(mode)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_path(Path(path), mode) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: Path, text: str, mode: int | None = None) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    return write_bytes(path, text.encode("utf-8"), mode)


def write_json(path: Path, payload: Any, **dumps: Any) -> Path:
    """Write ``payload`` as JSON to ``path`` atomically (``dumps`` go to :func:`json.dumps`)."""
    return write_text(path, json.dumps(payload, **dumps))


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
