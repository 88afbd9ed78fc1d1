"""Spatial distribution analysis: Taylor-diagram statistics of the period-mean maps.

score = 4 (1 + R) / ((s + 1/s)^2 (1 + R0)), R0 = 1, s = std_mod / std_ref (Taylor 2001, as in
Collier et al. 2018). Standard deviations are unweighted over the region's common cells (as
both ILAMB 2.7 and ilamb3 do). Mode ``ilamb27`` reproduces ILAMB 2.7's correlation, whose sums
skip masked cells but whose count is the full grid: that equals Pearson's R of the maps with
every other grid cell set to zero. Mode ``ilamb3`` uses Pearson's R on the common cells and,
as ilamb3 does, takes each standard deviation over that source's own cells in the region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.analyses.base import AnalysisConfig, AnalysisResult, make_row, period_means
from benchmarks.fields import Cells, Field


def _zero_filled_correlation(x: np.ndarray, y: np.ndarray, n: int) -> float:
    """Pearson R of x and y padded with zeros to length n (ILAMB 2.7 ``_correlation``)."""
    xbar, ybar = x.sum() / n, y.sum() / n
    num = (x * y).sum() - n * xbar * ybar
    den = np.sqrt((x * x).sum() - n * xbar * xbar) * np.sqrt((y * y).sum() - n * ybar * ybar)
    return float(num / den) if den > 0 else float("nan")


def taylor_score(norm_std: float, corr: float) -> float:
    """Spatial distribution score from normalised std and correlation (R0 = 1)."""
    s = max(norm_std, 1e-12)
    return float(4.0 * (1.0 + corr) / ((s + 1.0 / s) ** 2 * 2.0))


@dataclass(frozen=True)
class SpatialAnalysis:
    """Normalised standard deviation, correlation and spatial distribution score."""

    config: AnalysisConfig
    name: str = "Spatial Distribution"

    def required_variables(self) -> tuple[str, ...]:
        return (self.config.variable,)

    def __call__(self, ref: Field, com: Field, cells: Cells) -> AnalysisResult:
        ref_mean, com_mean = period_means(ref, com)
        common = np.isfinite(ref_mean) & np.isfinite(com_mean)
        own = self.config.mode.spatial_std == "own_cells"
        rows = []
        for region in self.config.regions:
            inside = cells.region(region)
            member = inside & common
            if member.sum() < 2:
                continue
            x, y = ref_mean[member], com_mean[member]
            if own:
                sx = ref_mean[inside & np.isfinite(ref_mean)]
                sy = com_mean[inside & np.isfinite(com_mean)]
            else:
                sx, sy = x, y
            std_ref = max(float(sx.std()), 1e-12)
            std_com = max(float(sy.std()), 1e-12)
            if self.config.mode.correlation == "zero_filled_grid":
                corr = _zero_filled_correlation(x, y, cells.grid_size)
            else:
                if np.allclose(std_ref, 1e-12):
                    continue
                corr = float(np.corrcoef(x, y)[0, 1])
            corr = 0.0 if not np.isfinite(corr) else corr
            norm_std = std_com / std_ref
            rows += [
                make_row(
                    region, self.name, "Normalized Standard Deviation", "scalar", "1", norm_std
                ),
                make_row(region, self.name, "Correlation", "scalar", "1", corr),
                make_row(
                    region,
                    self.name,
                    "Spatial Distribution Score",
                    "score",
                    "1",
                    taylor_score(norm_std, corr),
                ),
            ]
        if not rows:
            return AnalysisResult(skipped="fewer than two common cells in every region")
        return AnalysisResult(rows=tuple(rows))
