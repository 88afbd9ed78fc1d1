"""Judge a CABLE run from its inputs, its printed messages and its outputs, never its exit code.

CABLE's exit status cannot be trusted (facts measured on this branch):

* a namelist entry it rejects prints ``5010Cannot match namelist object name ...`` to stderr
  and ends in a plain ``STOP``: exit 0;
* a truncated restart file (netCDF-3) is read past its end as zeros, and the run carries on to
  "Finished." with exit 0;
* a met file without the variable prints ``netCDF error:`` and the file to *stdout*, then
  ``error stop 131``; other NetCDF failures end in ``stop 2`` after a message on stdout.

So a chunk succeeds only when (1) its restart inputs were complete NetCDF files before the
run, (2) CABLE printed no error signature, (3) it printed "Finished. ... total run", and (4)
its output has every month of every land cell with finite fluxes and every restart file it
must write is a complete NetCDF file. Each problem is one line naming the file and what is
wrong.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import netCDF4
import numpy as np

from callmip.ncfiles import unreadable_reason

#: handle_iostat's "(I8,A)" line: the iostat number glued to the message
_NAMELIST = re.compile(r"^\s*-?\d+\s*(Cannot match namelist object name\s+(\S+).*|.*namelist.*)$",
                       re.IGNORECASE)
FINISHED = "seconds needed for total run"
#: the chunk's job description the driver writes and the launcher reads
JOB_FILE = "job.json"
#: fluxes that must be finite in every month and land cell of a complete output
COMPLETE_VARIABLES = ("GPP", "Qle", "Qh")
FILL_LIMIT = 1e30


@dataclass
class Verdict:
    """Problems found (empty: the step succeeded) and the lines that show why."""

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        self.problems.append(problem)


def tail(path: Path, lines: int = 15) -> list[str]:
    if not path.exists():
        return []
    with open(path, errors="replace") as fh:
        return [line.rstrip("\n") for line in deque(fh, maxlen=lines)]


def check_inputs(workdir: Path, restart_files: list[str]) -> Verdict:
    """Restart inputs (through ``rin/``) must be complete NetCDF files before CABLE reads them."""
    verdict = Verdict()
    for rel in restart_files:
        path = workdir / rel
        reason = unreadable_reason(path)
        if reason:
            real = path.resolve()
            verdict.add(f"{real}: restart input {path.name}: {reason}")
    return verdict


def _namelist_file(workdir: Path, name: str) -> str:
    """Which namelist file holds the entry CABLE named (its message lower-cases the name)."""
    key = name.strip().lstrip("%").lower()
    for nml in sorted(workdir.glob("*.nml")):
        for line in nml.read_text().splitlines():
            entry = line.split("=", 1)[0].strip().lower()
            if entry and (entry == key or entry.endswith("%" + key) or entry.endswith(key)):
                return f"{nml} (entry {line.split('=', 1)[0].strip()!r})"
    return str(workdir / "cable.nml")


def check_messages(workdir: Path, stdout: Path, stderr: Path, exit_code: int) -> Verdict:
    """Error signatures in what CABLE printed; the completion line must be there."""
    verdict = Verdict()
    err_lines = tail(stderr, 200)
    out_lines = tail(stdout, 200)
    for line in err_lines:
        m = _NAMELIST.match(line)
        if m:
            where = _namelist_file(workdir, m.group(2)) if m.group(2) else str(workdir)
            verdict.add(f"{where}: CABLE rejected the namelist: {m.group(1).strip()}")
    for i, line in enumerate(out_lines):
        if line.strip() == "netCDF error:":
            detail = [x.strip() for x in out_lines[i + 1:i + 3] if x.strip()]
            files = [w for x in detail for w in x.split() if w.endswith(".nc")]
            target = f"{(workdir / files[0]).resolve()}: " if files else ""
            verdict.add(f"{target}CABLE could not read its input: {'; '.join(detail)}")
    for line in err_lines:
        if "Fortran runtime error" in line:
            verdict.add(f"{workdir}: CABLE stopped: {line.strip()}")
    finished = any(FINISHED in line for line in out_lines)
    if exit_code != 0 and not verdict.problems:
        last = [x.strip() for x in out_lines[-4:] if x.strip()]
        verdict.add(f"{workdir}: CABLE exited with status {exit_code}; its last words: "
                    + " | ".join(last))
    if not finished and not verdict.problems:
        verdict.add(f"{stdout}: CABLE did not print 'Finished. ... {FINISHED}' (exit status "
                    f"{exit_code}): the run stopped early")
    return verdict


def check_output(path: Path, n_land: int, n_months: int) -> Verdict:
    """The monthly land-vector output holds every month and land cell with finite fluxes."""
    verdict = Verdict()
    reason = unreadable_reason(path)
    if reason:
        verdict.add(f"{path}: CABLE output: {reason}")
        return verdict
    with netCDF4.Dataset(path) as ds:
        land = len(ds.dimensions["land"]) if "land" in ds.dimensions else None
        months = len(ds.dimensions["time"]) if "time" in ds.dimensions else None
        if land != n_land:
            verdict.add(f"{path}: {land} land cells, the chunk has {n_land}")
        if months != n_months:
            verdict.add(f"{path}: {months} monthly records, the run covers {n_months} months")
        for name in COMPLETE_VARIABLES:
            if name not in ds.variables:
                verdict.add(f"{path}: variable {name!r} is missing")
                continue
            var = ds.variables[name]
            var.set_auto_mask(False)
            values = np.asarray(var[:], dtype="float64")
            bad = ~np.isfinite(values) | (np.abs(values) > FILL_LIMIT)
            if bad.any():
                t, k = np.argwhere(bad)[0]
                verdict.add(f"{path}: variable {name!r} is missing or not finite in "
                            f"{int(bad.sum())} values (first: month {t + 1}, land cell {k + 1})")
    return verdict


def check_restarts(workdir: Path, restart_files: list[str]) -> Verdict:
    """Every restart the step must write exists and is a complete NetCDF file."""
    verdict = Verdict()
    for rel in restart_files:
        reason = unreadable_reason(workdir / rel)
        if reason:
            verdict.add(f"{workdir / rel}: restart output: {reason}")
    return verdict
