"""Per-stage progress lines with timings, for long stages run from a terminal or by Prefect."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("callmip.progress")


def say(message: str) -> None:
    """One progress line on stderr, whatever Prefect's logging level is."""
    stamp = time.strftime("%H:%M:%S")
    # write directly: Prefect's log_prints would route print() into its (quiet) logger
    sys.stderr.write(f"[{stamp}] {message}\n")
    sys.stderr.flush()
    log.debug(message)


@contextmanager
def stage(name: str) -> Iterator[dict]:
    """Time a stage and report its start and end; the yielded dict collects extra info."""
    info: dict = {}
    say(f"{name}: started")
    t0 = time.monotonic()
    try:
        yield info
    except BaseException:
        say(f"{name}: FAILED after {time.monotonic() - t0:.1f} s")
        raise
    info["seconds"] = time.monotonic() - t0
    say(f"{name}: done in {info['seconds']:.1f} s")
