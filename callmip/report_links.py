"""Links to benchmark reports: served over HTTP when a report server runs, else file URIs.

Contract: :func:`report_url` turns a report path into the link a Prefect artifact carries: the
URL under ``CALLMIP_REPORT_URL`` (set by ``callmip server up`` for its worker, where the
read-only report server of :mod:`callmip_app.server.reports` serves ``CALLMIP_RUN_ROOT``) when the
file lies under that run root, else a ``file://`` URI (a campaign run from the shell).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

REPORT_URL_ENV = "CALLMIP_REPORT_URL"


def report_url(path: Path | str) -> str:
    """The link to a report file (see the module docstring)."""
    path = Path(path).resolve()
    base = os.environ.get(REPORT_URL_ENV, "").rstrip("/")
    root = os.environ.get("CALLMIP_RUN_ROOT")
    if base and root:
        root_path = Path(root).resolve()
        if path.is_relative_to(root_path):
            return f"{base}/{quote(path.relative_to(root_path).as_posix())}"
    return path.as_uri()
