"""Fixtures for the driver tests: the native-file builders of native.py and a truth field."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

_HERE = Path(__file__).resolve().parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("drivers_test_native", _HERE / "native.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def native() -> ModuleType:
    return _load()


@pytest.fixture
def truth(native) -> dict[str, np.ndarray]:
    return native.make_truth()
