"""Seasonal cycle analysis: timing of the climatology's maximum and its phase score.

Mode ``ilamb27``: phase = mid-month day of the maximum of the ILAMB annual cycle, shift wrapped
to [-182.5, 182.5] days, score (1 + cos(2 pi |shift| / 365)) / 2, reported shift = area mean of
|shift| in months of 30 days. Mode ``ilamb3``: month of the maximum, shift wrapped to [-6, 6]
months, score 1 - |shift| / 6, reported shift = signed area mean in months.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.analyses.base import (
    AnalysisConfig,
    AnalysisResult,
    make_row,
    period_means,
    score_weight,
)
from benchmarks.fields import (
    MID_MONTHS,
    Cells,
    Field,
    regional_mean,
)


def _argmax_month(cycle: np.ndarray, missing: str = "skip") -> np.ndarray:
    """Index (0-11) of each cell's maximum; NaN where the cell has no data.

    ``missing='zero'`` counts missing months as 0, as ilamb3 does (``fillna(0).argmax``).
    """
    has = np.isfinite(cycle).any(axis=0)
    fill = 0.0 if missing == "zero" else -np.inf
    idx = np.where(np.isfinite(cycle), cycle, fill).argmax(axis=0).astype(float)
    idx[~has] = np.nan
    return idx


@dataclass(frozen=True)
class CycleAnalysis:
    """Phase shift and seasonal cycle score per region."""

    config: AnalysisConfig
    name: str = "Annual Cycle"

    def required_variables(self) -> tuple[str, ...]:
        return (self.config.variable,)

    def __call__(self, ref: Field, com: Field, cells: Cells) -> AnalysisResult:
        if ref.ntime < 12 or not ref.is_monthly:
            return AnalysisResult(skipped="seasonal cycle needs at least 12 monthly steps")
        mode = self.config.mode
        if mode.cycle_score == "cosine_days":
            ref_max = _argmax_month(ref.cycle_ilamb)
            com_max = _argmax_month(com.cycle_ilamb)
            ok = np.isfinite(ref_max) & np.isfinite(com_max)
            shift = np.full(ref_max.shape, np.nan)
            shift[ok] = MID_MONTHS[com_max[ok].astype(int)] - MID_MONTHS[ref_max[ok].astype(int)]
            shift = np.where(shift < -182.5, shift + 365.0, shift)
            shift = np.where(shift > 182.5, shift - 365.0, shift)
            score = 0.5 * (1.0 + np.cos(np.abs(shift) / 365.0 * 2.0 * np.pi))
            shift_months = shift / 30.0
            reported = np.abs(shift_months)
        else:
            ref_max = _argmax_month(ref.cycle_by_month, mode.cycle_missing)
            com_max = _argmax_month(com.cycle_by_month, mode.cycle_missing)
            shift_months = com_max - ref_max
            shift_months = np.where(shift_months > 6, shift_months - 12, shift_months)
            shift_months = np.where(shift_months < -6, shift_months + 12, shift_months)
            score = 1.0 - np.abs(shift_months) / 6.0
            reported = shift_months
        ref_mean, _ = period_means(ref, com)
        weight = score_weight(ref_mean, self.config)
        rows = []
        for region in self.config.regions:
            member = cells.region(region)
            rows += [
                make_row(
                    region,
                    self.name,
                    "Phase Shift",
                    "scalar",
                    "months",
                    regional_mean(reported, cells.difference_area_in(region), member),
                ),
                make_row(
                    region,
                    self.name,
                    "Seasonal Cycle Score",
                    "score",
                    "1",
                    regional_mean(score, cells.difference_area_in(region), member, weight),
                ),
            ]
        return AnalysisResult(
            rows=tuple(rows),
            maps={
                "phase_shift": shift_months,
                "cycle_score": score,
                "ref_month_of_max": ref_max + 1,
                "com_month_of_max": com_max + 1,
            },
        )
