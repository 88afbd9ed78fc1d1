"""Server profile and lifecycle errors that need no running server."""

import contextlib
import http.server
import socket
import subprocess
import sys
import threading
import time

import pytest

from callmip_app.server import ServerError, lifecycle, load_profile, server_down, server_up
from callmip_app.server.lifecycle import (
    client_environment,
    database_url,
    free_port,
    port_is_free,
    release_port,
    server_environment,
)


def test_default_profile_is_loopback_sqlite():
    p = load_profile()
    assert p.is_loopback and p.database == "sqlite"
    assert database_url(p).startswith("sqlite+aiosqlite:///")
    env = client_environment(p)
    assert env["PREFECT_API_URL"] == f"http://127.0.0.1:{p.port}/api"
    assert env["DO_NOT_TRACK"] == "1" and env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert "PREFECT_API_AUTH_STRING" not in env


def test_exposed_server_needs_auth(write_profile, monkeypatch):
    with pytest.raises(ServerError, match="auth_string_env"):
        load_profile(write_profile(host="0.0.0.0"))
    p = load_profile(write_profile(host="0.0.0.0", auth_string_env="TEST_CALLMIP_AUTH"))
    monkeypatch.delenv("TEST_CALLMIP_AUTH", raising=False)
    with pytest.raises(ServerError, match="TEST_CALLMIP_AUTH"):
        client_environment(p)
    monkeypatch.setenv("TEST_CALLMIP_AUTH", "admin:s3cret")
    assert client_environment(p)["PREFECT_API_AUTH_STRING"] == "admin:s3cret"
    env = server_environment(p, database_url(p))
    assert env["PREFECT_SERVER_API_AUTH_STRING"] == "admin:s3cret"
    assert env["PREFECT_API_URL"].startswith("http://127.0.0.1:")


def test_postgres_profile(write_profile, monkeypatch):
    p = load_profile(write_profile(database="postgresql", postgresql={"managed": True,
                                                                      "port": 5499}))
    assert database_url(p) == "postgresql+asyncpg://prefect@127.0.0.1:5499/prefect"
    p = load_profile(write_profile(database="postgresql", postgresql={"managed": False}))
    monkeypatch.delenv("CALLMIP_PREFECT_DATABASE_URL", raising=False)
    with pytest.raises(ServerError, match="CALLMIP_PREFECT_DATABASE_URL"):
        database_url(p)


