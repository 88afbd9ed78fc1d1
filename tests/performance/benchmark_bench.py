"""Benchmark: ours vs ILAMB 2.7.3, two cases, each ending with a RESULT line.

Case ``scores`` (RESULT name=benchmark): 20 years of monthly 0.5-degree output, 4 variables x
2 products. Both tools read the same NetCDF files: one CalLMIP-conformed model file (hfls,
hfss, gpp, lai; CalLMIP units) and eight reference products in an ILAMB_ROOT tree (some in
other units: MJ m-2 d-1, g m-2 d-1, so both convert). Ours runs
``benchmarks.confront.confront`` in mode ``ilamb27`` in a child process (clean peak memory);
ILAMB 2.7.3 runs its own ``Confrontation.confront`` + ``computeOverallScore`` (no plots) in
another child process. Times exclude interpreter start-up and imports and include all file
reading. Target: 20x.

Case ``report`` (RESULT name=benchmark_report): real 2-degree data with plots and HTML, as a
coordinator runs it. A model's prior and posterior files made from the shipped FLUXCOM latent
and sensible heat (regridded to a 2-degree grid offset half a cell from FLUXCOM's, perturbed
per stage) are benchmarked against FLUXCOM LE and H in 7 regions (global + 6 GFED) by
``callmip benchmark`` (checker, scores, bootstrap intervals, totals, figures, HTML report) and
by ``ilamb-run`` (ILAMB 2.7.3's command: scores, its plots and HTML pages; cartopy gets
offline land/ocean shapefiles from benchmarks.naturalearth). Both are timed end to end as
command-line runs (wall clock, interpreter start and imports included, bytecode cached); peak
memory is that of each command's process tree. Target: 6x.

Usage: ``uv run --extra parity python tests/performance/benchmark_bench.py [--case all]``
Inputs are generated once into ``--work`` (default /tmp/callmip-benchmark-bench, ~1.2 GB)
and reused; ``--clean`` removes them at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.catalog import ReferenceProduct  # noqa: E402
from benchmarks.confront import ModelOutput, confront  # noqa: E402
from benchmarks.peer_ilamb27 import ilamb27_available, run_ilamb27  # noqa: E402
from benchmarks.testing import (  # noqa: E402
    land_mask,
    regular_grid,
    seasonal_field,
    write_callmip_monthly,
    write_reference,
)
from benchmarks.units import convert  # noqa: E402

# variable -> (model CalLMIP units, mean, amplitude in model units, mass weighting,
#              [(product, file units, our units spelling)])
SPEC = {
    "hfls": (
        "W m-2",
        45.0,
        35.0,
        True,
        [("FLUXA", "W m-2", "W m-2"), ("FLUXB", "MJ m-2 d-1", "MJ m-2 d-1")],
    ),
    "hfss": ("W m-2", 30.0, 25.0, True, [("FLUXA", "W m-2", "W m-2"), ("FLUXB", "W m-2", "W m-2")]),
    "gpp": (
        "kgC m-2 s-1",
        3.5e-8,
        3.0e-8,
        True,
        [("GPPA", "g m-2 d-1", "gC m-2 d-1"), ("GPPB", "kg m-2 s-1", "kgC m-2 s-1")],
    ),
    "lai": ("1", 2.0, 1.5, False, [("LAIA", "1", "1"), ("LAIB", "1", "1")]),
}


def generate(work: Path, years: tuple[int, int], resolution: float) -> None:
    """Write the model file and the eight reference products (once)."""
    marker = work / "inputs.json"
    want = {"years": list(years), "resolution": resolution}
    if marker.exists() and json.loads(marker.read_text()) == want:
        return
    shutil.rmtree(work, ignore_errors=True)
    lat, lon = regular_grid(resolution)
    mask = land_mask(lat, lon)
    model_vars = {}
    for k, (var, (units, mean, amp, _, products)) in enumerate(SPEC.items()):
        model_vars[var] = seasonal_field(
            lat,
            lon,
            years,
            mean=mean * 1.1,
            amplitude=amp * 0.9,
            seed=100 + k,
            phase_months=0.7,
            mask=mask,
            dtype=np.float32,
        )
        for j, (product, file_units, ours) in enumerate(products):
            ref = seasonal_field(
                lat, lon, years, mean=mean, amplitude=amp, seed=10 * k + j, mask=mask
            )
            ref = convert(ref, units if var != "gpp" else "kgC m-2 s-1", ours).astype(np.float32)
            path = work / f"root/DATA/{var}/{product}/{var}.nc"
            write_reference(
                path, name=var, values=ref, lat=lat, lon=lon, years=years, units=file_units
            )
            del ref
    write_callmip_monthly(
        work / "model/BENCH.v1_global_0.5deg_monthly_Prior.nc",
        model="BENCH.v1",
        stage="Prior",
        lat=lat,
        lon=lon,
        years=years,
        variables=model_vars,
    )
    marker.write_text(json.dumps(want))


def products(work: Path, years: tuple[int, int]) -> list[ReferenceProduct]:
    out = []
    for var, (_, _, _, mass, prods) in SPEC.items():
        for product, _, ours in prods:
            out.append(
                ReferenceProduct(
                    variable=var,
                    product=product,
                    paths=(work / f"root/DATA/{var}/{product}/{var}.nc",),
                    file_variable=var,
                    units=ours,
                    display_units=ours,
                    period=years,
                    weight=1.0,
                    citation="synthetic benchmark input",
                    mass_weighting=mass,
                )
            )
    return out


def run_ours(work: Path, years: tuple[int, int]) -> None:
    """Child-process entry: time confront() and write scores + timing."""
    model = ModelOutput("BENCH", "Prior", work / "model/BENCH.v1_global_0.5deg_monthly_Prior.nc")
    catalog = products(work, years)
    start = time.perf_counter()
    table = confront([model], catalog, work / "ours", mode="ilamb27", regions=("global",))
    seconds = time.perf_counter() - start
    table.to_csv(work / "ours_scores.csv", index=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    (work / "ours_timing.json").write_text(json.dumps({"seconds": seconds, "peak_mb": peak}))


REPORT_REGIONS = ("global", "bona", "tena", "ceam", "nhsa", "shsa", "euro")
ILAMB_CFG = """[h1: Energy]
bgcolor = "#FFECE6"

