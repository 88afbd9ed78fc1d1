"""Fixtures of the real-CABLE tests: the program built once per session (cached by source
hash across sessions), and model-ready forcing made by the forcing stage's own functions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from callmip.drivers.cable_pop.build import CableBuildError, build_cable, default_source


@pytest.fixture(scope="session")
def cable_program(unavailable) -> Path:
    """The serial ``cable`` built from ../shared/models/cable-pop-trendy (or $CABLE_SRC)."""
    if not default_source().is_dir():
        unavailable(f"no CABLE source at {default_source()}", "CABLE")
    try:
        return build_cable(log=lambda msg: print(msg, flush=True)).executable
    except CableBuildError as exc:
        unavailable(str(exc), "CABLE")
        raise


@pytest.fixture(scope="session")
def cable_forcing(tmp_path_factory) -> Path:
    """Model-ready 2-degree forcing of 1901 and 1902 (synthetic CRU-JRA layout, real prepare)."""
    from forcing.prepare import prepare_year
    from forcing.synthetic import write_crujra_years

    root = tmp_path_factory.mktemp("cable_forcing")
    write_crujra_years(root / "crujra", [1901, 1902], res_deg=2, seed=11, workers=1)
    out = root / "model_2deg"
    for year in (1901, 1902):
        prepare_year(root / "crujra", year, 2.0, out, cache_dir=root / "weights")
    shutil.rmtree(root / "crujra")
    return out
