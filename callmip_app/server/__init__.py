"""Prefect server lifecycle for callmip-global: ``callmip server up|down|status``.

See :mod:`callmip_app.server.lifecycle` (processes, state file) and
:mod:`callmip_app.server.profile` (the YAML profile: database, ports, auth, data and run roots).
"""

from callmip_app.server.lifecycle import (
    ServerState,
    client_environment,
    server_down,
    server_status,
    server_up,
)
from callmip_app.server.profile import ServerError, ServerProfile, load_profile

__all__ = [
    "ServerError",
    "ServerProfile",
    "ServerState",
    "client_environment",
    "load_profile",
    "server_down",
    "server_status",
    "server_up",
]
