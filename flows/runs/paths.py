"""Where a campaign's prepared land use and N deposition live in its run directory.

One place for these paths: the forcing stage writes there (:mod:`flows.pipeline`) and every
run's :class:`~callmip.drivers.base.ModelRun` points there (:mod:`flows.runs.execute`).
"""

from __future__ import annotations

from pathlib import Path

from callmip.config import Campaign


def _suffix(ssp: str | None) -> str:
    return f"_{ssp}" if ssp else ""


def landuse_dir(campaign: Campaign, run_dir: Path, ssp: str | None = None) -> Path:
    """``landuse_<YYYY>.nc`` on the model grid: the history, or one SSP's 2015-2100."""
    return run_dir / "forcing" / f"landuse_{campaign.resolution:g}deg{_suffix(ssp)}"


def ndep_dir(campaign: Campaign, run_dir: Path, ssp: str | None = None) -> Path:
    """``ndep_<YYYY>.nc`` on the model grid: the history, or one SSP's 2015-2100."""
    return run_dir / "forcing" / f"ndep_{campaign.resolution:g}deg{_suffix(ssp)}"
