"""`callmip server up/down` for real: server, pool, deployments, automation, worker, basic auth.

The profile binds every interface, so basic auth is on: a request without credentials is refused
(401), with them accepted, and the worker (which only has PREFECT_API_AUTH_STRING) registers.
"""

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import psutil
import pytest

from callmip_app.server import ServerError, load_profile, server_status, server_up
from callmip_app.server.lifecycle import api_request

pytestmark = pytest.mark.slow
AUTH = "callmip-test:pa55-word"


def raw_post(url, auth=None, *, post=True):
    """Status of a POST (an empty JSON body) or, with post=False, of a GET."""
    req = (urllib.request.Request(url, data=b"{}", method="POST",
                                  headers={"Content-Type": "application/json"})
           if post else urllib.request.Request(url))
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_up_status_down_with_basic_auth(write_profile, tmp_path):
    path = write_profile(host="0.0.0.0", auth_string_env="CALLMIP_TEST_AUTH")
    report = tmp_path / "runs" / "sim_x" / "benchmark" / "index.html"
    report.parent.mkdir(parents=True)
    report.write_text("<html>report</html>")
    env = {**os.environ, "CALLMIP_TEST_AUTH": AUTH}
    env.pop("PREFECT_API_URL", None)
    cli = [sys.executable, "-m", "callmip_app.cli", "server"]
    up = subprocess.run([*cli, "up", "--profile", str(path)], env=env, capture_output=True,
                        text=True, timeout=600)
    os.environ["CALLMIP_TEST_AUTH"] = AUTH  # for the in-process checks below
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        profile = load_profile(path)
        state = json.loads(profile.state_file.read_text())
        roles = {p["role"]: p["pid"] for p in state["processes"]}
        assert set(roles) == {"server", "worker", "reports"}
        assert all(psutil.pid_exists(pid) for pid in roles.values())
        assert f"UI http://127.0.0.1:{profile.port}" in up.stdout

        base = f"http://127.0.0.1:{profile.port}/api"
        assert raw_post(base + "/deployments/filter") == 401
        assert raw_post(base + "/deployments/filter", "callmip-test:wrong") == 401
        assert raw_post(base + "/deployments/filter", AUTH) == 200
        assert raw_post(base + "/flow_runs/filter", "x" + AUTH) == 401

        status, deps = api_request(profile, "POST", "/deployments/filter", {})
        assert status == 200
        assert {d["name"] for d in deps} == {"campaign", "global-simulation", "benchmark",
                                             "intercomparison"}
        # the report server asks for the same credentials as the API
        link = f"{profile.report_url}/sim_x/benchmark/index.html"
        assert raw_post(link, post=False) == 401
        assert raw_post(link, AUTH, post=False) == 200
        assert {d["work_pool_name"] for d in deps} == {profile.work_pool}
        status, autos = api_request(profile, "POST", "/automations/filter", {})
        assert [a["name"] for a in autos] == ["benchmark-after-simulation"]
        action = autos[0]["actions"][0]
        bench = next(d for d in deps if d["name"] == "benchmark")
        assert action["deployment_id"] == bench["id"]
        assert "event.payload.run_dir" in json.dumps(action["parameters"])
        # the worker authenticated with PREFECT_API_AUTH_STRING and heartbeats to the pool
        status, workers = api_request(profile, "POST",
                                      f"/work_pools/{profile.work_pool}/workers/filter", {})
        assert status == 200 and workers
        assert server_status(profile)["running"]
        # a second 'up' refuses to start another server over the first
        with pytest.raises(ServerError, match="already running"):
            server_up(profile)
    finally:
        down = subprocess.run([*cli, "down", "--profile", str(path)], env=env,
                              capture_output=True, text=True, timeout=180)
        os.environ.pop("CALLMIP_TEST_AUTH", None)
    assert down.returncode == 0, down.stderr
    assert "stopped worker" in down.stdout and "server" in down.stdout
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
                   for pid in roles.values())
    assert not profile.state_file.exists()
    again = subprocess.run([*cli, "down", "--profile", str(path)], env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "nothing to stop" in again.stdout
