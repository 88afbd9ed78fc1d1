"""Shared helpers of the server tests: free ports in 4300-4399 and profile files."""

from pathlib import Path

import pytest
import yaml

from callmip.server import lifecycle

REPO = Path(__file__).resolve().parents[2]


def free_port(lo: int = 4300, hi: int = 4399) -> int:
    """A port nobody listens on, from the range reserved for these tests (other agents run too)."""
    return lifecycle.free_port(lo, hi)


@pytest.fixture
def write_profile(tmp_path):
    def write(**fields) -> Path:
        data = {"home": str(tmp_path / "home"), "port": free_port(),
                "data_root": str(REPO / "configs"), "run_root": str(tmp_path / "runs"),
                "startup_timeout_s": 180, "worker_limit": 2, **fields}
        path = tmp_path / "server.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write
