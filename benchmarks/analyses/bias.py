"""Bias analysis: period-mean difference and its score exp(-|bias| / sigma_ref).

sigma_ref is the RMS of the centred reference series per cell (Collier et al. 2018, eq. 5-6);
for a single time step the reference mean itself (relative error), as ILAMB does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.analyses.base import (
    AnalysisConfig,
    AnalysisResult,
    make_row,
    period_means,
    reference_normaliser,
    score_from_error,
    score_weight,
)
from benchmarks.fields import Cells, Field, regional_mean


@dataclass(frozen=True)
class BiasAnalysis:
    """Period mean, bias and bias score per region."""

    config: AnalysisConfig
    name: str = "Bias"

    def required_variables(self) -> tuple[str, ...]:
        return (self.config.variable,)

    def __call__(self, ref: Field, com: Field, cells: Cells) -> AnalysisResult:
        ref_mean, com_mean = period_means(ref, com)
        bias = com_mean - ref_mean
        normaliser = reference_normaliser(ref, ref_mean, self.config.mode)
        score = score_from_error(bias, normaliser)
        weight = score_weight(ref_mean, self.config)
        units = ref.units
        rows = []
        for region in self.config.regions:
            member = cells.region(region)
            rows += [
                make_row(
                    region,
                    self.name,
                    "Reference Period Mean",
                    "scalar",
                    units,
                    regional_mean(ref_mean, cells.area_in(region), member),
                ),
                make_row(
                    region,
                    self.name,
                    "Period Mean",
                    "scalar",
                    units,
                    regional_mean(com_mean, cells.area_in(region), member),
                ),
                make_row(
                    region,
                    self.name,
                    "Bias",
                    "scalar",
                    units,
                    regional_mean(bias, cells.difference_area_in(region), member),
                ),
                make_row(
                    region,
                    self.name,
                    "Bias Score",
                    "score",
                    "1",
                    regional_mean(score, cells.difference_area_in(region), member, weight),
                ),
            ]
        maps = {
            "ref_mean": ref_mean,
            "com_mean": com_mean,
            "bias": bias,
            "bias_score": score,
            "normaliser": normaliser,
        }
        return AnalysisResult(rows=tuple(rows), maps={k: np.asarray(v) for k, v in maps.items()})
