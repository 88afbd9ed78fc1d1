"""CABLE-POP through the orchestrator: the model's cost per land-cell-year, and what our layer
adds per chunk job.

Setup: CABLE built from ``../shared/models/cable-pop-trendy`` (cached; the build time is the
cache's record), model-ready 2-degree forcing of 1901-1902 made by the forcing stage, the CABLE
demo's box (27 land cells) split into ``--chunks`` chunks. A first 2-year run from cold makes
the campaign-level inputs (CABLE-format met files of the forcing years, gridinfo), as the first
spin-up cycle of a campaign does; the measured run is the next one, 2 years from its restart,
as every later cycle and run of a campaign is.

* ours: that run through :func:`flows.runs.execute.execute` on the local executor (render the
  chunk inputs, submit one job array, the launcher runs and judges CABLE, merge). Timed
  separately: rendering (``driver.prepare``), submission, merging (``driver.finish``), and per
  job the time outside CABLE (job wall from submission to the state the supervisor saw, minus
  the CABLE run time the launcher prints: process start of the executor's babysitter and of the
  launcher, the input and output checks, the poll interval). ``ours_s`` = mean cost of one
  chunk job through our layer (its share of render + submit + merge, plus its job wall).
* peer: the bare ``cable`` program run again in each prepared chunk directory, nothing else
  (``peer_s`` = mean chunk wall). ``cell_year_s`` = CABLE's time per land-cell-year from it;
  ``peak_mb`` = CABLE's peak resident memory (the largest chunk).

``overhead_pct`` = the orchestrator's own time per chunk job (render + submit + merge share:
the issue's definition) over CABLE's time in that job; target < 2 %. ``job_start_pct`` adds
the time outside CABLE inside the job, reported, not part of the target. Timings on a shared
machine are taken under load; the script prints ``/proc/loadavg`` with the result.

Run: ``uv run python tests/performance/cable_bench.py [--chunks N]``
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from callmip.config import Campaign
from callmip.drivers import YearSpec
from callmip.drivers.cable_pop.build import build_cable
from callmip.rundir import RunDir
from flows.runs.execute import Context, RunRequest, execute, model_driver

BOX = [2.0, 16.0, 44.0, 52.0]  # the CABLE demo's domain
FORCING_YEARS = (1901, 1902)
#: a run as long as the demo's historical runs (3 years; its cycles have 2, its transient 4)
YEARS = tuple(YearSpec(y, FORCING_YEARS[(y - 1901) % 2], 287.42) for y in (1901, 1902, 1903))
_RAN = re.compile(r"CABLE cable step ran ([0-9.]+) s")


def forcing(root: Path) -> Path:
    from forcing.prepare import prepare_year
    from forcing.synthetic import write_crujra_years

    write_crujra_years(root / "crujra", FORCING_YEARS, res_deg=2, seed=42, workers=1)
    for year in FORCING_YEARS:
        prepare_year(root / "crujra", year, 2.0, root / "model", cache_dir=root / "weights")
    return root / "model"


class Timer:
    """Accumulates the wall time of the wrapped calls (a call made inside another wrapped call,
    e.g. ``submit`` inside ``submit_array``, is not counted twice)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.depth = 0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            self.depth += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self.seconds += time.perf_counter() - t0
        return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=2)
    args = parser.parse_args()
    build = build_cable(log=print)
    record = json.loads((build.executable.parent.parent / "build.json").read_text())
    print(f"CABLE {build.executable} (build {record['seconds']} s when it was made)")
    root = Path(tempfile.mkdtemp(prefix="cable_bench_"))
    try:
        forcing_dir = forcing(root)
        campaign = Campaign.model_validate({
            "name": "cable-bench", "resolution": 2, "periods": {"historical": [2003, 2003]},
            "models": [{"name": "CABLE", "driver": "cable_pop",
                        "options": {"chunks": args.chunks, "domain": BOX}}],
            "experiments": ["prior"],
            "scheduler": {"backend": "local", "max_parallel": 2,
                          "resources": {"walltime_min": 30, "mem_mb": 1000}},
            "run_root": str(root / "runs"),
        })
        rundir = RunDir(campaign)
        rundir.initialise()
        ctx = Context.create(campaign, rundir, forcing_dir, poll_s=0.1)
        model = campaign.models[0]
        driver = ctx.driver(model.key)
        facts = model_driver(model, rundir.path).setup(forcing_dir, log=print)
        n_cells = int(facts["land_cells"])
        prior = rundir.path / "params" / "prior.json"
        driver.write_prior(prior)
        cold = execute(ctx, [RunRequest("cold", model.key, prior, YEARS, None)])["cold"]
        assert cold.ok, cold.outcomes
        render, submit, merge = Timer(), Timer(), Timer()
        driver.prepare = render.wrap(driver.prepare)
        driver.finish = merge.wrap(driver.finish)
        ctx.scheduler.submit = submit.wrap(ctx.scheduler.submit)
        ctx.scheduler.submit_array = submit.wrap(ctx.scheduler.submit_array)
        t0 = time.perf_counter()
        result = execute(ctx, [RunRequest("bench", model.key, prior, YEARS,
                                          cold.restart)])["bench"]
        wall = time.perf_counter() - t0
        assert result.ok, result.outcomes
        ledger = json.loads((rundir.path / "jobs.json").read_text())["tasks"]
        jobs, cable = [], []
        for k in range(args.chunks):
            attempt = ledger[f"bench/seg000/c{k:03d}"]["attempts"][-1]
            jobs.append(attempt["finished_at"] - attempt["submitted_at"])
            ran = _RAN.findall(Path(attempt["log_path"]).read_text())
            cable.append(float(ran[-1]))
        launcher = [j - c for j, c in zip(jobs, cable, strict=True)]
        # the peer: the bare program in the same chunk directories, one after the other
        peer, peaks = [], []
        for cr in driver.chunk_runs(result.segments[0]):
            cdir = driver.chunk_dir(cr, cr.chunk)
            t1 = time.perf_counter()
            # GNU time reports the program's own peak (a forked child's rusage would count
            # this Python process's pages too)
            out = subprocess.run(["/usr/bin/time", "-f", "PEAK_KB %M", str(build.executable)],
                                 cwd=cdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True, check=True)
            peer.append(time.perf_counter() - t1)
            peaks.append(int(re.findall(r"PEAK_KB (\d+)", out.stderr)[-1]) / 1024)
        peak_mb = max(peaks)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    n = args.chunks
    own = (render.seconds + submit.seconds + merge.seconds) / n
    ours = own + sum(jobs) / n
    peer_s = sum(peer) / n
    cable_s = sum(cable) / n
    cell_year = sum(peer) / (n_cells * len(YEARS))
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"run of {n_cells} land cells x {len(YEARS)} years in {n} chunks: {wall:.1f} s wall")
    print(f"per chunk job: render {render.seconds / n:.3f} s, submit {submit.seconds / n:.3f} s, "
          f"merge {merge.seconds / n:.3f} s, launcher {sum(launcher) / n:.3f} s, "
          f"CABLE {cable_s:.2f} s (in the job), bare CABLE {peer_s:.2f} s")
    print(f"load average {' '.join(load)} (2 cores, shared with other work)")
    print(
        f"RESULT name=cable ours_s={ours:.3f} peer=cable-direct peer_s={peer_s:.3f} "
        f"ratio={peer_s / ours:.3f} peak_mb={peak_mb:.0f} cell_year_s={cell_year:.4f} "
        f"overhead_per_chunk_s={own:.3f} overhead_pct={100 * own / cable_s:.2f} "
        f"job_start_pct={100 * (own + sum(launcher) / n) / cable_s:.1f} "
        f"chunks={n} land_cells={n_cells} load={load[0]}"
    )


if __name__ == "__main__":
    main()
