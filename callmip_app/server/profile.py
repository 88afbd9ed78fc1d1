"""The server profile: where the Prefect server lives, which database it uses, who may reach it.

Contract: :func:`load_profile` returns a validated :class:`ServerProfile` (relative paths resolved
against the profile file's directory) or raises :class:`ServerError` naming the file, field and
problem. Nothing is started here; :mod:`callmip_app.server.lifecycle` reads the profile.

A server bound beyond the loopback interface must be protected: the profile then has to name an
environment variable holding ``user:password`` (Prefect's ``PREFECT_SERVER_API_AUTH_STRING``),
and the profile is refused otherwise. The secret itself never goes into the profile file.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from callmip.config import REPO_ROOT

DEFAULT_PROFILE = REPO_ROOT / "configs" / "server.yaml"


class ServerError(RuntimeError):
    """The Prefect server cannot be configured, started or stopped; the message says why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PostgresConfig(_Strict):
    """PostgreSQL: either a private Debian cluster managed under the server home, or a URL."""

    managed: bool = Field(
        True, description="start a private PostgreSQL cluster (Debian postgresql) under home"
    )
    port: int = Field(5433, ge=1024, le=65535, description="port of the managed cluster")
    bin_dir: Path | None = Field(
        None, description="PostgreSQL binaries (default: newest /usr/lib/postgresql/*/bin)"
    )
    url_env: str = Field(
        "CALLMIP_PREFECT_DATABASE_URL",
        description="unmanaged: environment variable holding the postgresql+asyncpg:// URL",
    )


class ServerProfile(_Strict):
    """Everything ``callmip server up`` needs."""

    home: Path = Field(REPO_ROOT / "runs" / ".prefect-server",
                       description="PREFECT_HOME, logs, database (SQLite) and the state file")
    host: str = Field("127.0.0.1", description="interface the server binds to")
    port: int = Field(4200, ge=1024, le=65535, description="server port (API and UI)")
    database: Literal["sqlite", "postgresql"] = Field(
        "sqlite", description="sqlite for one user; postgresql for concurrent use"
    )
    postgresql: PostgresConfig = Field(default_factory=PostgresConfig)
    auth_string_env: str | None = Field(
        None, description="environment variable holding 'user:password' for API basic auth; "
        "required when host is not loopback"
    )
    work_pool: str = Field("callmip-process", pattern=r"^[A-Za-z0-9_-]+$",
                           description="process work pool the deployments run on")
    worker_limit: int = Field(4, ge=1, le=256, description="flow runs one worker runs at once")
    data_root: Path = Field(REPO_ROOT / "configs",
                            description="parameter/campaign files must lie inside this directory")
    run_root: Path = Field(REPO_ROOT / "runs",
                           description="run directories are created and read only inside this")
    startup_timeout_s: float = Field(120, gt=0, le=3600,
                                     description="give up if the server is not healthy by then")
    report_port: int | None = Field(
        None, ge=1024, le=65535,
        description="port of the read-only report server (default: port + 1); the UI's report "
        "links point there")

    @model_validator(mode="after")
    def _auth_beyond_loopback(self) -> ServerProfile:
        if not self.is_loopback and not self.auth_string_env:
            raise ValueError(
                f"host {self.host!r} is reachable beyond this machine: set auth_string_env to "
                "the name of an environment variable holding 'user:password'"
            )
        return self

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def api_url(self) -> str:
        """URL local clients use (loopback even when the server binds every interface)."""
        host = self.host if self.is_loopback else "127.0.0.1"
        return f"http://{host}:{self.port}/api"

    @property
    def reports_port(self) -> int:
        """Port of the report server."""
        return self.report_port if self.report_port is not None else self.port + 1

    @property
    def report_url(self) -> str:
        """Base URL of the served reports (what the artifacts link to)."""
        host = self.host if self.is_loopback else "127.0.0.1"
        public = os.environ.get("CALLMIP_PUBLIC_REPORT_URL")
        return public.rstrip("/") if public else f"http://{host}:{self.reports_port}"

    @property
    def state_file(self) -> Path:
        return self.home / "server-state.json"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    def auth_string(self) -> str | None:
        """The basic-auth secret from the environment (never stored in the profile)."""
        if not self.auth_string_env:
            return None
        value = os.environ.get(self.auth_string_env, "")
        if ":" not in value or value.startswith(":"):
            raise ServerError(
                f"environment variable {self.auth_string_env} (auth_string_env of the server "
                "profile) must hold 'user:password'"
            )
        return value


def _resolve(raw: dict, base: Path) -> dict:
    for key in ("home", "data_root", "run_root"):
        if isinstance(raw.get(key), str) and not Path(raw[key]).is_absolute():
            raw[key] = str((base / raw[key]).resolve())
    pg = raw.get("postgresql")
    if isinstance(pg, dict) and isinstance(pg.get("bin_dir"), str):
        pg["bin_dir"] = str((base / pg["bin_dir"]).resolve())
    return raw


def load_profile(path: Path | str | None = None, **overrides: object) -> ServerProfile:
    """Read and validate a server profile (default ``configs/server.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_PROFILE
    if not path.is_file():
        raise ServerError(f"server profile {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ServerError(f"server profile {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ServerError(f"server profile {path} must be a YAML mapping")
    raw = _resolve(raw, path.resolve().parent)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return ServerProfile.model_validate(raw)
    except ValidationError as exc:
        lines = [f"invalid server profile {path}:"]
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
            lines.append(f"  - {loc}: {e['msg'].removeprefix('Value error, ')}")
        raise ServerError("\n".join(lines)) from None
