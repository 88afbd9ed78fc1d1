"""Fixtures for the CELM tests: the synthetic climate helper and small model-ready forcing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_HERE = Path(__file__).parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"celm_test_{name}", _HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def climate():
    """The synthetic-climate helper module (tests/celm/climate.py)."""
    return _load("climate")


@pytest.fixture(scope="session")
def drift():
    """The flow's drift criteria on in-process cycles (tests/celm/drift.py)."""
    return _load("drift")


@pytest.fixture(scope="session")
def coarse_forcing(tmp_path_factory, climate) -> Path:
    """Model-ready forcing on a 10-degree grid for 1901-1903."""
    grid = climate.make_grid(10.0)
    return climate.write_forcing(tmp_path_factory.mktemp("forcing10"), grid, [1901, 1902, 1903])


def land_grid(climate, res: float):
    from celm.grid import LandGrid

    g = climate.make_grid(res)
    return g, LandGrid(
        g.lat,
        g.lon,
        np.stack([g.lat - res / 2, g.lat + res / 2], axis=1),
        np.stack([g.lon - res / 2, g.lon + res / 2], axis=1),
        g.landfrac,
    )


@pytest.fixture(scope="session")
def land_grid_factory(climate):
    return lambda res: land_grid(climate, res)
