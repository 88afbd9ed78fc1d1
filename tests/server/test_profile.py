"""Server profile and lifecycle errors that need no running server."""

import socket

import pytest

from callmip.server import ServerError, load_profile, server_down, server_up
from callmip.server.lifecycle import client_environment, database_url, server_environment


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
    profile = load_profile(write_profile())
    with socket.socket() as s:
        s.bind(("127.0.0.1", profile.port))
        s.listen()
        with pytest.raises(ServerError, match=f"port {profile.port}"):
            server_up(profile)
    assert not profile.state_file.exists()
    assert server_down(profile) == []


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
    from callmip.server.profile import REPO_ROOT

    shared = load_profile(REPO_ROOT / "configs" / "server-shared.yaml")
    assert not shared.is_loopback and shared.auth_string_env and shared.database == "postgresql"
    monkeypatch.setenv(shared.auth_string_env, "u:p")
    assert client_environment(shared)["PREFECT_API_AUTH_STRING"] == "u:p"
