"""Start member N of a job array: ``python -m callmip.scheduler.array_launch <dir> <N>``.

A Slurm job array runs one command template for every member, but model runs of an ensemble or
a scenario matrix differ in more than a number (each has its own namelist, work directory and
restart). The orchestrator therefore writes ``<dir>/member_<N>.json`` (argv and working
directory, built from validated values like every job) when it builds the array, and this
launcher replaces itself with that member's command: no shell is involved at any point.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from callmip import atomic


def member_file(array_dir: Path, index: int) -> Path:
    return Path(array_dir) / f"member_{index}.json"


def write_member(array_dir: Path, index: int, argv: list[str], workdir: Path) -> Path:
    """Record member ``index``'s command (temporary name, then rename: never half written)."""
    path = member_file(array_dir, index)
    return atomic.write_text(path, json.dumps({"argv": list(argv), "workdir": str(workdir)}))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[1].isdigit():
        print("usage: python -m callmip.scheduler.array_launch <array-dir> <index>",
              file=sys.stderr)
        return 2
    path = member_file(Path(args[0]), int(args[1]))
    try:
        spec = json.loads(path.read_text())
        command, workdir = [str(a) for a in spec["argv"]], str(spec["workdir"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"array member file {path} is missing or invalid: {exc}", file=sys.stderr)
        return 2
    os.chdir(workdir)
    os.execv(command[0], command)  # noqa: S606 - no shell by design; never returns
    return 0  # pragma: no cover


if __name__ == "__main__":
    raise SystemExit(main())
