"""Fixtures of the benchmark-stage tests: small real NetCDF inputs written per test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.catalog import ReferenceProduct
from benchmarks.testing import land_mask, regular_grid, seasonal_field, write_reference

YEARS = (2001, 2003)


@pytest.fixture(scope="session")
def grid4() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A global 4-degree grid and its land mask."""
    lat, lon = regular_grid(4.0)
    return lat, lon, land_mask(lat, lon)


@pytest.fixture
def hfls_reference(tmp_path: Path, grid4) -> tuple[ReferenceProduct, np.ndarray]:
    """A synthetic latent-heat product in an ILAMB_ROOT tree, and its values."""
    lat, lon, mask = grid4
    values = seasonal_field(lat, lon, YEARS, mean=50, amplitude=30, seed=1, mask=mask)
    path = write_reference(
        tmp_path / "root/DATA/hfls/TEST/hfls.nc",
        name="hfls",
        values=values,
        lat=lat,
        lon=lon,
        years=YEARS,
        units="W m-2",
    )
    product = ReferenceProduct(
        variable="hfls",
        product="TEST",
        paths=(path,),
        file_variable="hfls",
        units="W m-2",
        display_units="W m-2",
        period=YEARS,
        weight=1.0,
        citation="synthetic",
        mass_weighting=True,
    )
    return product, values
