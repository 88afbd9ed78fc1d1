"""Interannual variability analysis (ILAMB 2.7, scored only when the product asks for it).

iav = RMS of the anomalies from the mean annual cycle (ILAMB's ``ExtendAnnualCycle`` then
``rms``); score exp(-|iav_mod - iav_ref| / iav_ref). Needs at least two years.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.analyses.base import (
    AnalysisConfig,
    AnalysisResult,
    make_row,
    period_means,
    score_from_error,
    score_weight,
)
from benchmarks.fields import (
    Cells,
    Field,
    extend_cycle_index,
    regional_mean,
    rms_ilamb,
)


def _anomaly_rms(field: Field) -> np.ndarray:
    """RMS (ILAMB ``rms``) of the anomalies from ILAMB's mean annual cycle."""
    index = extend_cycle_index(field.time)
    nstep = field.ntime
    if nstep % 12 == 0 and np.array_equal(index, np.tile(np.arange(12), nstep // 12)):
        # whole years from January: broadcast the cycle instead of gathering it
        anomaly = (
            field.values.reshape(nstep // 12, 12, -1) - field.cycle_ilamb[None, :, :]
        ).reshape(nstep, -1)
    else:
        anomaly = field.values - field.cycle_ilamb[index]
    return rms_ilamb(anomaly, field.time)


@dataclass(frozen=True)
class IavAnalysis:
    """Interannual variability of model and reference and the IAV score per region."""

    config: AnalysisConfig
    name: str = "Interannual Variability"

    def required_variables(self) -> tuple[str, ...]:
        return (self.config.variable,)

    def __call__(self, ref: Field, com: Field, cells: Cells) -> AnalysisResult:
        if not self.config.mode.iav:
            return AnalysisResult(skipped=f"mode {self.config.mode.name} has no IAV score")
        if ref.ntime < 24 or not ref.is_monthly:
            return AnalysisResult(skipped="IAV needs at least two years of monthly data")
        ref_iav = _anomaly_rms(ref)
        com_iav = _anomaly_rms(com)
        score = score_from_error(com_iav - ref_iav, ref_iav)
        ref_mean, _ = period_means(ref, com)
        weight = score_weight(ref_mean, self.config)
        rows = []
        for region in self.config.regions:
            member = cells.region(region)
            rows += [
                make_row(
                    region,
                    self.name,
                    "Reference IAV",
                    "scalar",
                    ref.units,
                    regional_mean(ref_iav, cells.area_in(region), member),
                ),
                make_row(
                    region,
                    self.name,
                    "IAV",
                    "scalar",
                    ref.units,
                    regional_mean(com_iav, cells.area_in(region), member),
                ),
                make_row(
                    region,
                    self.name,
                    "Interannual Variability Score",
                    "score",
                    "1",
                    regional_mean(score, cells.area_in(region), member, weight),
                ),
            ]
        return AnalysisResult(
            rows=tuple(rows), maps={"ref_iav": ref_iav, "com_iav": com_iav, "iav_score": score}
        )
