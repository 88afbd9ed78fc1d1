"""Shared fixtures for the forcing tests: small synthetic CRU-JRA and ISIMIP3b inputs.

Grids are coarse (5 degrees: 36 x 72 cells, ~570 land cells) so a full 6-hourly year takes
well under a second to generate and read; the 0.5-degree path is exercised by the benchmark.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forcing.synthetic import write_crujra_years, write_isimip3b

RES = 5.0
YEARS = (1901, 1902)
ISIMIP_RES = 10.0


@pytest.fixture(scope="session")
def crujra_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two years of synthetic CRU-JRA at 5 degrees, seed 3, as classic uncompressed netCDF
    (what a gunzipped real file is; fast to write)."""
    out = tmp_path_factory.mktemp("crujra")
    write_crujra_years(out, YEARS, res_deg=RES, seed=3, workers=1, compress=False)
    return out


@pytest.fixture
def crujra_copy(crujra_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic CRU-JRA directory, safe to corrupt."""
    dst = tmp_path / "crujra"
    shutil.copytree(crujra_dir, dst)
    return dst


@pytest.fixture(scope="session")
def isimip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic ISIMIP3b gfdl-esm4 files at 10 degrees for 2016 (leap) and 2100, two SSPs."""
    out = tmp_path_factory.mktemp("isimip")
    for ssp in ("ssp126", "ssp585"):
        write_isimip3b(out, "gfdl-esm4", ssp, [2016, 2100], res_deg=ISIMIP_RES, seed=1)
    return out
