"""Named scoring modes: which variant of the ILAMB method made a number.

Contract: a :class:`ScoringMode` is an immutable bundle of every choice on which benchmark
tools disagree for the same inputs (measured: overall scores of one model differ by up to 0.1
between ILAMB 2.7, ilamb3 and OpenBench). Every score row carries its mode's name, and the
report prints the mode's description, so a number is never separated from its method.

* ``ilamb27`` (default): ILAMB 2.7.3 (Collier et al. 2018, ``ilamblib.AnalysisMeanStateSpace``)
  - cell scores are averaged with area x reference period mean ("mass weighting") when the
  product asks for it (as ILAMB's ilamb.cfg does for hfls, hfss, et); RMSE is scored on the
  de-meaned 12-month climatology; bias and RMSE are normalised by the RMS of the centred
  reference series; the cycle score is (1 + cos(2 pi dphase / 365)) / 2 with phase = day of the
  climatology's maximum; IAV is exp(-|iav_mod - iav_ref| / iav_ref) on anomalies from the
  climatology; spatial correlation treats cells outside the comparison as zeros (ILAMB's
  ``Variable.correlation`` divides by the full grid size); overall = weighted mean with
  bias 1, RMSE 2, cycle 1, IAV 1, spatial 1. Checked against ILAMB 2.7.3 to 1e-3.
* ``ilamb3``: ilamb3's analyses as published (bias.py, rmse.py, cycle.py,
  spatial_distribution.py): area weighting, centred RMSE on the full series normalised by the
  centred RMS of the reference, cycle score 1 - |dmonth| / 6, no IAV score, Pearson
  correlation on common cells, overall = plain mean of the four scores. Not parity-tested
  (ilamb3's current release needs Python 3.12).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from benchmarks.errors import BenchmarkError

ModeName = Literal["ilamb27", "ilamb3"]

SCORE_NAMES = (
    "Bias Score",
    "RMSE Score",
    "Seasonal Cycle Score",
    "Interannual Variability Score",
    "Spatial Distribution Score",
)


@dataclass(frozen=True)
class ScoringMode:
    """Every method choice that differs between benchmark tools."""

    name: ModeName
    description: str
    mass_weighting_allowed: bool
    rmse_basis: Literal["cycle", "series"]
    normaliser: Literal["rms_recreated_bounds", "rms_real_bounds"]
    cycle_score: Literal["cosine_days", "linear_months"]
    iav: bool
    correlation: Literal["zero_filled_grid", "pearson_common_cells"]
    overall: Literal["weighted", "plain_mean"]
    weights: Mapping[str, float] = field(default_factory=dict)
    min_steps_rmse: int = 12


ILAMB27 = ScoringMode(
    name="ilamb27",
    description=(
        "ILAMB 2.7 compatible: mass weighting where the product asks for it, RMSE on the "
        "12-month climatology, cosine phase score on days, IAV score, zero-filled spatial "
        "correlation, overall weights bias 1 / RMSE 2 / cycle 1 / IAV 1 / spatial 1"
    ),
    mass_weighting_allowed=True,
    rmse_basis="cycle",
    normaliser="rms_recreated_bounds",
    cycle_score="cosine_days",
    iav=True,
    correlation="zero_filled_grid",
    overall="weighted",
    weights=MappingProxyType(
        {
            "Bias Score": 1.0,
            "RMSE Score": 2.0,
            "Seasonal Cycle Score": 1.0,
            "Interannual Variability Score": 1.0,
            "Spatial Distribution Score": 1.0,
        }
    ),
    min_steps_rmse=12,
)

ILAMB3 = ScoringMode(
    name="ilamb3",
    description=(
        "ilamb3-like: area weighting, centred RMSE on the full series, linear month phase "
        "score 1-|dmonth|/6, no IAV, Pearson correlation, overall = plain mean of scores"
    ),
    mass_weighting_allowed=False,
    rmse_basis="series",
    normaliser="rms_real_bounds",
    cycle_score="linear_months",
    iav=False,
    correlation="pearson_common_cells",
    overall="plain_mean",
    weights=MappingProxyType({name: 1.0 for name in SCORE_NAMES}),
    min_steps_rmse=24,
)

MODES: Mapping[str, ScoringMode] = MappingProxyType({"ilamb27": ILAMB27, "ilamb3": ILAMB3})


def get_mode(name: str) -> ScoringMode:
    """Return the named mode or raise naming the valid ones."""
    try:
        return MODES[name]
    except KeyError:
        raise BenchmarkError(
            f"unknown scoring mode {name!r}; choose one of {sorted(MODES)}"
        ) from None
