"""Fixtures: a small demo-like campaign run directory (see esmvaltool_bridge.testing)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
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


@pytest.fixture(scope="session")
def recipe_yardstick() -> Callable:
    """:func:`yardstick.recipe_yardstick`: the recipe's definitions computed independently."""
    spec = importlib.util.spec_from_file_location(
        "esmvaltool_test_yardstick", Path(__file__).resolve().parent / "yardstick.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.recipe_yardstick
