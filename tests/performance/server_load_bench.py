"""Load test of the Prefect server: 50 concurrent runs of a trivial deployment, SQLite vs PostgreSQL.

For each database the script starts a private server + worker with ``callmip_app.server.server_up``
(ports 4300-4399, managed Debian PostgreSQL on 5400-5499), registers ``load-trivial``, submits
``--runs`` flow runs concurrently through the API, and waits until every run is terminal. It
reports submit time, time until all completed, runs lost (created but not COMPLETED), and
database errors in the server log ('database is locked', OperationalError, ...). "ours" is the
profile for concurrent use (PostgreSQL, configs/server-shared.yaml), "peer" the single-user
SQLite default; measured here, SQLite answers part of a 50-run burst with 503 ('database is
locked'), which is why shared servers use PostgreSQL.

    uv run python tests/performance/server_load_bench.py [--runs 50] [--only sqlite]

Ends with one line: RESULT name=server_load ours_s=... peer=sqlite peer_s=... ratio=...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
DB_ERRORS = re.compile(r"database is locked|OperationalError|IntegrityError|deadlock detected|"
                       r"DBAPIError|TimeoutError: QueuePool", re.I)


def peak_rss(pids: list[int], stop: threading.Event, out: dict) -> None:
    """Sample the RSS of the server and worker process trees (incl. flow-run children)."""
    peak = 0
    while not stop.is_set():
        total = 0
        for pid in pids:
            try:
                p = psutil.Process(pid)
                for q in [p, *p.children(recursive=True)]:
                    total += q.memory_info().rss
            except psutil.Error:
                continue
        peak = max(peak, total)
        stop.wait(0.5)
    out["peak_mb"] = peak / 2**20


async def submit_and_wait(deployment_id: str, n: int) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId

    async with get_client() as client:
        t0 = time.monotonic()
        created = await asyncio.gather(*[
            client.create_flow_run_from_deployment(deployment_id, parameters={"n": i})
            for i in range(n)], return_exceptions=True)
        t_submit = time.monotonic() - t0
        errors = [repr(r)[:200] for r in created if isinstance(r, BaseException)]
        ids = {r.id for r in created if not isinstance(r, BaseException)}
        states: dict = {}
        while time.monotonic() - t0 < 1800:
            found = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id])), limit=200)
            states = {r.id: r.state_type.value for r in found if r.id in ids}
            if len(states) == len(ids) and all(s in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
                                        for s in states.values()):
                break
            await asyncio.sleep(1)
        t_all = time.monotonic() - t0
    completed = sum(s == "COMPLETED" for s in states.values())
    return {"submit_s": t_submit, "all_done_s": t_all, "completed": completed,
            "lost": n - completed, "created": len(ids), "submit_errors": len(errors),
            "first_submit_error": errors[0] if errors else ""}


def one(db: str, n: int, limit: int) -> dict:
    """Run the load test against one database (in a fresh process: Prefect settings)."""
    from callmip_app.server import load_profile, server_down, server_up
    from callmip_app.server.lifecycle import _child_env, client_environment, free_port

    tmp = Path(tempfile.mkdtemp(prefix=f"callmip-load-{db}-"))
    tmp.chmod(0o755)  # the managed PostgreSQL runs as user 'postgres' and must reach its dir
    profile_path = tmp / "server.yaml"
    import yaml

    profile_path.write_text(yaml.safe_dump({
        "home": str(tmp / "home"), "port": free_port(4300, 4399),
        "report_port": free_port(4300, 4399), "database": db,
        "postgresql": {"managed": True, "port": free_port(5400, 5499)},
        "run_root": str(tmp / "runs"), "worker_limit": limit, "startup_timeout_s": 300}))
    profile = load_profile(profile_path)
    t0 = time.monotonic()
    state = server_up(profile)
    t_up = time.monotonic() - t0
    try:
        env = client_environment(profile)
        dep = subprocess.run([sys.executable, "-m", "flows.deployments_load", "--pool",
                              profile.work_pool], env=_child_env(env), cwd=REPO,
                             capture_output=True, text=True, timeout=300, check=True)
        dep_id = dep.stdout.strip().splitlines()[-1]
        os.environ.update(env)
        stop, mem = threading.Event(), {}
        sampler = threading.Thread(target=peak_rss, daemon=True,
                                   args=([p.pid for p in state.processes], stop, mem))
        sampler.start()
        try:
            out = asyncio.run(submit_and_wait(dep_id, n))
        finally:
            stop.set()
            sampler.join()
        log = "\n".join(Path(p.log).read_text(errors="replace") for p in state.processes)
        out.update(db=db, up_s=t_up, peak_mb=mem.get("peak_mb", 0),
                   db_errors=len(DB_ERRORS.findall(log)), runs=n, worker_limit=limit)
        return out
    finally:
        server_down(profile)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--worker-limit", type=int, default=10)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--child", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.stdout.write("JSON " + json.dumps(one(args.child, args.runs, args.worker_limit))
                         + "\n")
        return 0
    results = {}
    for db in ([args.only] if args.only else ["postgresql", "sqlite"]):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        run = subprocess.run([sys.executable, __file__, "--child", db, "--runs", str(args.runs),
                              "--worker-limit", str(args.worker_limit)],
                             capture_output=True, text=True, env=env, timeout=3600, check=False)
        line = next((ln for ln in run.stdout.splitlines() if ln.startswith("JSON ")), None)
        if run.returncode or line is None:
            sys.stderr.write(run.stdout[-3000:] + run.stderr[-5000:])
            raise SystemExit(f"load test on {db} failed")
        results[db] = json.loads(line[5:])
        r = results[db]
        print(f"{db:10s}: {r['completed']}/{r['runs']} completed, lost {r['lost']}, "
              f"submit errors {r['submit_errors']} {r['first_submit_error']}, "
              f"db errors in logs {r['db_errors']}; submit {r['submit_s']:.2f} s, all done "
              f"{r['all_done_s']:.1f} s, server up {r['up_s']:.1f} s, peak {r['peak_mb']:.0f} MB "
              f"(worker limit {r['worker_limit']})")
    # ours: the profile for concurrent submissions (PostgreSQL); peer: the SQLite default
    ours = results.get("postgresql") or next(iter(results.values()))
    peer = results.get("sqlite", ours)
    print(f"RESULT name=server_load ours_s={ours['all_done_s']:.2f} peer=sqlite "
          f"peer_s={peer['all_done_s']:.2f} ratio={peer['all_done_s'] / ours['all_done_s']:.3f} "
          f"peak_mb={max(r['peak_mb'] for r in results.values()):.0f} runs={ours['runs']} "
          f"db=postgresql lost={ours['lost']} db_errors={ours['db_errors']} "
          f"submit_s={ours['submit_s']:.2f} peer_lost={peer['lost']} "
          f"peer_db_errors={peer['db_errors']} peer_submit_errors={peer['submit_errors']}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
