"""The read-only report server of ``callmip server up``: what it serves and what it refuses."""

from __future__ import annotations

import base64
import threading
import urllib.error
import urllib.request

import pytest

from callmip.report_links import report_url
from callmip_app.server.lifecycle import free_port, release_port
from callmip_app.server.reports import serve


@pytest.fixture
def served(tmp_path):
    """A run root with a report, secrets beside it, and the server on it (optionally auth)."""
    root = tmp_path / "runs"
    report = root / "sim_A" / "benchmark"
    report.mkdir(parents=True)
    (report / "index.html").write_text("<html>scores</html>")
    (report / "scores.csv").write_text("a,b\n")
    (report / "maps").mkdir()
    (report / "maps" / "x.nc").write_bytes(b"CDF")
    (root / ".prefect-server").mkdir()
    (root / ".prefect-server" / "server-state.json").write_text("{}")
    (tmp_path / "secret.html").write_text("secret")
    (report / "link.html").symlink_to(tmp_path / "secret.html")
    servers = []

    def start(auth: str | None = None) -> str:
        port = free_port(4300, 4399)
        server = serve(root, "127.0.0.1", port, auth)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, port))
        return f"http://127.0.0.1:{port}"

    yield root, start
    for server, port in servers:
        server.shutdown()
        server.server_close()
        release_port(port)


def get(url: str, auth: str | None = None, method: str = "GET") -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def test_serves_reports_and_refuses_everything_else(served):
    _, start = served
    base = start()
    assert get(f"{base}/sim_A/benchmark/index.html") == (200, b"<html>scores</html>")
    assert get(f"{base}/sim_A/benchmark/")[1] == b"<html>scores</html>"  # index, no listing
    assert get(f"{base}/sim_A/benchmark/scores.csv")[0] == 200
    for path in ("/sim_A/benchmark/maps/x.nc", "/.prefect-server/server-state.json",
                 "/sim_A/../../secret.html", "/sim_A/benchmark/link.html", "/sim_A/",
                 "/%2e%2e/secret.html", "/nothing.html"):
        assert get(base + path)[0] == 404, path
    assert get(f"{base}/sim_A/benchmark/index.html", method="POST")[0] == 405


def test_basic_auth_when_the_profile_asks(served):
    _, start = served
    base = start("coordinator:s3cret")
    assert get(f"{base}/sim_A/benchmark/index.html")[0] == 401
    assert get(f"{base}/sim_A/benchmark/index.html", "coordinator:wrong")[0] == 401
    assert get(f"{base}/sim_A/benchmark/index.html", "coordinator:s3cret")[0] == 200


def test_report_links_are_http_under_the_run_root(tmp_path, monkeypatch):
    report = tmp_path / "runs" / "coll" / "sim A" / "benchmark" / "index.html"
    monkeypatch.delenv("CALLMIP_REPORT_URL", raising=False)
    assert report_url(report) == report.resolve().as_uri()
    monkeypatch.setenv("CALLMIP_REPORT_URL", "http://127.0.0.1:4201/")
    monkeypatch.setenv("CALLMIP_RUN_ROOT", str(tmp_path / "runs"))
    assert report_url(report) == "http://127.0.0.1:4201/coll/sim%20A/benchmark/index.html"
    assert report_url(tmp_path / "elsewhere.html").startswith("file://")
