"""``callmip``: the command line of callmip-global.

    callmip demo                      run the embedded demo campaign (configs/demo.yaml)
    callmip run CAMPAIGN.yaml         run a campaign end to end
    callmip validate CAMPAIGN.yaml    check a campaign file; nothing is started
    callmip check FILE.nc [...]       check CalLMIP output files like a CMOR checker
    callmip benchmark PATHS...        intercomparison of uploaded CalLMIP global files
    callmip esmvaltool RUN_DIR        write the ESMValTool recipe of a run and run it
    callmip server up|down|status     Prefect server, worker, deployments (configs/server.yaml)

Exit codes: 0 success, 1 a stage failed, 2 invalid input (campaign file, arguments, files).
Prefect runs with a temporary local server unless ``PREFECT_API_URL`` points at a real one; the
temporary server's start-up is bounded so the command never hangs waiting for it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from callmip.config import REPO_ROOT, CampaignError, load_campaign
from callmip.server.profile import ServerError

DEMO_CAMPAIGN = REPO_ROOT / "configs" / "demo.yaml"


def _prefect_environment(run_root: Path) -> None:
    """Safe Prefect defaults: no telemetry, a private home, a bounded temporary server."""
    os.environ.setdefault("PREFECT_HOME", str(run_root / ".prefect"))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


def cmd_validate(args: argparse.Namespace) -> int:
    campaign = load_campaign(args.campaign)
    models = ", ".join(f"{m.name}.{m.version}" for m in campaign.models)
    print(f"campaign {campaign.name}: valid")
    print(f"  resolution {campaign.resolution} deg; models {models}")
    print(f"  experiments {campaign.experiments}; simulations {campaign.simulations}")
    print(f"  historical {campaign.periods.historical[0]}-{campaign.periods.historical[1]}; "
          f"scheduler {campaign.scheduler.backend}; run dir {campaign.run_dir}")
    if campaign.scenarios:
        print(f"  scenarios 2015-{campaign.periods.scenario_end}: {campaign.scenarios} x "
              f"{campaign.scenario_gcms}")
    return 0


def _run(campaign_file: Path) -> int:
    campaign = load_campaign(campaign_file)  # validate before anything starts
    _prefect_environment(campaign.run_root)
    from flows.campaign import campaign_flow  # imports Prefect with the environment above

    t0 = time.monotonic()
    report = campaign_flow(str(Path(campaign_file).resolve()))
    print(f"\ncampaign {campaign.name} finished in {time.monotonic() - t0:.0f} s")
    print(f"run directory: {campaign.run_dir}")
    print(f"report: {report}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    return _run(Path(args.campaign))


def cmd_demo(args: argparse.Namespace) -> int:
    return _run(DEMO_CAMPAIGN)


def cmd_check(args: argparse.Namespace) -> int:
    from callmip.conform.check import check_file

    ok = True
    for f in args.files:
        report = check_file(f)
        print(report.render())
        ok &= report.ok
    return 0 if ok else 2


def cmd_benchmark(args: argparse.Namespace) -> int:
    """The coordinators' intercomparison of the files groups uploaded."""
    from benchmarks.errors import BenchmarkError
    from benchmarks.run import benchmark_uploads

    try:
        result = benchmark_uploads(
            args.paths, args.references, args.ilamb_root, args.out, mode=args.mode,
            policy=args.on_check_error, regions=args.regions or _default_regions(),
            variables=args.variables, title=args.title,
        )
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    inventory = result.intercomparison.inventory if result.intercomparison else []
    counts: dict[str, int] = {}
    for row in inventory:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    print(f"{len(inventory)} files: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    for row in inventory:
        if row["status"] != "scored":
            print(f"  {row['status']}: {row['reason'] or row['file']}")
    print(f"report: {result.report}")
    scored = (result.scores["type"] == "score").any()
    if not scored:
        print("error: no file could be scored against a reference product", file=sys.stderr)
        return 2
    return 0


def _default_regions() -> tuple[str, ...]:
    from benchmarks.regions import DEFAULT_REGIONS

    return DEFAULT_REGIONS


def _add_benchmark_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="benchmark uploaded CalLMIP global files (any grid) against the reference "
        "products: scores, prior vs posterior, inter-model spread, global totals",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="FILES_OR_DIRS",
                   help="CalLMIP global files, or directories searched for *.nc")
    p.add_argument("--references", type=Path, default=REPO_ROOT / "configs" / "references.yaml",
                   help="reference catalog (default configs/references.yaml)")
    p.add_argument("--ilamb-root", type=Path, default=REPO_ROOT / "data" / "ILAMB_ROOT",
                   help="ILAMB_ROOT holding the reference products (default data/ILAMB_ROOT)")
    p.add_argument("--mode", choices=["ilamb27", "ilamb3"], default="ilamb27",
                   help="scoring method: ILAMB 2.7.3 (default) or ilamb3 compatible")
    p.add_argument("--out", type=Path, default=Path("intercomparison"),
                   help="report directory (default ./intercomparison)")
    p.add_argument("--on-check-error", choices=["flag", "skip"], default="flag",
                   help="flag (default): score the variables the checker accepts and flag the "
                   "file; skip: do not score a file with any checker error")
    p.add_argument("--regions", nargs="+", default=None,
                   help="region labels (default: global, ILAMB's 14 GFED regions, 6 Giorgi)")
    p.add_argument("--variables", nargs="+", default=None,
                   help="only benchmark these variables (default: every catalog product)")
    p.add_argument("--title", default="intercomparison", help="name shown on the report")
    p.set_defaults(func=cmd_benchmark)


