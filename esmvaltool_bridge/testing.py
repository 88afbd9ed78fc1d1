"""A small demo-like campaign run directory for tests and the benchmark script.

Two models x two calibration stages of CalLMIP monthly files (hfls, hfss) on the demo's
2-degree grid (centres -89..89, -179..179), so ESMValTool regrids them to the shipped FLUXCOM
grid (offset by 0.25 degrees) exactly as in the demo, plus the ``campaign.yaml`` a finished
campaign leaves in its run directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from benchmarks.testing import land_mask, regular_grid, seasonal_field, write_callmip_monthly

REPO = Path(__file__).resolve().parents[1]


def make_run_dir(
    root: Path,
    name: str = "esmv",
    *,
    years: tuple[int, int] = (2003, 2005),
    resolution: float = 2.0,
    variables: Sequence[str] = ("hfls", "hfss", "evspsbl"),
) -> Path:
    """Write ``root/name`` with ``campaign.yaml`` and ``callmip/S3/*_monthly_*.nc``."""
    run_dir = Path(root) / name
    lat, lon = regular_grid(resolution)
    mask = land_mask(lat, lon)
    sim = run_dir / "callmip" / "S3"
    for m, model in enumerate(("CELM-A.v1", "CELM-B.v1")):
        for s, stage in enumerate(("Prior", "Posterior")):
            seed = 10 * m + s
            hfls = seasonal_field(lat, lon, years, mean=45 + 5 * s, amplitude=25, seed=seed,
                                  mask=mask)
            hfss = seasonal_field(lat, lon, years, mean=30 - 4 * m, amplitude=20,
                                  seed=seed + 100, phase_months=1.0, mask=mask)
            res = f"{resolution:g}deg"
            write_callmip_monthly(
                sim / f"{model}_global_{res}_monthly_{years[0]}-{years[1]}_{stage}.nc",
                model=model, stage=stage, lat=lat, lon=lon, years=years,
                variables={"hfls": hfls, "hfss": hfss},
            )
    campaign = {
        "name": name,
        "resolution": resolution,
        "periods": {"historical": list(years)},
        "models": [{"name": "CELM-A"}, {"name": "CELM-B"}],
        "simulations": ["S3"],
        "references": {
            "catalog": str(REPO / "configs" / "references.yaml"),
            "ilamb_root": str(REPO / "data" / "ILAMB_ROOT"),
            "variables": list(variables),
            "mode": "ilamb27",
        },
    }
    (run_dir / "campaign.yaml").write_text(yaml.safe_dump(campaign, sort_keys=False))
    return run_dir
