"""Shared helpers of the server tests: reserved free ports in 4300-4399 and profile files."""

from pathlib import Path

import pytest
import yaml

from callmip_app.server import lifecycle

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def reserved_port():
    """A port of the range reserved for these tests, held (cross-process lock) for the test.

    Other test sessions and agents pick from the same range at the same time; the reservation
    keeps them off this port until the test ends, and the port is free even for a plain bind.
    """
    ports: list[int] = []

    def take(lo: int = 4300, hi: int = 4399) -> int:
        ports.append(lifecycle.free_port(lo, hi))
        return ports[-1]

    yield take
    for port in ports:
        lifecycle.release_port(port)


@pytest.fixture
def write_profile(tmp_path, reserved_port):
    def write(**fields) -> Path:
        data = {"home": str(tmp_path / "home"), "port": reserved_port(),
                "report_port": reserved_port(),
                "data_root": str(REPO / "configs"), "run_root": str(tmp_path / "runs"),
                "startup_timeout_s": 180, "worker_limit": 2, **fields}
        path = tmp_path / "server.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write
