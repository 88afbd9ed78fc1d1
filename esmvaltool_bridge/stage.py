"""The campaign's optional ESMValTool stage: run the recipe after the benchmark when asked.

Contract: :func:`run_stage` is what :mod:`flows.campaign` calls. It does nothing unless the
campaign sets ``esmvaltool.enabled``; with the extra missing it returns a skip reason (the
campaign's ILAMB-style report is complete without it) instead of failing; a recipe that fails
raises :class:`~esmvaltool_bridge.errors.RecipeRunError`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from esmvaltool_bridge.errors import ExtraMissingError
from esmvaltool_bridge.runner import EsmvaltoolResult, require_esmvalcore, run_esmvaltool

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageOutcome:
    """Result of the stage: the ESMValTool result, or why it was skipped."""

    result: EsmvaltoolResult | None
    skipped: str | None = None


def run_stage(run_dir: Path, *, enabled: bool, scheme: str, variables: list[str]) -> StageOutcome:
    """Run the campaign's ESMValTool evaluation if enabled and installed."""
    if not enabled:
        return StageOutcome(None, "esmvaltool.enabled is false")
    try:
        require_esmvalcore()
    except ExtraMissingError as exc:
        logger.warning("ESMValTool evaluation skipped: %s", exc)
        return StageOutcome(None, str(exc))
    return StageOutcome(run_esmvaltool(Path(run_dir), scheme=scheme, variables=variables))
