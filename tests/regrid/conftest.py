"""Fixtures for the regrid tests: real external tools (CDO, NCO) and small real files.

External tools are skipped only on a developer machine that lacks them; with ``CI=true`` a
missing tool is a failure, because scripts/apt-packages.txt promises it there.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import xarray as xr


def _tool(name: str, package: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"'{name}' (Debian package '{package}') is required in CI but missing")
        pytest.skip(f"'{name}' not installed (Debian package '{package}'); runs in CI")
    return exe


@pytest.fixture
def cdo_exe() -> str:
    """Path of the ``cdo`` executable (skip locally / fail in CI when absent)."""
    return _tool("cdo", "cdo")


@pytest.fixture
def ncks_exe() -> str:
    """Path of NCO's ``ncks`` (skip locally / fail in CI when absent)."""
    return _tool("ncks", "nco")


@pytest.fixture
def make_land_field():
    """Factory ``(lat, lon, n_time=3, seed=0) -> Dataset`` of :func:`land_field`."""
    return land_field


def land_field(lat: np.ndarray, lon: np.ndarray, n_time: int = 3, seed: int = 0) -> xr.Dataset:
    """A CF dataset with a smooth field plus noise, NaN over a blocky synthetic ocean."""
    rng = np.random.default_rng(seed)
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    ocean = (np.sin(np.deg2rad(3 * lon2)) * np.cos(np.deg2rad(2 * lat2)) > 0.2) | (lat2 < -60)
    base = 280.0 + 20.0 * np.cos(np.deg2rad(lat2)) + 3.0 * np.sin(np.deg2rad(lon2))
    data = base[None] + rng.normal(0.0, 1.0, (n_time, *lat2.shape))
    data[:, ocean] = np.nan
    time = xr.date_range("2001-01-01", periods=n_time, freq="D", calendar="noleap",
                         use_cftime=True)
    return xr.Dataset(
        {"tas": (("time", "lat", "lon"), data.astype(np.float32),
                 {"units": "K", "standard_name": "air_temperature",
                  "cell_methods": "time: mean"})},
        coords={"time": time,
                "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
                "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"})},
        attrs={"title": "synthetic land field", "history": "made by the regrid tests"},
    )
