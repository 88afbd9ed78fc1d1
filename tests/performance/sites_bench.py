"""Benchmark: ``callmip sites`` on 20 sites x 5 models x prior/posterior (200 daily site files).

Inputs: the 15 real CalLMIP flux files plus 5 stand-ins for validation sites (copies of real
towers' files under the codes US-UMB, US-GLE, CH-Cha, US-FPe, US-Me2, whose IGBP classes match
the copied tower; only the timing depends on them), and 200 protocol-conformant site files
(every Table 3 variable, 6-18 years of days each) built from the observations with random
scale/offset perturbations per model and stage, ModA's posteriors with ``_post_unc``.

Ours: ``benchmarks.site_level.run.score_upload`` end to end - checker on every file, metrics,
prior -> posterior, spread, IGBP pooling with 2000 bootstrap resamples, seasonal-cycle
benchmarks, CSV files and the HTML report - in a child process (clean peak memory).
Peer: a plain xarray + pandas loop that opens every file and computes bias, RMSE, correlation
and NSE of nep/hfls/hfss against the observations (no checks, no comparisons, no report): the
minimum any script doing this job must do. Times exclude interpreter start-up and imports.

Usage: ``uv run python tests/performance/sites_bench.py [--work DIR] [--clean]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import netCDF4
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.site_level.run import load_observations  # noqa: E402
from benchmarks.site_level.testing import truth, write_site_file  # noqa: E402
from callmip.conform.phase1_sites import load_site_table  # noqa: E402

STAND_INS = {"US-UMB": "DK-Sor", "US-GLE": "CH-Dav", "CH-Cha": "DE-Gri", "US-FPe": "US-Wkg",
             "US-Me2": "NL-Loo"}
MODELS = ("ModA", "ModB", "ModC", "ModD", "ModE")
VARS = ("nep", "hfls", "hfss")
UNIT = {"nep": 1.0, "hfls": 10.0, "hfss": 10.0}


def build(work: Path) -> tuple[Path, Path]:
    obs_dir, up = work / "obs", work / "upload"
    if (work / "done").exists():
        return obs_dir, up
    shutil.rmtree(work, ignore_errors=True)
    obs_dir.mkdir(parents=True)
    for p in sorted((REPO / "data/flux-sites").glob("*_Flux.nc")):
        shutil.copy(p, obs_dir)
    for code, src in STAND_INS.items():
        p = next(obs_dir.glob(f"{src}_*_Flux.nc"))
        target = obs_dir / p.name.replace(src, code)
        shutil.copy(p, target)
        target.chmod(0o644)
        with netCDF4.Dataset(target, "a") as ds:
            ds.site_code = code
    observations = load_observations(obs_dir)
    table = load_site_table()
    rng = np.random.default_rng(7)
    for model in MODELS:
        for stage in ("Prior", "Posterior"):
            for code, obs in observations.items():
                a = rng.uniform(0.6, 1.4) if stage == "Prior" else rng.uniform(0.9, 1.1)
                b = rng.uniform(-1, 1) * (1.0 if stage == "Prior" else 0.2)
                series = {v: a * truth(obs, v) + b * UNIT[v] for v in VARS}
                unc = ({v: np.full(obs.n_days, UNIT[v]) for v in VARS}
                       if model == "ModA" and stage == "Posterior" else None)
                write_site_file(up / model, obs, model, "v1", stage, table[code].calval, series,
                                post_unc=unc)
    (work / "done").write_text("ok")
    return obs_dir, up


OURS = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from benchmarks.site_level.run import score_upload
t0 = time.perf_counter()
r = score_upload([{up!r}], {obs!r}, {out!r})
dt = time.perf_counter() - t0
print(json.dumps({{"s": dt, "files": len(r.runs), "errors": r.n_errors,
                  "scored": int((r.scores["status"] == "scored").sum()),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

PEER = """
import json, resource, sys, time
from pathlib import Path
import numpy as np, pandas as pd, xarray as xr
obs_dir, up = Path({obs!r}), Path({up!r})
NAMES = {{"nep": ("NEE_daily", -1000 * 86400), "hfls": ("Qle_daily", 1.0),
          "hfss": ("Qh_daily", 1.0)}}
t0 = time.perf_counter()
obs = {{}}
for p in obs_dir.glob("*_Flux.nc"):
    with xr.open_dataset(p) as ds:
        obs[p.name[:6]] = {{v: ds[n].values.astype(float) for v, (n, _) in NAMES.items()}}
rows = []
for p in sorted(up.rglob("*.nc")):
    site = p.name.split("_")[3]
    with xr.open_dataset(p, decode_times=False) as ds:
        for v, (n, f) in NAMES.items():
            m = ds[v].values.ravel() * f
            o = obs[site][v]
            ok = np.isfinite(o) & np.isfinite(m)
            e = m[ok] - o[ok]
            rows.append({{"file": p.name, "v": v, "bias": e.mean(),
                         "rmse": np.sqrt((e ** 2).mean()),
                         "corr": np.corrcoef(m[ok], o[ok])[0, 1],
                         "nse": 1 - (e ** 2).sum() / ((o[ok] - o[ok].mean()) ** 2).sum()}})
pd.DataFrame(rows).to_csv({out!r} + "/peer.csv")
dt = time.perf_counter() - t0
print(json.dumps({{"s": dt, "rows": len(rows),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/callmip-sites-bench"))
    ap.add_argument("--clean", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    obs_dir, up = build(args.work)
    print(f"inputs ready in {time.perf_counter() - t0:.1f} s under {args.work}")
    out = args.work / "out"
    out.mkdir(exist_ok=True)
    ours = run(OURS.format(repo=str(REPO), up=str(up), obs=str(obs_dir), out=str(out)))
    peer = run(PEER.format(up=str(up), obs=str(obs_dir), out=str(out)))
    print(f"ours: {ours['files']} files, {ours['scored']} scored rows, {ours['errors']} errors, "
          f"{ours['s']:.2f} s, peak {ours['peak_mb']:.0f} MB")
    print(f"peer (xarray+pandas, metrics only): {peer['rows']} rows, {peer['s']:.2f} s, "
          f"peak {peer['peak_mb']:.0f} MB")
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[0]
    print(f"RESULT name=sites_score ours_s={ours['s']:.2f} peer=xarray-pandas "
          f"peer_s={peer['s']:.2f} ratio={peer['s'] / ours['s']:.2f} "
          f"peak_mb={ours['peak_mb']:.0f} files={ours['files']} sites=20 models=5 "
          f"load1={load}")
    if args.clean:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
