"""A toy model for scheduler tests: integrates 1..N one step at a time and checkpoints.

Each step sleeps ``--step-s`` seconds, adds the step number to a running sum and writes a restart
file ``<restart-dir>/step_<k>.json`` (atomically). Started with ``--restart <file>`` it resumes
from that state, like a land model continuing from a restart. At the end it writes
``--out`` with the sum, which must equal N(N+1)/2 however many times the run was interrupted.
``--fail-at K`` exits with code 3 (after printing an error) when step K is reached.
``--resumed-step-s`` sets a different step duration for a resumed run, so a test can make the
first attempt certain to outlive its walltime and the continuation quick.
Run as ``python toy_model.py --steps N --restart-dir D --out F``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def newest_restart(restart_dir: Path) -> Path | None:
    """The restart file with the highest step (what a resubmission should start from)."""
    files = sorted(restart_dir.glob("step_*.json"))
    return files[-1] if files else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--step-s", type=float, default=0.0)
    ap.add_argument("--restart-dir", type=Path, required=True)
    ap.add_argument("--restart", type=Path, default=None)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--fail-at", type=int, default=None)
    ap.add_argument("--resumed-step-s", type=float, default=None)
    args = ap.parse_args(argv)

    step, total = 0, 0
    if args.restart is not None:
        state = json.loads(args.restart.read_text())
        step, total = state["step"], state["total"]
        print(f"resumed from step {step}", flush=True)
        if args.resumed_step_s is not None:
            args.step_s = args.resumed_step_s
    else:
        print("cold start", flush=True)
    args.restart_dir.mkdir(parents=True, exist_ok=True)
    while step < args.steps:
        step += 1
        if args.fail_at is not None and step == args.fail_at:
            print(f"ERROR: toy model blew up at step {step}", file=sys.stderr, flush=True)
            return 3
        time.sleep(args.step_s)
        total += step
        tmp = args.restart_dir / f".step_{step:06d}.tmp"
        tmp.write_text(json.dumps({"step": step, "total": total}))
        os.replace(tmp, args.restart_dir / f"step_{step:06d}.json")
        old = args.restart_dir / f"step_{step - 2:06d}.json"
        old.unlink(missing_ok=True)
        print(f"step {step} total {total}", flush=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_text(json.dumps({"steps": args.steps, "total": total}))
    os.replace(tmp, args.out)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
