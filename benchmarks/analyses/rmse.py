"""RMSE analysis: centred RMSE and its score exp(-crmse / sigma_ref).

Mode ``ilamb27`` (ILAMB 2.7's default ``rmse_score_basis='cycle'``) compares the de-meaned
12-month climatologies, normalised by the RMS of the centred reference series; mode ``ilamb3``
compares the de-meaned full series weighted by the spacing of mid-month dates on a 365-day
calendar (ilamb3 moves both series to day 15 of each month, then weights steps by the spacing
of their centres), normalised by the centred RMS of the reference on those weights. The
reported RMSE scalar is the plain (not centred) RMSE on the same basis.
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
from benchmarks.fields import (
    DAYS_PER_MONTH,
    Cells,
    Field,
    mid_month_spacing,
    regional_mean,
    time_mean,
)


@dataclass(frozen=True)
class RmseAnalysis:
    """RMSE scalar and RMSE score per region."""

    config: AnalysisConfig
    name: str = "RMSE"

    def required_variables(self) -> tuple[str, ...]:
        return (self.config.variable,)

    def __call__(self, ref: Field, com: Field, cells: Cells) -> AnalysisResult:
        mode = self.config.mode
        if ref.ntime < mode.min_steps_rmse:
            return AnalysisResult(
                skipped=f"RMSE needs at least {mode.min_steps_rmse} time steps, got {ref.ntime}"
            )
        ref_mean, com_mean = period_means(ref, com)
        normaliser = reference_normaliser(ref, ref_mean, mode)
        if mode.rmse_basis == "series" and mode.rmse_weights == "mid_month_noleap":
            w = mid_month_spacing(ref.time_bounds)
            rm = time_mean(ref.values, w)
            cm = time_mean(com.values, w)
            rmse = np.sqrt(time_mean((com.values - ref.values) ** 2, w))
            centred = (com.values - cm) - (ref.values - rm)
            crmse = np.sqrt(time_mean(centred**2, w))
            normaliser = np.sqrt(time_mean((ref.values - rm) ** 2, w))
        elif mode.rmse_basis == "cycle":
            if not ref.is_monthly:
                return AnalysisResult(skipped="RMSE on the climatology needs monthly data")
            ref_cycle = ref.cycle_ilamb
            com_cycle = com.cycle_ilamb
            rmse = np.sqrt(time_mean((com_cycle - ref_cycle) ** 2, DAYS_PER_MONTH))
            ref_anom = ref_cycle - ref_cycle.mean(axis=0)
            com_anom = com_cycle - com_cycle.mean(axis=0)
            crmse = np.sqrt(time_mean((com_anom - ref_anom) ** 2, DAYS_PER_MONTH))
        else:
            rmse = np.sqrt(time_mean((com.values - ref.values) ** 2, ref.dt))
            centred = (com.values - com_mean) - (ref.values - ref_mean)
            crmse = np.sqrt(time_mean(centred**2, ref.dt))
        if mode.rmse_weights == "mid_month_noleap":  # ilamb3: plain exp(-crmse / crms)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                score = np.exp(-crmse / normaliser)
        else:
            score = score_from_error(crmse, normaliser)
        weight = score_weight(ref_mean, self.config)
        rows = []
        for region in self.config.regions:
            member = cells.region(region)
            rows += [
                make_row(
                    region,
                    self.name,
                    "RMSE",
                    "scalar",
                    ref.units,
                    regional_mean(rmse, cells.area_in(region), member),
                ),
                make_row(
                    region,
                    self.name,
                    "RMSE Score",
                    "score",
                    "1",
                    regional_mean(score, cells.area_in(region), member, weight),
                ),
            ]
        return AnalysisResult(
            rows=tuple(rows), maps={"rmse": rmse, "crmse": crmse, "rmse_score": score}
        )