def test_bad_profile_names_file_and_field(write_profile, tmp_path):
    with pytest.raises(ServerError, match=r"port"):
        load_profile(write_profile(port=80))
    with pytest.raises(ServerError, match="does not exist"):
        load_profile(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("database: mysql\n")
    with pytest.raises(ServerError, match=r"bad.yaml.*\n.*database"):
        load_profile(bad)


def test_port_in_use_is_a_clear_error_and_nothing_starts(write_profile):
    # The test holds its port from the start (bound to port 0 by the kernel, never released
    # until the end): nothing can take it in between, so this cannot race.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        profile = load_profile(write_profile(port=port))
        with pytest.raises(ServerError, match=f"port {port}"):
            server_up(profile)
    assert not profile.state_file.exists()
    assert server_down(profile) == []


def _port_in_time_wait() -> int:
    """A port whose only socket is a closed connection in TIME_WAIT, made deterministically.

    This is what a server test leaves behind on its port: the side that closes a connection
    first (the server, here ``conn``) keeps its end in TIME_WAIT for 60 s. The listener sets
    SO_REUSEADDR as uvicorn does; the accepted connection inherits it, which is what lets a
    later server bind with SO_REUSEADDR (and only such a bind) over the TIME_WAIT entry.
    """
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        conn, _ = listener.accept()
        conn.close()
        client.close()
    return port


def test_port_in_time_wait_is_not_handed_out():
    """The cause of the flaky ``port_in_use`` test, reproduced: a port in TIME_WAIT passed the
    old check (made with SO_REUSEADDR) and then failed the test's own plain bind."""
    port = _port_in_time_wait()
    with socket.socket() as plain, pytest.raises(OSError, match="in use"):
        plain.bind(("127.0.0.1", port))
    assert port_is_free(port)  # a server (uvicorn binds with SO_REUSEADDR) may restart there
    assert not port_is_free(port, reuse_addr=False)
    with pytest.raises(ServerError, match=f"no free port in {port}-{port}"):
        free_port(port, port)  # so it is never handed to code that binds plainly


def test_reserved_port_is_not_handed_out_twice(tmp_path):
    """Between the check and the bind, a port handed out stays reserved for its caller, in this
    process and in any other (the race between test sessions on one machine)."""
    with socket.socket() as s:  # a port the kernel says is free, then let go
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert free_port(port, port) == port
    try:
        with pytest.raises(ServerError, match="reserved by another callmip process"):
            free_port(port, port)
        other = subprocess.run(
            [sys.executable, "-c", "from callmip_app.server.lifecycle import free_port\n"
             f"print(free_port({port}, {port}))"], capture_output=True, text=True, timeout=60)
        assert other.returncode != 0 and "no free port" in other.stderr
    finally:
        release_port(port)
    assert free_port(port, port) == port  # released: available again
    release_port(port)


class _Healthy(http.server.BaseHTTPRequestHandler):
    """A stranger on the port that answers 200 to everything, /api/health included."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("stranger", ["answers-health", "silent"])
def test_port_taken_between_check_and_bind_is_a_clear_error(write_profile, monkeypatch,
                                                           stranger):
    """Another process takes the port after ``server up`` checked it: a clear error naming the
    port, in bounded time, and nothing left running - never a hang, and never a stranger's
    server taken for ours."""
    import psutil

    with contextlib.ExitStack() as stack:
        if stranger == "answers-health":
            httpd = http.server.HTTPServer(("127.0.0.1", 0), _Healthy)
            stack.callback(httpd.server_close)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            stack.callback(httpd.shutdown)
            port = httpd.server_address[1]
        else:
            s = stack.enter_context(socket.socket())
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
        profile = load_profile(write_profile(port=port, startup_timeout_s=120))
        # the check ran while the port was still free; the stranger took it right after
        monkeypatch.setattr(lifecycle, "port_is_free", lambda *a, **k: True)
        before = {p.pid for p in psutil.process_iter()}
        t0 = time.monotonic()
        with pytest.raises(ServerError, match=f"port {port} .*another process"):
            server_up(profile, register=False, worker=False)
        assert time.monotonic() - t0 < 90
    assert not profile.state_file.exists()
    left = [p for p in psutil.process_iter(["cmdline"]) if p.pid not in before
            and str(port) in " ".join(p.info["cmdline"] or [])]
    assert not left


def test_server_that_does_not_come_up_fails_and_is_stopped(write_profile):
    """A start-up timeout is an error (never a fallback server) and leaves no process behind."""
    import psutil

    profile = load_profile(write_profile(startup_timeout_s=0.5))
    before = {p.pid for p in psutil.process_iter()}
    with pytest.raises(ServerError, match="not healthy after"):
        server_up(profile)
    assert not profile.state_file.exists()
    new = [p for p in psutil.process_iter(["cmdline"])
           if p.pid not in before and "server" in (p.info["cmdline"] or [])
           and str(profile.port) in (p.info["cmdline"] or [])]
    assert not new


def test_shipped_profiles_validate(monkeypatch):
    from callmip_app.server.profile import REPO_ROOT

    shared = load_profile(REPO_ROOT / "configs" / "server-shared.yaml")
    assert not shared.is_loopback and shared.auth_string_env and shared.database == "postgresql"
    monkeypatch.setenv(shared.auth_string_env, "u:p")
    assert client_environment(shared)["PREFECT_API_AUTH_STRING"] == "u:p"
