"""Explicit registry of benchmark analyses and the overall score.

Contract: :data:`REGISTRY` lists every analysis class by name, in the order rows appear in the
score table; nothing is discovered by scanning modules, so a broken analysis fails loudly at
import instead of silently disappearing. :func:`build_analyses` instantiates them for one
variable/mode/product; :func:`overall_rows` blends the score rows of one confrontation into
the overall score according to the mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np

from benchmarks.analyses.base import Analysis, AnalysisConfig, AnalysisResult, make_row
from benchmarks.analyses.bias import BiasAnalysis
from benchmarks.analyses.cycle import CycleAnalysis
from benchmarks.analyses.iav import IavAnalysis
from benchmarks.analyses.rmse import RmseAnalysis
from benchmarks.analyses.spatial import SpatialAnalysis
from benchmarks.modes import ScoringMode

REGISTRY: Mapping[str, type] = MappingProxyType(
    {
        "bias": BiasAnalysis,
        "rmse": RmseAnalysis,
        "cycle": CycleAnalysis,
        "iav": IavAnalysis,
        "spatial": SpatialAnalysis,
    }
)

__all__ = [
    "REGISTRY",
    "Analysis",
    "AnalysisConfig",
    "AnalysisResult",
    "build_analyses",
    "overall_rows",
]


def build_analyses(
    variable: str,
    mode: ScoringMode,
    *,
    regions: Sequence[str] = ("global",),
    mass_weighting: bool = False,
    skip: Sequence[str] = (),
) -> tuple[Analysis, ...]:
    """Instantiate the registered analyses (minus ``skip``) for one confrontation."""
    unknown = set(skip) - set(REGISTRY)
    if unknown:
        raise ValueError(f"unknown analyses to skip: {sorted(unknown)}; known: {list(REGISTRY)}")
    config = AnalysisConfig(
        variable=variable, mode=mode, regions=tuple(regions), mass_weighting=mass_weighting
    )
    return tuple(cls(config=config) for key, cls in REGISTRY.items() if key not in skip)


def overall_rows(rows: Sequence[dict], mode: ScoringMode) -> list[dict]:
    """Overall score per region from the score rows of one confrontation.

    ``weighted`` (ILAMB 2.7 ``computeOverallScore``): sum of weight x score over the scores
    present divided by the sum of their weights, NaN when the weighted sum is ~0.
    ``plain_mean`` (ilamb3): the mean of the scores present.
    """
    by_region: dict[str, list[tuple[str, float]]] = {}
    for row in rows:
        if row["type"] == "score" and row["name"] in mode.weights:
            by_region.setdefault(row["region"], []).append((row["name"], row["value"]))
    out = []
    for region, scores in by_region.items():
        values = [(mode.weights[n], v) for n, v in scores if np.isfinite(v)]
        if not values:
            continue
        if mode.overall == "weighted":
            total = sum(w * v for w, v in values)
            wsum = sum(w for w, _ in values)
            value = float("nan") if abs(total) < 1e-12 else total / max(wsum, 1e-12)
        else:
            value = float(np.mean([v for _, v in values]))
        out.append(make_row(region, "Overall", "Overall Score", "score", "1", value))
    return out
