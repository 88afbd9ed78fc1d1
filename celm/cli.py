"""Command line: ``python -m celm {run,steady-state,params} ...``.

Contract: exit status 0 on success, 2 with one line ``celm: error: <message>`` on stderr for any
:class:`~celm.errors.CelmInputError` (bad namelist, parameter file, forcing or restart), 1 with a
traceback for a bug. Progress is logged to stderr, one line per simulated year.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from celm.errors import CelmInputError

log = logging.getLogger("celm")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m celm",
        description="CELM, the CalLMIP Embedded Land Model: a daily global land model "
        "(P-model GPP, DALEC carbon pools, bucket hydrology, surface energy balance).",
    )
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the years of a namelist (YAML)")
    run.add_argument("namelist", type=Path)
    ss = sub.add_parser(
        "steady-state",
        help="find the periodic state of the namelist's years (one forcing cycle) by cycles, "
        "semi-analytic pool solves and Anderson acceleration in memory, then run the cycle once "
        "from it, writing outputs and restart (same as spinup_mode: analytic)",
    )
    ss.add_argument("namelist", type=Path)
    pr = sub.add_parser("params", help="parameter files")
    pr.add_argument("--write-prior", type=Path, metavar="OUT.json", help="write the prior")
    pr.add_argument("--check", type=Path, metavar="FILE.json", help="validate a parameter file")
    pr.add_argument("--member", type=int, default=None, help="ensemble member for --check")
    ap.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    return ap


def _run(path: Path, analytic: bool) -> int:
    from celm import simulate, steadystate
    from celm.namelist import load_namelist

    nml = load_namelist(path)
    if analytic:
        nml = nml.model_copy(update={"spinup_mode": "analytic"})
    summary = steadystate.run(nml) if nml.spinup_mode == "analytic" else simulate.run(nml)
    log.info(
        "celm: %d year(s), %d land cells: model %.2f s, forcing read %.2f s, output %.2f s; "
        "restart %s",
        len(summary.years),
        summary.ncell,
        summary.model_seconds,
        summary.read_seconds,
        summary.write_seconds,
        summary.restart,
    )
    return 0


def _params(args: argparse.Namespace) -> int:
    from celm.params import PARAMETERS, load_params, write_prior

    if args.write_prior is None and args.check is None:
        for spec in PARAMETERS:
            print(
                f"{spec.name:20s} {spec.default:>10g} [{spec.lower:g}, {spec.upper:g}] "
                f"{spec.units:12s} {spec.description}"
            )
        return 0
    if args.write_prior is not None:
        log.info("celm: wrote %s", write_prior(args.write_prior))
    if args.check is not None:
        values = load_params(args.check, args.member)
        for name, value in values.items():
            print(f"{name} = {value:g}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "run":
            return _run(args.namelist, analytic=False)
        if args.command == "steady-state":
            return _run(args.namelist, analytic=True)
        return _params(args)
    except CelmInputError as exc:
        print(f"celm: error: {exc}", file=sys.stderr)
        return 2
