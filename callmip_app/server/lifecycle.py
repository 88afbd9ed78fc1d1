"""Start and stop the project's Prefect server, its database, work pool, deployments and worker.

Contract: :func:`server_up` either leaves a healthy server (API + UI), the work pool, the
registered deployments and automation, and one worker running, recorded in
``<home>/server-state.json`` (PIDs with their start times, ports, API URL), or stops whatever it
had started and raises :class:`ServerError` with the log tail. :func:`server_down` stops exactly
the processes in the state file, after checking each PID still belongs to the process recorded
(start time and command line), so a recycled PID is never signalled.

Every child gets ``PREFECT_API_URL`` (a client never silently starts its own temporary server),
``PREFECT_HOME``, telemetry off, and the basic-auth strings when the profile asks for them.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from callmip import atomic
from callmip_app.server.profile import ServerError, ServerProfile

log = logging.getLogger(__name__)

STATE_VERSION = 1


@dataclass
class ProcessRecord:
    """One process we started: enough to recognise it again before signalling it."""

    role: str  # server | worker | postgres
    pid: int
    create_time: float
    cmdline: list[str]
    log: str

    def alive_and_ours(self) -> psutil.Process | None:
        """The live process if it is still the one we started, else None.

        Identity is the PID plus its kernel start time (a recycled PID has another start time);
        the command line is not compared because wrappers ('env', 'runuser') exec or fork the
        real program and /proc/<pid>/cmdline can be briefly empty while a process starts.
        """
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) < 0.1 and not _gone(proc):
                return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        return None


@dataclass
class ServerState:
    """What ``server up`` started; written atomically to the state file."""

    api_url: str
    ui_url: str
    host: str
    port: int
    database: str
    database_url: str
    home: str
    work_pool: str
    processes: list[ProcessRecord] = field(default_factory=list)
    postgres_data: str | None = None
    postgres_bin: str | None = None
    report_url: str = ""
    started: float = field(default_factory=time.time)
    version: int = STATE_VERSION

    def write(self, path: Path) -> None:
        atomic.write_json(path, asdict(self), indent=1)

    @classmethod
    def read(cls, path: Path) -> ServerState:
        try:
            raw = json.loads(path.read_text())
            raw["processes"] = [ProcessRecord(**p) for p in raw.get("processes", [])]
            return cls(**raw)
        except (OSError, ValueError, TypeError) as exc:
            raise ServerError(f"server state file {path} is unreadable: {exc}") from exc


# ----------------------------------------------------------------------------- environment
def database_url(profile: ServerProfile) -> str:
    """SQLAlchemy URL of the server database the profile asks for."""
    if profile.database == "sqlite":
        return f"sqlite+aiosqlite:///{profile.home / 'prefect.db'}"
    pg = profile.postgresql
    if pg.managed:
        return f"postgresql+asyncpg://prefect@127.0.0.1:{pg.port}/prefect"
    url = os.environ.get(pg.url_env, "")
    if not url.startswith("postgresql+asyncpg://"):
        raise ServerError(
            f"server profile: database postgresql (unmanaged) needs environment variable "
            f"{pg.url_env} = postgresql+asyncpg://user:password@host:port/db (got {url!r:.40})"
        )
    return url


def client_environment(profile: ServerProfile) -> dict[str, str]:
    """Variables a client/worker needs to talk to this server (and nothing else)."""
    env = {
        "PREFECT_API_URL": profile.api_url,
        "PREFECT_HOME": str(profile.home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "CALLMIP_DATA_ROOT": str(profile.data_root),
        "CALLMIP_RUN_ROOT": str(profile.run_root),
        "CALLMIP_REPORT_URL": profile.report_url,
    }
    auth = profile.auth_string()
    if auth:
        env["PREFECT_API_AUTH_STRING"] = auth
    return env


def server_environment(profile: ServerProfile, db_url: str) -> dict[str, str]:
    """Variables of the server process itself."""
    env = {
        **client_environment(profile),
        "PREFECT_API_DATABASE_CONNECTION_URL": db_url,
        "PREFECT_SERVER_API_HOST": profile.host,
        "PREFECT_SERVER_API_PORT": str(profile.port),
    }
    if os.environ.get("PREFECT_UI_API_URL"):  # public URL of the API for remote browsers
        env["PREFECT_UI_API_URL"] = os.environ["PREFECT_UI_API_URL"]
    auth = profile.auth_string()
    if auth:
        env["PREFECT_SERVER_API_AUTH_STRING"] = auth
    return env


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(extra)
    return env


def _prefect_bin() -> str:
    exe = Path(sys.executable).with_name("prefect")
    if exe.is_file():
        return str(exe)
    found = shutil.which("prefect")
    if found is None:
        raise ServerError("the 'prefect' command is not installed next to this Python")
    return found


# ----------------------------------------------------------------------------- ports
#: Directory of the cross-process port reservations made by :func:`free_port` (one lock file per
#: port; a reservation lives as long as the process holding the lock, or until released).
PORT_LOCK_DIR = Path(tempfile.gettempdir()) / "callmip-ports"
#: open lock files of the ports this process reserved, by port
_RESERVED: dict[int, object] = {}


def port_is_free(port: int, host: str = "127.0.0.1", *, reuse_addr: bool = True) -> bool:
    """Whether a socket can bind ``host:port`` now.

    ``reuse_addr=True`` asks it as a *server* does: uvicorn (so the Prefect server) and PostgreSQL
    bind with ``SO_REUSEADDR``, which Linux lets through while connections of an earlier server
    on that port still sit in TIME_WAIT. That is the right question before ``server up`` (a
    server restarted on its configured port within a minute must not be refused), and the wrong
    one for picking a port that some *other* code will bind plainly: a plain ``bind`` fails with
    EADDRINUSE on a TIME_WAIT port. :func:`free_port` therefore asks with ``reuse_addr=False``.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if reuse_addr:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _reserve(port: int, host: str) -> bool:
    """Take this machine's reservation of ``port`` (an exclusive, non-blocking ``flock``).

    The lock is held by an open file, so it is released when this process ends, however it
    ends; and a second reservation of the same port fails even inside this process (``flock``
    locks belong to the open file, not to the process).
    """
    PORT_LOCK_DIR.mkdir(mode=0o1777, parents=True, exist_ok=True)
    fh = open(PORT_LOCK_DIR / f"{host}-{port}.lock", "a")  # noqa: SIM115 - held on purpose
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return False
    _RESERVED[port] = fh
    return True


