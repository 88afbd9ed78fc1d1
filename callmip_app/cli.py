"""``callmip``: the command line of callmip-global.

    callmip demo                      run the embedded demo campaign (configs/demo.yaml)
    callmip warm-up [CAMPAIGN.yaml]   compile kernels, generate synthetic forcing (setup does it)
    callmip run CAMPAIGN.yaml         run a campaign end to end
    callmip validate CAMPAIGN.yaml    check a campaign file; nothing is started
    callmip check FILE.nc [...]       check CalLMIP output files like a CMOR checker
    callmip bundle RUN_DIR            one checked, checksummed upload folder per experiment
    callmip benchmark PATHS...        intercomparison of uploaded CalLMIP global files
    callmip sites FILES_OR_DIRS --obs DIR   check and score Phase 1 site files (flux towers)
    callmip esmvaltool RUN_DIR        write the ESMValTool recipe of a run and run it
    callmip server up|down|status     Prefect server, worker, deployments (configs/server.yaml)

Exit codes: 0 success; 1 an unexpected error (its traceback is shown); 2 invalid campaign file,
arguments or files; 3 a forcing input; 4 a model's inputs (driver); 5 a model's output; 6 reference
data; 7 spin-up not in equilibrium; 8 the Prefect server (the table: ``callmip_app.cli_errors``). A
known error prints one line naming the file, variable and problem; its traceback goes to the run's
log file (``<run_dir>/campaign.log``) and, with ``-v``, to the terminal.
Prefect runs with a temporary local server unless ``PREFECT_API_URL`` points at a real one; the
temporary server's start-up is bounded so the command never hangs waiting for it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path

from callmip.config import REPO_ROOT, SPINUP_JUDGES, load_campaign
from callmip_app.cli_errors import EXIT_UNEXPECTED, HideKnownErrorTracebacks, classify
from callmip_app.sites_cli import add_check_options
from callmip_app.sites_cli import add_parser as add_sites_parser

DEMO_CAMPAIGN = REPO_ROOT / "configs" / "demo.yaml"
#: when this command started (module import): the total a campaign reports includes start-up
_STARTED = time.monotonic()


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
    spin = campaign.spinup
    first, last = campaign.periods.spinup_cycle
    print(f"  spin-up: {spin.mode} on the {last - first + 1}-year cycle {first}-{last}, judged by "
          f"{SPINUP_JUDGES[spin.judge]}, passing {spin.consecutive}x in a row within "
          f"{spin.max_cycles} cycles (then {spin.on_max_cycles})")
    if campaign.scenarios:
        print(f"  scenarios 2015-{campaign.periods.scenario_end}: {campaign.scenarios} x "
              f"{campaign.scenario_gcms}")
    from callmip.simulations import simulation

    for name in campaign.simulations:
        print(f"  {simulation(name).summary()}")
    for line in driver_notes(campaign):
        print(line)
    proto = campaign.protocol
    print(f"  protocol: CalLMIP_Phase={proto.phase} Calibration_Scenario="
          f"{proto.calibration_scenario} Cal_Val={proto.cal_val} contact={proto.contact} "
          f"institution={proto.institution}")
    return 0


def driver_notes(campaign) -> list[str]:
    """One line per model on what its driver can do and which drivers of change it ignores; a
    driver that has never run its real program says so."""
    from callmip.drivers import DRIVERS
    from callmip.simulations import ignored_by

    lines = []
    for m in campaign.models:
        caps = DRIVERS[m.driver].capabilities
        spin = caps.accelerated_spinup or "none (spin-up cycles plainly)"
        chunks = getattr(m.options, "chunks", None)
        ignored = ignored_by(caps.drivers_of_change)
        lines.append(f"  model {m.key}: driver {m.driver}; accelerated spin-up: {spin}"
                     + (f"; {chunks} land chunk(s) per run" if chunks else "")
                     + f"; responds to {', '.join(caps.drivers_of_change)}"
                     + (f"; ignores {', '.join(ignored)}" if ignored else ""))
        if not caps.ran_real_program:
            lines.append(f"  WARNING: the {m.driver} driver has never run its real program: "
                         f"{caps.note}")
        elif caps.note:
            lines.append(f"    {caps.note}")
    return lines


#: manifest stages in the order they run, with the names printed
_STAGES = (
    ("forcing", "forcing"), ("spinup", "spin-up"), ("runs", "runs"), ("conform", "conform"),
    ("benchmark", "benchmark"), ("esmvaltool", "ESMValTool"),
)  # fmt: skip


def stage_timings(manifest: dict, total_s: float) -> str:
    """One line of wall seconds per stage from the run's manifest, plus what the stages do not
    account for (Python and Prefect start-up, the flow's own bookkeeping)."""
    stages = manifest.get("stages", {})
    parts = [f"{label} {stages[key]['seconds']:.0f} s" for key, label in _STAGES if key in stages]
    inside = sum(stages[key]["seconds"] for key, _ in _STAGES if key in stages)
    parts.append(f"start-up and bookkeeping {max(total_s - inside, 0.0):.0f} s")
    return f"stage timings: {', '.join(parts)} (total {total_s:.0f} s)"


def _run(campaign_file: Path, started: float) -> int:
    campaign = load_campaign(campaign_file)  # validate before anything starts
    _prefect_environment(campaign.run_root)
    _log_to_file(campaign.run_dir / "campaign.log")
    from flows.campaign import campaign_flow  # imports Prefect with the environment above

    _quiet_terminal()  # Prefect's import set up its own console handler

    report = campaign_flow(str(Path(campaign_file).resolve()))
    total = time.monotonic() - started
    print(f"\ncampaign {campaign.name} finished in {total:.0f} s")
    print(stage_timings(json.loads((campaign.run_dir / "manifest.json").read_text()), total))
    print(f"run directory: {campaign.run_dir}")
    print(f"report: {report}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    return _run(Path(args.campaign), args.started)


def cmd_demo(args: argparse.Namespace) -> int:
    return _run(DEMO_CAMPAIGN, args.started)


def cmd_warm_up(args: argparse.Namespace) -> int:
    campaign = load_campaign(args.campaign)
    _prefect_environment(campaign.run_root)  # the database goes where the campaign's server is
    from flows.warmup import warm_up

    t0 = time.monotonic()
    for step, seconds in warm_up(campaign).items():
        print(f"  {step}: {seconds:.1f} s")
    print(f"warm-up for campaign {campaign.name} done in {time.monotonic() - t0:.0f} s")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from callmip.conform.check import check_file
    from callmip.conform.phase1_sites import load_site_table

    table = load_site_table(args.site_table)
    obs_dir = args.obs if args.obs.is_dir() else None
    ok = True
    for f in args.files:
        report = check_file(f, obs_dir=obs_dir, site_table=table)
        print(report.render())
        ok &= report.ok
    return 0 if ok else 2


def cmd_bundle(args: argparse.Namespace) -> int:
    from callmip.bundle import write_bundle

    folders = write_bundle(args.run_dir, args.out)
    print(f"{len(folders)} upload folder(s) in {folders[0].parent}:")
    for folder in folders:
        n = len(list(folder.glob("*.nc")))
        print(f"  {folder.name}: {n} file(s), checked; SHA256SUMS, manifest.json, README.md")
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    """The coordinators' intercomparison of the files groups uploaded.

    Exit codes: 0 a report was written with scores; 2 invalid arguments (an unknown region);
    5 no file could be scored against any reference product (the report lists why); a bad
    catalog or reference product exits with its own kind (``callmip_app.cli_errors``).
    """
    from benchmarks.errors import BenchmarkError
    from benchmarks.regions import check_regions
    from benchmarks.run import benchmark_uploads

    regions = args.regions or _default_regions()
    try:
        check_regions(regions)
    except BenchmarkError as exc:
        print(f"error: --regions: {exc}", file=sys.stderr)
        return 2
    result = benchmark_uploads(
        args.paths, args.references, args.ilamb_root, args.out, mode=args.mode,
        policy=args.on_check_error, regions=regions, variables=args.variables,
        title=args.title,
    )
    inventory = result.intercomparison.inventory if result.intercomparison else []
    counts: dict[str, int] = {}
    for row in inventory:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    print(f"{len(inventory)} files: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    for row in inventory:
        if row["status"] != "scored":
            print(f"  {row['status']}: {row['reason'] or row['file']}")
    print(f"report: {result.report}")
    if not (result.scores["type"] == "score").any():
        print("error: no file could be scored against a reference product", file=sys.stderr)
        return 5
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
    p = sub.add_parser("warm-up", help="compile the kernels and generate the synthetic forcing a "
                       "campaign needs, in the user cache (scripts/setup.sh does it for the demo)")
    p.add_argument("campaign", type=Path, nargs="?", default=DEMO_CAMPAIGN)
    p.set_defaults(func=cmd_warm_up)
    p = sub.add_parser("run", help="run a campaign end to end")
    p.add_argument("campaign", type=Path)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("validate", help="validate a campaign file; nothing is started")
    p.add_argument("campaign", type=Path)
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("check", help="check CalLMIP NetCDF files")
    p.add_argument("files", nargs="+", type=Path)
    add_check_options(p)
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("bundle", help="write ME-org upload folders (one per experiment, model "
                                      "and stage) of a finished run directory")
    p.add_argument("run_dir", type=Path, help="campaign run directory (<run_root>/<name>)")
    p.add_argument("--out", type=Path, default=None,
                   help="where to write the bundle (default: RUN_DIR/bundle)")
    p.set_defaults(func=cmd_bundle)
    _add_benchmark_parser(sub)
    add_sites_parser(sub)
    p = sub.add_parser("esmvaltool", help="write and run the ESMValTool recipe of a run directory")
    p.add_argument("run_dir", type=Path, help="campaign run directory (<run_root>/<name>)")
    p.add_argument("--scheme", default="area_weighted",
                   help="ESMValCore regridding scheme: area_weighted (default), linear, nearest")
    p.add_argument("--variables", nargs="+", default=None,
                   help="variables to evaluate (default: the campaign's references.variables)")
    p.add_argument("--prepare-only", action="store_true",
                   help="write data layout, config and recipe; do not run ESMValTool")
    p.set_defaults(func=cmd_esmvaltool)
    from callmip_app.server.cli import add_parser as add_server_parser

    add_server_parser(sub)
    return parser


class _Session:
    """What error reporting needs to know about this invocation (set by main and _run)."""

    verbose: bool = False  # -v: tracebacks of known errors on the terminal too
    log_file: logging.FileHandler | None = None  # the run's log, once a campaign names its dir


def _quiet_terminal() -> None:
    """Keep known-error tracebacks off every terminal handler (unless -v); Prefect adds its own
    console handler when it is imported, so this is called again after that import."""
    if _Session.verbose:
        return
    for logger in (logging.getLogger(), logging.getLogger("prefect")):
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ) and not any(isinstance(f, HideKnownErrorTracebacks) for f in handler.filters):
                handler.addFilter(HideKnownErrorTracebacks())


def _to_log_file(level: int, msg: str, *args, exc: BaseException | None = None) -> None:
    """One record straight to the run's log file (not the terminal), if there is one."""
    if _Session.log_file is not None:
        _Session.log_file.handle(logging.makeLogRecord({
            "name": "callmip", "levelno": level, "levelname": logging.getLevelName(level),
            "msg": msg, "args": args,
            "exc_info": (type(exc), exc, exc.__traceback__) if exc is not None else None}))


def _log_to_file(path: Path) -> None:
    """Everything, tracebacks included, also goes to the run's log file (appended per run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    _Session.log_file = handler
    _to_log_file(logging.INFO, "callmip %s", " ".join(sys.argv[1:]))  # where this run begins


def _report(exc: Exception) -> int:
    """One line for a known user error (traceback to the log file, or the terminal with -v);
    the traceback on the terminal for anything else. Returns the exit code."""
    kind = classify(exc)
    what = f"{kind.name} error" if kind else "unexpected error"
    _to_log_file(logging.ERROR, "%s (exit %d)", what, kind.code if kind else EXIT_UNEXPECTED,
                 exc=exc)
    if kind is None or _Session.verbose:
        traceback.print_exception(exc, file=sys.stderr)
    if kind is None:
        print(f"error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNEXPECTED
    print(f"error: {exc}", file=sys.stderr)
    if _Session.log_file is not None and not _Session.verbose:
        print(f"({kind.meaning}; details in {_Session.log_file.baseFilename}; "
              "-v shows the traceback)", file=sys.stderr)
    return kind.code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.started = _STARTED
    _Session.verbose = args.verbose
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("distributed", "numba", "httpx", "prefect", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _quiet_terminal()
    try:
        return args.func(args)
    except Exception as exc:
        return _report(exc)


if __name__ == "__main__":
    sys.exit(main())
