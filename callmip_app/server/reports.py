"""Serve the benchmark reports under the run root over HTTP, read-only.

Contract: ``python -m callmip_app.server.reports --root RUN_ROOT --host H --port P`` (started by
``callmip server up`` next to the Prefect server, stopped by ``server down``) answers GET and
HEAD for report files below ``RUN_ROOT`` and nothing else: the path must resolve (symlinks
included) inside the root, no path component may start with '.' (the server's home, uploaded
campaign files), and only report file types are served (HTML, PNG, CSV, markdown, JSON,
text). Directories answer with their ``index.html`` or 404 - nothing is listed. When the
environment variable named by ``--auth-env`` holds ``user:password``, every request needs
those basic-auth credentials (the same secret as the Prefect API), so a server exposed
beyond loopback does not expose the reports either.

The links the Prefect artifacts carry are made by :func:`callmip.report_links.report_url`.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import os
import sys
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

SERVED_SUFFIXES = frozenset({".html", ".png", ".csv", ".md", ".json", ".txt", ".svg"})


def resolve_request(root: Path, url_path: str) -> Path | None:
    """The file a request path names, or None when it must not be served."""
    rel = unquote(urlsplit(url_path).path).lstrip("/")
    parts = [p for p in rel.split("/") if p]
    if any(p.startswith(".") or "\x00" in p for p in parts):
        return None
    target = (root / Path(*parts)) if parts else root
    try:
        target = target.resolve()
    except OSError:
        return None
    if not target.is_relative_to(root):
        return None
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file() or target.suffix.lower() not in SERVED_SUFFIXES:
        return None
    return target


class ReportHandler(SimpleHTTPRequestHandler):
    """Read-only handler: allowed report files under the root, optional basic auth."""

    server_version = "callmip-reports"
    root: Path = Path(".")
    auth: str | None = None

    def _authorised(self) -> bool:
        if not self.auth:
            return True
        given = self.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(self.auth.encode()).decode()
        if hmac.compare_digest(given.encode(), expected.encode()):
            return True
        self.send_response(HTTPStatus.UNAUTHORIZED)
        self.send_header("WWW-Authenticate", 'Basic realm="callmip reports"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def send_head(self):
        if not self._authorised():
            return None
        target = resolve_request(self.root, self.path)
        if target is None:
            self.send_error(HTTPStatus.NOT_FOUND, "no such report file")
            return None
        try:
            handle = open(target, "rb")  # noqa: SIM115 - closed by the base class
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "no such report file")
            return None
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", self.guess_type(str(target)))
        self.send_header("Content-Length", str(target.stat().st_size))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        return handle

    def list_directory(self, path):
        self.send_error(HTTPStatus.NOT_FOUND, "no such report file")

    def do_POST(self):
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    do_PUT = do_DELETE = do_PATCH = do_POST  # noqa: N815

    def log_message(self, format: str, *args) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def serve(root: Path, host: str, port: int, auth: str | None = None) -> ThreadingHTTPServer:
    """A server (not yet running) for the reports under ``root``."""
    handler = type("Handler", (ReportHandler,), {"root": Path(root).resolve(), "auth": auth})
    return ThreadingHTTPServer((host, port), partial(handler, directory=str(root)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m callmip_app.server.reports")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--auth-env", default=None,
                        help="environment variable holding user:password (basic auth)")
    args = parser.parse_args(argv)
    auth = os.environ.get(args.auth_env, "") if args.auth_env else None
    if args.auth_env and ":" not in (auth or ""):
        parser.error(f"environment variable {args.auth_env} must hold user:password")
    args.root.mkdir(parents=True, exist_ok=True)
    server = serve(args.root, args.host, args.port, auth or None)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