[h2: Latent Heat]
variable = "hfls"
alternate_vars = "le"
mass_weighting = True

[FLUXCOM]
source = "DATA/Latent_Heat/FLUXCOM/le.nc"
weight = 15
skip_iav = False

[h2: Sensible Heat]
variable = "hfss"
alternate_vars = "sh"
mass_weighting = True

[FLUXCOM]
source = "DATA/Sensible_Heat/FLUXCOM/sh.nc"
weight = 15
skip_iav = False
"""


def _timed(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, int]:
    """Run a command; return wall seconds, the peak RSS [MB] of its process tree (sampled every
    0.1 s; the fork's copy of this process is not counted) and its exit code."""
    import psutil

    start = time.perf_counter()
    peak = 0.0
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree) / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.1)
    return time.perf_counter() - start, peak, proc.returncode


def case_report(work: Path) -> int:
    """Real 2-degree FLUXCOM-based prior/posterior, 2 variables, 7 regions, plots + HTML."""
    import pandas as pd

    from benchmarks.naturalearth import write_natural_earth
    from benchmarks.testing import SHIPPED_ROOT, UploadSpec, shipped_fields, write_upload

    base = work / "report"
    models = base / "models"
    if not models.exists():
        fields = shipped_fields()
        for stage, (scale, phase) in (("Prior", (1.2, 1)), ("Posterior", (1.05, 0))):
            spec = UploadSpec("BENCH", stage, 2, offset=0.25, scale=scale, phase_months=phase,
                              noise=0.1, seed=7)
            write_upload(models / f"BENCH_{stage}", spec, fields, (2004, 2005))
    cartopy_dir = write_natural_earth(work / "cartopy")
    cfg = base / "fluxcom.cfg"
    cfg.write_text(ILAMB_CFG)
    for out in ("ours", "ilamb"):
        shutil.rmtree(base / out, ignore_errors=True)
    env = {**os.environ, "MPLBACKEND": "Agg", "CARTOPY_DATA_DIR": str(cartopy_dir),
           "ILAMB_ROOT": str(SHIPPED_ROOT), "OMPI_MCA_plm": "isolated"}
    # both tools import with cached bytecode, as installed software does (a session that sets
    # PYTHONDONTWRITEBYTECODE would recompile every module of both on every run)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # warm-up: each tool's modules imported once, so both runs below start from cached bytecode
    for modules in ("callmip_app.cli, benchmarks.run, benchmarks.report, matplotlib.pyplot",
                    "ILAMB.run, ILAMB.Scoreboard, ILAMB.Post, cartopy.crs, matplotlib.pyplot"):
        subprocess.run([sys.executable, "-c", f"import {modules}"], env=env, cwd=REPO,
                       capture_output=True, check=False, timeout=600)
    ours_cmd = [sys.executable, "-m", "callmip_app.cli", "benchmark", str(models), "--out",
                str(base / "ours"), "--variables", "hfls", "hfss", "--regions",
                *REPORT_REGIONS]
    ours_s, ours_mb, rc = _timed(ours_cmd, env, base / "ours.log")
    if rc != 0:
        print((base / "ours.log").read_text()[-3000:], file=sys.stderr)
        return 1
    print(f"ours  (callmip benchmark, report + figures): {ours_s:.1f} s, peak {ours_mb:.0f} MB",
          flush=True)
    ilamb_run = str(Path(sys.executable).with_name("ilamb-run"))
    peer_cmd = [ilamb_run, "--config", str(cfg), "--model_root", str(models), "--build_dir",
                str(base / "ilamb"), "--regions", *REPORT_REGIONS]
    peer_s, peer_mb, rc = _timed(peer_cmd, env, base / "ilamb.log")
    pages = sorted((base / "ilamb").rglob("*.html"))
    pngs = sorted((base / "ilamb").rglob("*.png"))
    if rc != 0 or not pages:
        print((base / "ilamb.log").read_text()[-3000:], file=sys.stderr)
        return 1
    print(f"ILAMB 2.7 (ilamb-run, plots + HTML): {peer_s:.1f} s, peak {peer_mb:.0f} MB, "
          f"{len(pages)} pages, {len(pngs)} figures", flush=True)
    ours = pd.read_csv(base / "ours" / "scores.csv")
    overall = ours[(ours["name"] == "Overall Score") & (ours["region"] == "global")]
    assert len(overall) == 4, overall  # 2 variables x prior/posterior
    ratio = peer_s / ours_s
    print(
        f"RESULT name=benchmark_report ours_s={ours_s:.2f} peer=ilamb-run-2.7.3 "
        f"peer_s={peer_s:.2f} ratio={ratio:.2f} peak_mb={ours_mb:.0f} "
        f"peer_peak_mb={peer_mb:.0f} regions={len(REPORT_REGIONS)} variables=2 "
        f"peer_figures={len(pngs)}"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/callmip-benchmark-bench"))
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--resolution", type=float, default=0.5)
    parser.add_argument("--case", choices=["all", "scores", "report"], default="all")
    parser.add_argument("--clean", action="store_true")
    parser.add_argument("--ours-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    years = (1991, 1990 + args.years)
    work = args.work
    if args.ours_only:
        run_ours(work, years)
        return 0

    version = ilamb27_available()
    if version is None:
        print("ILAMB 2.7 not importable: run `uv sync --extra parity` first", file=sys.stderr)
        return 1
    rc = 0
    if args.case in ("all", "scores"):
        rc |= case_scores(work, years, args, version)
    if args.case in ("all", "report"):
        rc |= case_report(work)
    if args.clean:
        shutil.rmtree(work, ignore_errors=True)
    return rc


def case_scores(work: Path, years: tuple[int, int], args: argparse.Namespace,
                version: str) -> int:
    """20 years of 0.5-degree output, 4 variables x 2 products, scores only."""
    import pandas as pd

    t0 = time.perf_counter()
    generate(work, years, args.resolution)
    print(f"inputs ready in {time.perf_counter() - t0:.1f} s under {work}", flush=True)

    cmd = [sys.executable, __file__, "--work", str(work), "--years", str(args.years),
           "--resolution", str(args.resolution), "--ours-only"]
    # the process tree's peak counts the reading processes of benchmarks.prefetch (an upper
    # bound: the fields they hand over are shared pages counted in both)
    _, tree_peak, rc = _timed(cmd, dict(os.environ), work / "ours.log")
    if rc != 0:
        print((work / "ours.log").read_text(), file=sys.stderr)
        raise SystemExit(f"ours failed (exit {rc}); log in {work / 'ours.log'}")
    timing = json.loads((work / "ours_timing.json").read_text())
    timing["peak_mb"] = max(timing["peak_mb"], tree_peak)
    ours = pd.read_csv(work / "ours_scores.csv")
    print(
        f"ours  (callmip-global ilamb27): {timing['seconds']:.1f} s, "
        f"peak {timing['peak_mb']:.0f} MB",
        flush=True,
    )

    model_dir = work / "model"
    confrontations = [
        {
            "name": product,
            "source": str(work / f"root/DATA/{var}/{product}/{var}.nc"),
            "variable": var,
            "mass_weighting": mass,
            "skip_iav": False,
        }
        for var, (_, _, _, mass, prods) in SPEC.items()
        for product, _, _ in prods
    ]
    # ILAMB names confrontations by product; make them unique per variable
    for c in confrontations:
        c["name"] = f"{c['variable']}-{c['name']}"
    peer = run_ilamb27(
        confrontations, {"BENCH": model_dir}, work / "peer", regions=["global"], timeout=6 * 3600
    )
    print(f"ILAMB {version}: {peer.seconds:.1f} s, peak {peer.peak_mb:.0f} MB", flush=True)

    p = peer.scores.assign(product=peer.scores["product"].str.split("-", n=1).str[1])
    merged = p[p["type"] == "score"].merge(
        ours[ours["type"] == "score"],
        on=["variable", "product", "region", "name"],
        suffixes=("_ilamb", "_ours"),
    )
    diff = (merged["value_ours"] - merged["value_ilamb"]).abs()
    print(
        merged.assign(diff=diff)[
            ["variable", "product", "name", "value_ilamb", "value_ours", "diff"]
        ].to_string(index=False)
    )
    print(f"compared {len(merged)} scores; max |difference| = {diff.max():.2e}")
    ratio = peer.seconds / timing["seconds"]
    print(
        f"RESULT name=benchmark ours_s={timing['seconds']:.2f} peer=ilamb-{version} "
        f"peer_s={peer.seconds:.2f} ratio={ratio:.2f} peak_mb={timing['peak_mb']:.0f} "
        f"peer_peak_mb={peer.peak_mb:.0f} scores={len(merged)} max_score_diff={diff.max():.2e}"
    )
    return 0 if len(merged) == 8 * 6 and diff.max() <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