def release_port(port: int) -> None:
    """Give back a port reserved by :func:`free_port` in this process (no-op otherwise)."""
    fh = _RESERVED.pop(port, None)
    if fh is not None:
        fh.close()  # closing the file releases its flock


def free_port(lo: int, hi: int, host: str = "127.0.0.1") -> int:
    """A port in ``lo..hi`` for a server that will bind it *later*, reserved for this process.

    Choosing a port and binding it later is a race in two ways, and both are closed here:
    - the port must be bindable by any kind of ``bind``: one in TIME_WAIT passes a check made
      with ``SO_REUSEADDR`` but fails a plain bind, so the check is made without it;
    - two callers (tests, benchmarks, servers started side by side, in one process or many)
      must not pick the same port between the check and the bind: each port handed out is
      reserved with a lock file until :func:`release_port` or the end of the process, and a
      reserved port is never handed out again.
    A process that does not use this function can still take the port; a server start then
    fails with a clear error (:func:`server_up` checks whose listener answers).
    Ports are tried in random order because several callers pick from the same range at once.
    """
    ports = list(range(lo, hi + 1))
    random.shuffle(ports)
    for port in ports:
        if port in _RESERVED or not _reserve(port, host):
            continue
        if port_is_free(port, host, reuse_addr=False):
            return port
        release_port(port)
    raise ServerError(f"no free port in {lo}-{hi} on {host} (every port is in use, in "
                      f"TIME_WAIT or reserved by another callmip process: {PORT_LOCK_DIR})")


def _listeners(port: int) -> set[int]:
    """PIDs of the processes with a TCP socket listening on ``port`` (any address)."""
    return {c.pid for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid}


def _describe(pid: int) -> str:
    try:
        return f"pid {pid}: {' '.join(psutil.Process(pid).cmdline())[:120]}"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return f"pid {pid}"


# ----------------------------------------------------------------------------- helpers
def _auth_header(profile: ServerProfile) -> dict[str, str]:
    auth = profile.auth_string()
    if not auth:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}


