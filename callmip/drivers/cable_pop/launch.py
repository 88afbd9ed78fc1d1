"""Run one CABLE chunk job and judge it: ``python -m callmip.drivers.cable_pop.launch <dir>``.

The batch job of a chunk is this launcher, not the bare program, because CABLE's exit status
cannot be trusted (see :mod:`callmip.drivers.cable_pop.judge`). The driver writes
``<dir>/job.json`` (program, steps, expected outputs) when it renders the chunk; here each step
runs CABLE in its directory with stdout/stderr kept in ``cable_stdout.txt``/``cable_stderr.txt``,
then is judged. An accelerated spin-up cycle has two steps, as in TRENDY's run sequence: the
normal cycle writing CASA's daily forcing (``dump/``), then CASA-only analytic spin-up
(``analytic/``) reading it; on success its restarts replace the cycle's. A cold start with land
use first runs a climate step (``climate/``) whose climate restart gives CABLE each cell's
biome (see :mod:`.landuse`); a step's ``carry`` pairs are files copied on once it succeeded.

Exit status: 0 only when every step was judged complete; 3 when CABLE failed (the problems
are printed, each naming the file and what is wrong, with the tails of CABLE's output); 2 for
a missing or invalid job file. Outputs of an earlier attempt are removed before a step runs,
so a retried chunk is never judged on stale files.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from callmip.drivers.cable_pop.judge import (
    JOB_FILE,
    Verdict,
    check_inputs,
    check_messages,
    check_output,
    check_restarts,
    tail,
)


def _run_step(chunk_dir: Path, step: dict, job: dict) -> Verdict:
    workdir = chunk_dir / step["dir"]
    for rel in [*step.get("outputs", []), *step.get("restarts", [])]:
        (workdir / rel).unlink(missing_ok=True)
    verdict = check_inputs(workdir, step.get("restart_inputs", []))
    if not verdict.ok:
        return verdict
    stdout, stderr = workdir / "cable_stdout.txt", workdir / "cable_stderr.txt"
    t0 = time.monotonic()
    with stdout.open("w") as out, stderr.open("w") as err:
        proc = subprocess.Popen([job["executable"]], cwd=workdir, stdout=out, stderr=err)
        try:
            code = proc.wait()
        except BaseException:  # the job is being cancelled: take CABLE down with it
            proc.send_signal(signal.SIGTERM)
            proc.wait()
            raise
    print(f"{step['dir']}: CABLE {step['kind']} step ran {time.monotonic() - t0:.1f} s, "
          f"exit status {code}", flush=True)
    verdict = check_messages(workdir, stdout, stderr, code)
    if verdict.ok:
        for rel in step.get("outputs", []):
            verdict.problems += check_output(workdir / rel, job["n_land"],
                                             job["n_months"]).problems
        verdict.problems += check_restarts(workdir, step.get("restarts", [])).problems
    if not verdict.ok:
        for name, path in (("stdout", stdout), ("stderr", stderr)):
            lines = tail(path, 12)
            if lines:
                print(f"--- last lines of CABLE's {name} ({path}):", *lines, sep="\n")
    return verdict


def _copy(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` under a temporary name, then rename (never half a file)."""
    tmp = dst.with_name(f".{dst.name}.part")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def run_job(chunk_dir: Path) -> int:
    """Run every step of the chunk's job; 0 if all were judged complete (see module doc)."""
    try:
        job = json.loads((chunk_dir / JOB_FILE).read_text())
        steps = job["steps"]
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {chunk_dir / JOB_FILE} is missing or invalid: {exc}", file=sys.stderr)
        return 2
    for step in steps:
        verdict = _run_step(chunk_dir, step, job)
        if not verdict.ok:
            print(f"error: CABLE chunk {chunk_dir} failed in its {step['kind']} step "
                  f"(whatever CABLE's exit status said):", file=sys.stderr)
            for problem in verdict.problems:
                print(f"  - {problem}", file=sys.stderr)
            return 3
        promote = step.get("promote")
        if promote:  # the analytic step's restarts replace the cycle's
            src, dst = chunk_dir / step["dir"] / promote, chunk_dir / "restart"
            for f in sorted(src.iterdir()):
                os.replace(f, dst / f.name)
        for src, dst in step.get("carry", []):  # e.g. the land-use climate file, run to run
            _copy(chunk_dir / src, chunk_dir / dst)
    print(f"CABLE chunk {chunk_dir.name}: {job['n_land']} land cells, {job['n_months']} months: "
          "complete", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m callmip.drivers.cable_pop.launch <chunk-dir>", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return run_job(Path(args[0]))


if __name__ == "__main__":
    raise SystemExit(main())
