"""A small demo-like campaign run directory: CalLMIP files of two models x two stages.

The models are written on the demo's 2-degree grid (centres -89..89, -179..179) so ESMValTool
regrids them to the shipped FLUXCOM grid (offset by 0.25 degrees), exactly as in the demo.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchmarks.testing import land_mask, regular_grid, seasonal_field, write_callmip_monthly

REPO = Path(__file__).resolve().parents[2]
YEARS = (2003, 2005)


def make_run_dir(root: Path, name: str = "esmv") -> Path:
    """Write campaign.yaml and callmip/S3/*monthly*.nc like a finished campaign does."""
    run_dir = root / name
    lat, lon = regular_grid(2.0)
    mask = land_mask(lat, lon)
    sim = run_dir / "callmip" / "S3"
    for m, model in enumerate(("CELM-A.v1", "CELM-B.v1")):
        for s, stage in enumerate(("Prior", "Posterior")):
            seed = 10 * m + s
            hfls = seasonal_field(lat, lon, YEARS, mean=45 + 5 * s, amplitude=25, seed=seed,
                                  mask=mask)
            hfss = seasonal_field(lat, lon, YEARS, mean=30 - 4 * m, amplitude=20,
                                  seed=seed + 100, phase_months=1.0, mask=mask)
            write_callmip_monthly(
                sim / f"{model}_global_2deg_monthly_{YEARS[0]}-{YEARS[1]}_{stage}.nc",
                model=model, stage=stage, lat=lat, lon=lon, years=YEARS,
                variables={"hfls": hfls, "hfss": hfss},
            )
    campaign = {
        "name": name,
        "resolution": 2,
        "periods": {"historical": list(YEARS)},
        "models": [{"name": "CELM-A"}, {"name": "CELM-B"}],
        "simulations": ["S3"],
        "references": {
            "catalog": str(REPO / "configs" / "references.yaml"),
            "ilamb_root": str(REPO / "data" / "ILAMB_ROOT"),
            "variables": ["hfls", "hfss", "evspsbl"],
            "mode": "ilamb27",
        },
    }
    (run_dir / "campaign.yaml").write_text(yaml.safe_dump(campaign, sort_keys=False))
    return run_dir


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished-looking campaign run directory (shared: tests must not modify its inputs)."""
    return make_run_dir(tmp_path_factory.mktemp("esmvaltool"))


@pytest.fixture
def fresh_run_dir(tmp_path: Path) -> Path:
    """A run directory of the test's own."""
    return make_run_dir(tmp_path)