def api_request(profile: ServerProfile, method: str, path: str, body: dict | None = None,
                timeout: float = 10.0) -> tuple[int, object]:
    """One JSON request to the server API (status, decoded body); no Prefect import needed."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(  # noqa: S310 - URL built from the validated profile
        profile.api_url + path, data=data, method=method,
        headers={"Content-Type": "application/json", **_auth_header(profile)},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            text = resp.read().decode()
            return resp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _log_tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _spawn(role: str, cmd: list[str], env: dict[str, str], profile: ServerProfile) -> ProcessRecord:
    """Start a child in its own session (its own process group), logging to <home>/logs."""
    profile.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = profile.log_dir / f"{role}.log"
    with open(log_path, "ab") as fh:
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=_child_env(env), cwd=str(profile.home), start_new_session=True,
        )
    info = psutil.Process(proc.pid)
    log.info("started %s (pid %d): %s", role, proc.pid, " ".join(cmd))
    return ProcessRecord(role, proc.pid, info.create_time(), info.cmdline(), str(log_path))


def _ours(rec: ProcessRecord) -> set[int]:
    """The PIDs of a process we started and of all its descendants."""
    proc = rec.alive_and_ours()
    if proc is None:
        return set()
    try:
        return {rec.pid} | {c.pid for c in proc.children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def _wait_healthy(profile: ServerProfile, server: ProcessRecord) -> None:
    """Wait until *our* server answers on the profile's port, or fail clearly.

    A healthy answer alone is not proof: if another process took the port between the
    ``port_is_free`` check and our server's bind (another Prefect server, say), it would answer
    while ours exits on EADDRINUSE, and deployments would be registered into a stranger's server.
    So the port's listener must be our server's process (or a child of it).
    """
    deadline = time.monotonic() + profile.startup_timeout_s
    while time.monotonic() < deadline:
        if server.alive_and_ours() is None:
            tail = _log_tail(Path(server.log))
            if "address already in use" in tail.lower() or "already in use" in tail.lower():
                others = ", ".join(_describe(p) for p in sorted(_listeners(profile.port)))
                raise ServerError(
                    f"port {profile.port} (port of the server profile) was taken by another "
                    f"process ({others or 'since gone'}) before the Prefect server could bind "
                    f"it; choose another port or stop that process. Server log {server.log}")
            raise ServerError(
                f"the Prefect server exited during start-up; log {server.log}:\n" + tail)
        try:
            status, _ = api_request(profile, "GET", "/health", timeout=2)
        except (OSError, urllib.error.URLError):
            status = None
        if status == 200:
            strangers = _listeners(profile.port) - _ours(server)
            if not strangers:
                return
            raise ServerError(
                f"port {profile.port} (port of the server profile) is held by another process "
                f"({', '.join(_describe(p) for p in sorted(strangers))}), which answered in "
                f"place of the Prefect server we started; choose another port or stop it")
        time.sleep(0.5)
    raise ServerError(
        f"the Prefect server at {profile.api_url} was not healthy after "
        f"{profile.startup_timeout_s:.0f} s; log {server.log}:\n" + _log_tail(Path(server.log))
    )


def _reports_command(profile: ServerProfile) -> list[str]:
    """The read-only report server over the run root (basic auth when the profile has it)."""
    cmd = [sys.executable, "-m", "callmip_app.server.reports", "--root", str(profile.run_root),
           "--host", profile.host, "--port", str(profile.reports_port)]
    if profile.auth_string_env:
        cmd += ["--auth-env", profile.auth_string_env]
    return cmd


def _wait_listening(rec: ProcessRecord, port: int, host: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rec.alive_and_ours() is None:
            raise ServerError(f"the {rec.role} server exited; log {rec.log}:\n"
                              + _log_tail(Path(rec.log)))
        if not port_is_free(port, host):
            return
        time.sleep(0.2)
    raise ServerError(f"the {rec.role} server did not listen on port {port} within "
                      f"{timeout:.0f} s; log {rec.log}")


def _wait_worker(profile: ServerProfile, worker: ProcessRecord, timeout: float = 60) -> None:
    """Wait until the worker has sent a heartbeat to the pool (it can then pick up runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.alive_and_ours() is None:
            raise ServerError(f"the Prefect worker exited; log {worker.log}:\n"
                              + _log_tail(Path(worker.log)))
        status, body = api_request(
            profile, "POST", f"/work_pools/{profile.work_pool}/workers/filter", {})
        if status == 200 and isinstance(body, list) and body:
            return
        time.sleep(0.5)
    raise ServerError(f"the Prefect worker did not register with pool {profile.work_pool} "
                      f"within {timeout:.0f} s; log {worker.log}:\n" + _log_tail(Path(worker.log)))


# ----------------------------------------------------------------------------- postgres
def _pg_bin(profile: ServerProfile) -> Path:
    if profile.postgresql.bin_dir is not None:
        return profile.postgresql.bin_dir
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        raise ServerError("server profile asks for a managed PostgreSQL but no Debian "
                          "postgresql is installed (apt-get install postgresql)")
    return found[-1].parent


def _as_postgres_user(cmd: list[str]) -> list[str]:
    """initdb/postgres refuse to run as root: run them as the 'postgres' system user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _start_postgres(profile: ServerProfile) -> tuple[ProcessRecord, Path, Path]:
    pg = profile.postgresql
    bindir = _pg_bin(profile)
    data = profile.home / "postgres"
    if not port_is_free(pg.port):
        raise ServerError(f"port {pg.port} (postgresql.port of the server profile) is in use")
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        run = subprocess.run(
            _as_postgres_user([str(bindir / "initdb"), "-D", str(data), "-U", "prefect",
                               "--auth=trust", "-E", "UTF8"]),
            capture_output=True, text=True, timeout=120, check=False,
        )
        if run.returncode:
            raise ServerError(f"initdb {data} failed:\n{run.stderr[-2000:]}")
    cmd = _as_postgres_user([str(bindir / "postgres"), "-D", str(data), "-p", str(pg.port),
                             "-h", "127.0.0.1", "-k", str(data), "-c", "max_connections=200"])
    rec = _spawn("postgres", cmd, {}, profile)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p",
                                str(pg.port)], capture_output=True, timeout=10, check=False)
        if ready.returncode == 0:
            break
        if rec.alive_and_ours() is None:
            raise ServerError(f"PostgreSQL exited; log {rec.log}:\n" + _log_tail(Path(rec.log)))
        time.sleep(0.3)
    else:
        raise ServerError(f"PostgreSQL not ready within 60 s; log {rec.log}")
    subprocess.run([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(pg.port),
                    "-U", "prefect", "prefect"], capture_output=True, timeout=30, check=False)
    return rec, data, bindir


# ----------------------------------------------------------------------------- up / down
def read_state(profile: ServerProfile) -> ServerState | None:
    return ServerState.read(profile.state_file) if profile.state_file.exists() else None


def server_up(profile: ServerProfile, register: bool = True, worker: bool = True) -> ServerState:
    """Start database (if managed), server, pool + deployments + automation, and a worker."""
    profile.home.mkdir(parents=True, exist_ok=True)
    previous = read_state(profile)
    if previous is not None:
        if any(p.alive_and_ours() for p in previous.processes):
            raise ServerError(
                f"a server from this profile is already running ({previous.api_url}); "
                f"state file {profile.state_file}: run 'callmip server down' first")
        profile.state_file.unlink()
    bind = "127.0.0.1" if profile.host == "localhost" else profile.host
    if not port_is_free(profile.port, bind):
        raise ServerError(f"port {profile.port} (port of the server profile) is already in use")
    if not port_is_free(profile.reports_port, bind):
        raise ServerError(f"port {profile.reports_port} (report_port of the server profile) is "
                          "already in use")
    db_url = database_url(profile)
    ui_host = "127.0.0.1" if not profile.is_loopback else profile.host
    state = ServerState(
        api_url=profile.api_url, ui_url=f"http://{ui_host}:{profile.port}",
        host=profile.host, port=profile.port, database=profile.database,
        database_url=db_url.split("@")[-1] if "@" in db_url else db_url,
        home=str(profile.home), work_pool=profile.work_pool, report_url=profile.report_url,
    )
    try:
        if profile.database == "postgresql" and profile.postgresql.managed:
            rec, data, bindir = _start_postgres(profile)
            state.processes.append(rec)
            state.postgres_data, state.postgres_bin = str(data), str(bindir)
            state.write(profile.state_file)
        server = _spawn(
            "server",
            [_prefect_bin(), "server", "start", "--host", profile.host, "--port",
             str(profile.port), "--no-background", "--analytics-off"],
            server_environment(profile, db_url), profile,
        )
        state.processes.append(server)
        state.write(profile.state_file)
        reports = _spawn("reports", _reports_command(profile), client_environment(profile),
                         profile)
        state.processes.append(reports)
        state.write(profile.state_file)
        _wait_healthy(profile, server)
        _wait_listening(reports, profile.reports_port, bind)
        if register:
            register_all(profile)
        if worker:
            wrec = _spawn(
                "worker",
                ["env", "--default-signal=INT", _prefect_bin(), "worker", "start", "--pool",
                 profile.work_pool, "--type", "process", "--limit", str(profile.worker_limit)],
                client_environment(profile), profile,
            )
            state.processes.append(wrec)
            state.write(profile.state_file)
            _wait_worker(profile, wrec)
    except BaseException:
        _stop(state)
        profile.state_file.unlink(missing_ok=True)
        raise
    (profile.home / "client.env").write_text(
        "".join(f"export {k}={v}\n" for k, v in client_environment(profile).items()
                if k != "PREFECT_API_AUTH_STRING"))
    return state


def register_all(profile: ServerProfile) -> None:
    """Create the work pool, deployments and automation, in a child process with the client env.

    A child process because Prefect reads its settings once per process: this one may already
    have imported Prefect with other settings.
    """
    run = subprocess.run(
        [sys.executable, "-m", "flows.deployments", "register", "--pool", profile.work_pool],
        env=_child_env(client_environment(profile)), capture_output=True, text=True,
        timeout=300, check=False, cwd=str(Path(__file__).resolve().parents[2]),
    )
    (profile.log_dir / "register.log").write_text(run.stdout + run.stderr)
    if run.returncode:
        raise ServerError("registering the work pool, deployments and automation failed:\n"
                          + run.stderr[-3000:])


def _gone(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _terminate(rec: ProcessRecord, timeout: float = 15) -> bool:
    """Stop one recorded process and its process group; True if it was ours and is now gone."""
    proc = rec.alive_and_ours()
    if proc is None:
        return False
    # SIGINT first: the worker (started with --default-signal=INT) and the server shut down
    # cleanly on it; then TERM, then KILL the whole process group we created
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(rec.pid, sig)
        except (ProcessLookupError, PermissionError):
            if not _gone(proc):
                proc.send_signal(sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(psutil.TimeoutExpired):
                proc.wait(0.2)
            if _gone(proc):
                return True
    raise ServerError(f"{rec.role} (pid {rec.pid}) did not stop, even on SIGKILL")


def _stop(state: ServerState) -> list[str]:
    stopped = []
    for rec in reversed(state.processes):  # worker, server, then the database
        if rec.alive_and_ours() is None:
            continue
        if rec.role == "postgres" and state.postgres_bin and rec.alive_and_ours():
            pg_ctl = Path(state.postgres_bin) / "pg_ctl"
            subprocess.run(_as_postgres_user([str(pg_ctl), "stop", "-D", str(state.postgres_data),
                                              "-m", "fast", "-w"]),
                           capture_output=True, timeout=60, check=False)
        _terminate(rec)  # no-op when pg_ctl already stopped the cluster
        stopped.append(f"{rec.role} (pid {rec.pid})")
    return stopped


def server_down(profile: ServerProfile) -> list[str]:
    """Stop what ``server_up`` recorded; return what was stopped. No state: nothing to do."""
    state = read_state(profile)
    if state is None:
        return []
    stopped = _stop(state)
    profile.state_file.unlink(missing_ok=True)
    return stopped


def server_status(profile: ServerProfile) -> dict:
    """State file plus whether each recorded process is still alive and the API healthy."""
    state = read_state(profile)
    if state is None:
        return {"running": False}
    procs = {f"{p.role}:{p.pid}": p.alive_and_ours() is not None for p in state.processes}
    try:
        healthy = api_request(profile, "GET", "/health", timeout=3)[0] == 200
    except (OSError, urllib.error.URLError):
        healthy = False
    return {"running": all(procs.values()) and healthy, "healthy": healthy,
            "processes": procs, "api_url": state.api_url, "ui_url": state.ui_url,
            "report_url": state.report_url, "database": state.database}
