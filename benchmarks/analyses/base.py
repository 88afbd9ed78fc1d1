"""The analysis protocol shared by every benchmark analysis.

Contract: an analysis is an immutable object built for one variable, one scoring mode and one
product's options. Calling it with a reference :class:`~benchmarks.fields.Field`, a model
``Field`` on the same packed cells and the :class:`~benchmarks.fields.Cells` returns an
:class:`AnalysisResult`: score/scalar rows (one per region and quantity) plus packed per-cell
maps for plotting. It never mutates itself or its inputs, so one instance can score any number
of models in any order with the same result. An analysis that does not apply (too short a
series, no spatial variance) returns a result whose ``skipped`` says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from benchmarks.fields import Cells, Field
from benchmarks.modes import ScoringMode


@dataclass(frozen=True)
class AnalysisConfig:
    """What an analysis needs to know besides the data."""

    variable: str
    mode: ScoringMode
    regions: Sequence[str] = ("global",)
    mass_weighting: bool = False


@dataclass(frozen=True)
class AnalysisResult:
    """Rows for the long score table and packed maps for figures."""

    rows: tuple[dict, ...] = ()
    maps: Mapping[str, np.ndarray] = field(default_factory=dict)
    skipped: str | None = None


class Analysis(Protocol):
    """What every analysis provides (ilamb3-like, but registered explicitly)."""

    name: str
    config: AnalysisConfig

    def required_variables(self) -> tuple[str, ...]:
        """CalLMIP variables the analysis reads."""
        ...

    def __call__(self, ref: Field, com: Field, cells: Cells) -> AnalysisResult:
        """Score ``com`` against ``ref`` on ``cells``."""
        ...


def make_row(region: str, analysis: str, name: str, kind: str, units: str, value: float) -> dict:
    """One row of the long score table (without source/stage/variable/product/mode)."""
    return {
        "region": region,
        "analysis": analysis,
        "name": name,
        "type": kind,
        "units": units,
        "value": float(value),
    }


def score_from_error(error: np.ndarray, normaliser: np.ndarray) -> np.ndarray:
    """Collier et al. (2018) score exp(-|error| / normaliser), ILAMB's ``Score``.

    Cells whose normaliser is zero or missing get no score (ILAMB's masked division), and
    scores below 1e-16 are set to 0 as ILAMB does.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ok = np.isfinite(normaliser) & (normaliser != 0) & np.isfinite(error)
        ratio = np.where(ok, np.abs(error) / np.where(ok, normaliser, 1.0), np.nan)
        score = np.exp(-ratio)
    score[score < 1e-16] = 0.0
    return score


def reference_normaliser(ref: Field, ref_mean: np.ndarray, mode: ScoringMode) -> np.ndarray:
    """Per-cell normaliser of bias and RMSE: the RMS of the centred reference series."""
    if ref.ntime == 1:
        return np.abs(ref_mean)
    if mode.normaliser == "rms_recreated_bounds":
        return ref.centred_rms_recreated
    return ref.centred_rms_real


def score_weight(ref_mean: np.ndarray, config: AnalysisConfig) -> np.ndarray | None:
    """Extra weight of cells when averaging scores: the reference mean under mass weighting."""
    if config.mass_weighting and config.mode.mass_weighting_allowed:
        return ref_mean
    return None


def period_means(ref: Field, com: Field) -> tuple[np.ndarray, np.ndarray]:
    """Step-length-weighted period means of reference and model."""
    return ref.mean, com.mean
