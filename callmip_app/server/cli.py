"""``callmip server up|down|status``: the command line of :mod:`callmip_app.server.lifecycle`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from callmip_app.server.lifecycle import server_down, server_status, server_up
from callmip_app.server.profile import DEFAULT_PROFILE, load_profile


def _profile(args: argparse.Namespace):
    return load_profile(args.profile, port=args.port, home=args.home)


def cmd_server(args: argparse.Namespace) -> int:
    """Exit codes: 0 done, 8 the server could not be started/stopped (ServerError; the table
    of exit codes is callmip_app.cli_errors)."""
    profile = _profile(args)
    out = sys.stdout
    if args.action == "up":
        state = server_up(profile)
        out.write(f"Prefect server up: UI {state.ui_url}  API {state.api_url}  "
                  f"reports {state.report_url}\n")
        out.write(f"  database {state.database}; work pool {state.work_pool}; "
                  f"state {profile.state_file}\n")
        for p in state.processes:
            out.write(f"  {p.role}: pid {p.pid}, log {p.log}\n")
        out.write(f"clients: source {profile.home / 'client.env'}  "
                  "(plus PREFECT_API_AUTH_STRING when the profile uses auth)\n")
    elif args.action == "down":
        stopped = server_down(profile)
        out.write(("stopped " + ", ".join(stopped)) if stopped else "nothing to stop")
        out.write("\n")
    else:
        status = server_status(profile)
        out.write(json.dumps(status, indent=1) + "\n")
        return 0 if status.get("running") else 3
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``server`` on the main ``callmip`` parser."""
    p = sub.add_parser("server", help="start/stop the Prefect server, worker and deployments")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--profile", type=Path, default=DEFAULT_PROFILE,
                   help="server profile YAML (default configs/server.yaml)")
    p.add_argument("--port", type=int, default=None, help="override the profile's port")
    p.add_argument("--home", type=Path, default=None, help="override the profile's home")
    p.set_defaults(func=cmd_server)
