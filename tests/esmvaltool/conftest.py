"""Fixtures: a small demo-like campaign run directory (see esmvaltool_bridge.testing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from esmvaltool_bridge.testing import make_run_dir


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished-looking campaign run directory (shared: tests must not modify its inputs)."""
    return make_run_dir(tmp_path_factory.mktemp("esmvaltool"))


@pytest.fixture
def fresh_run_dir(tmp_path: Path) -> Path:
    """A run directory of the test's own."""
    return make_run_dir(tmp_path)
