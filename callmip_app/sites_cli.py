"""``callmip sites``: check and score Phase 1 site-level submissions against the flux towers.

    callmip sites FILES_OR_DIRS... --obs DIR [--met DIR] [--site-table CSV] [--out DIR]

Every site file found (directories are searched recursively) is checked like ``callmip check``
does against the observations in ``--obs`` (any directory of CalLMIP flux files), then scored:
daily NEE, Qle and Qh (and any other observed variable) per model, site and stage; prior ->
posterior changes; inter-model spread; pooling by IGBP class with bootstrap intervals; empirical
benchmarks. Writes CSV files and ``index.html`` to ``--out``. Exit 0 when every file was
scored, 2 when a file or variable had an error (the rest is still scored and written); an
unusable observation or met directory or site table exits with the code of its kind
(``callmip_app/cli_errors.py``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from callmip.config import REPO_ROOT

SHIPPED_OBS = REPO_ROOT / "data" / "flux-sites"


def cmd_sites(args: argparse.Namespace) -> int:
    from benchmarks.site_level.run import score_upload

    t0 = time.monotonic()
    # bad observation/met directories or site tables raise errors the CLI reports in one line
    # with their exit code (callmip_app/cli_errors.py)
    result = score_upload(args.paths, args.obs, args.out, met_dir=args.met,
                          site_table=args.site_table, n_boot=args.bootstrap, seed=args.seed)
    scored = sum("*" not in r.unscored for r in result.runs)
    print(f"{len(result.runs)} site files, {scored} scored, {result.n_errors} errors "
          f"({time.monotonic() - t0:.1f} s)")
    for row in result.findings[result.findings["level"] == "ERROR"].itertuples():
        print(f"  ERROR {Path(row.file).name} {row.where}: {row.message}")
    head = result.pooled[(result.pooled["class"] == "all sites")
                         & (result.pooled["model"] == "all models")]
    for row in head.itertuples():
        print(f"  {row.role:11s} {row.scenario} {row.variable:5s} {row.quantity}: "
              f"{row.mean:+.3f} [{row.ci_low:+.3f}, {row.ci_high:+.3f}] over {row.sites} sites")
    if result.report is not None:
        print(f"report: {result.report}")
        print(f"scores: {result.csv}")
    return 2 if result.n_errors else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``callmip sites``."""
    p = sub.add_parser("sites", help="check and score Phase 1 site files against flux towers",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="+", type=Path, help="site files and/or directories")
    p.add_argument("--obs", type=Path, default=SHIPPED_OBS,
                   help=f"directory of CalLMIP flux files (default {SHIPPED_OBS})")
    p.add_argument("--met", type=Path, default=None,
                   help="directory of PLUMBER2-layout met files (<site>_<y0>-<y1>_..._Met.nc)")
    p.add_argument("--site-table", type=Path, default=None,
                   help="CSV site,role,igbp[,record_years] replacing protocol v2's site list")
    p.add_argument("--out", type=Path, default=Path("site-report"),
                   help="output directory for the CSV files and index.html")
    p.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.set_defaults(func=cmd_sites)


def add_check_options(p: argparse.ArgumentParser) -> None:
    """``callmip check``'s options for site files."""
    p.add_argument("--obs", type=Path, default=SHIPPED_OBS,
                   help="directory of CalLMIP flux files for site files' periods "
                        f"(default {SHIPPED_OBS})")
    p.add_argument("--site-table", type=Path, default=None,
                   help="CSV site,role,igbp[,record_years] replacing protocol v2's site list")