def cmd_esmvaltool(args: argparse.Namespace) -> int:
    from esmvaltool_bridge.errors import EsmvaltoolError, ExtraMissingError
    from esmvaltool_bridge.runner import prepare, require_esmvalcore, run_recipe

    try:
        if not args.prepare_only:
            require_esmvalcore()  # before writing anything
        prepared = prepare(args.run_dir, scheme=args.scheme, variables=args.variables)
        print(f"recipe: {prepared.recipe}")
        print(f"data layout: {prepared.layout.data_dir}; config: {prepared.config_dir}")
        if args.prepare_only:
            return 0
        result = run_recipe(prepared)
    except EsmvaltoolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError | ExtraMissingError) else 1
    print(f"esmvaltool finished in {result.seconds:.0f} s")
    print(f"output: {result.output_dir}")
    print(f"bias/RMSE table: {result.table}")
    for plot in result.plots:
        print(f"plot: {plot}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callmip", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the embedded demo campaign end to end")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("run", help="run a campaign end to end")
    p.add_argument("campaign", type=Path)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("validate", help="validate a campaign file; nothing is started")
    p.add_argument("campaign", type=Path)
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("check", help="check CalLMIP NetCDF files")
    p.add_argument("files", nargs="+", type=Path)
    p.set_defaults(func=cmd_check)
    _add_benchmark_parser(sub)
    p = sub.add_parser("esmvaltool", help="write and run the ESMValTool recipe of a run directory")
    p.add_argument("run_dir", type=Path, help="campaign run directory (<run_root>/<name>)")
    p.add_argument("--scheme", default="area_weighted",
                   help="ESMValCore regridding scheme: area_weighted (default), linear, nearest")
    p.add_argument("--variables", nargs="+", default=None,
                   help="variables to evaluate (default: the campaign's references.variables)")
    p.add_argument("--prepare-only", action="store_true",
                   help="write data layout, config and recipe; do not run ESMValTool")
    p.set_defaults(func=cmd_esmvaltool)
    from callmip.server.cli import add_parser as add_server_parser

    add_server_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("distributed", "numba", "httpx", "prefect", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.func(args)
    except CampaignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        logging.getLogger("callmip").debug("campaign failed", exc_info=True)
        print(f"error: the campaign failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
