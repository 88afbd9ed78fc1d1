"""Named scoring modes: which variant of the ILAMB method made a number.

Contract: a :class:`ScoringMode` is an immutable bundle of every choice on which benchmark
tools disagree for the same inputs (measured: overall scores of one model differ by up to 0.1
between ILAMB 2.7, ilamb3 and OpenBench). Every score row carries its mode's name, and the
report prints the mode's description, so a number is never separated from its method.

Both modes compare model and reference where ILAMB does: on the grid composed of both grids'
cell edges, each source copied to it by nearest neighbour (:mod:`benchmarks.common_grid`, one
rule per tool), with the tool's own GFED region boxes (:mod:`benchmarks.regions`).

* ``ilamb27`` (default): ILAMB 2.7.3 (Collier et al. 2018, ``ilamblib.AnalysisMeanStateSpace``)
  - every quantity on the composed grid's cells where both have data; cell scores are
  averaged with area x reference period mean ("mass weighting") when the product asks for it
  (as ILAMB's ilamb.cfg does for hfls, hfss, et); RMSE is scored on the de-meaned 12-month
  climatology; bias and RMSE are normalised by the RMS of the centred
  reference series; the cycle score is (1 + cos(2 pi dphase / 365)) / 2 with phase = day of the
  climatology's maximum; IAV is exp(-|iav_mod - iav_ref| / iav_ref) on anomalies from the
  climatology; spatial correlation treats cells outside the comparison as zeros (ILAMB's
  ``Variable.correlation`` divides by the full grid size); overall = weighted mean with
  bias 1, RMSE 2, cycle 1, IAV 1, spatial 1. Checked against ILAMB 2.7.3 to 1e-3.
* ``ilamb3``: ilamb3 2025.9.9's analyses (bias.py, rmse.py, cycle.py,
  spatial_distribution.py): period means weighted by each source's own step lengths, then
  nested; area weighting with cells measured from the nested centres; centred RMSE on the full
  series with weights from mid-month spacing on a 365-day calendar, normalised by the centred
  RMS of the reference on the same weights; cycle score 1 - |dmonth| / 6 from plain monthly
  means (missing months count as 0 when finding the maximum); no IAV score; spatial standard
  deviations over each source's own cells, Pearson correlation on common cells; period means
  reported on each source's own grid; overall = plain mean of the scores. Checked against
  ilamb3 2025.9.9 to 1e-3 (tests/benchmarks/test_parity_mismatched.py).
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
    #: how the common grid, its cell areas and the GFED regions are built (common_grid.py)
    nest_rule: Literal["ilamb27", "ilamb3"] = "ilamb27"
    #: 'intersection': only cells where both have data (ILAMB 2.7); 'union': each source keeps
    #: its own cells, a quantity needing both uses the common ones (ilamb3)
    cells: Literal["intersection", "union"] = "intersection"
    #: step weights of period means: the 365-day bounds from (year, month) labels (ILAMB 2.7
    #: converts every calendar to them) or each source's own step lengths (ilamb3)
    time_weights: Literal["noleap_bounds", "native"] = "noleap_bounds"
    #: step weights of the RMSE series (ilamb3: spacing of mid-month dates, 365-day calendar)
    rmse_weights: Literal["time_weights", "mid_month_noleap"] = "time_weights"
    #: month of the cycle's maximum with missing months skipped or counted as 0 (ilamb3)
    cycle_missing: Literal["skip", "zero"] = "skip"
    #: spatial standard deviations over the common cells or over each source's own cells
    spatial_std: Literal["common_cells", "own_cells"] = "common_cells"
    #: period means reported over the compared cells (ILAMB 2.7 'intersection') or over each
    #: source's own grid (ilamb3)
    period_mean: Literal["compared_cells", "native_grid"] = "compared_cells"


ILAMB27 = ScoringMode(
    name="ilamb27",
    description=(
        "ILAMB 2.7.3 compatible: mass weighting where the product asks for it, RMSE on the "
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
        "ilamb3 2025.9.9 compatible: area weighting, centred RMSE on the full series, linear "
        "month phase score 1-|dmonth|/6, no IAV, Pearson correlation, overall = plain mean "
        "of scores"
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
    nest_rule="ilamb3",
    cells="union",
    time_weights="native",
    rmse_weights="mid_month_noleap",
    cycle_missing="zero",
    spatial_std="own_cells",
    period_mean="native_grid",
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
