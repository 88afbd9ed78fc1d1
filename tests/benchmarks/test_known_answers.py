"""Known-answer tests of the ILAMB scores (Collier et al. 2018) in both modes.

Analytic fields with *equal* 30-day steps are used where the answer depends on time weights:
then every weighting ILAMB uses (real bounds, bounds re-created from centres, plain means)
agrees, and the RMS of a sinusoid sampled 12 times a cycle is exactly amplitude / sqrt(2).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.analyses import REGISTRY, build_analyses, overall_rows
from benchmarks.confront import score_pair
from benchmarks.fields import Cells, Field
from benchmarks.modes import ILAMB3, ILAMB27, MODES

NCELL = 40
NYEAR = 3
SCORES = {
    "Bias Score",
    "RMSE Score",
    "Seasonal Cycle Score",
    "Interannual Variability Score",
    "Spatial Distribution Score",
    "Overall Score",
}


def _cells(ncell: int = NCELL) -> Cells:
    lat = np.linspace(-60, 70, ncell // 4)
    lon = np.linspace(-170, 170, 4)
    area = np.cos(np.deg2rad(np.repeat(lat, 4))) * 1e10
    regions = {"NORTH": np.repeat(lat, 4) > 0}
    return Cells(lat=lat, lon=lon, flat_index=np.arange(ncell), area=area, regions=regions)


def _uniform_bounds(nstep: int) -> np.ndarray:
    start = 55_000.0 + 30.0 * np.arange(nstep)
    return np.stack([start, start + 30.0], axis=1)


def _reference(amplitude: float = 10.0, mean: float = 50.0, seed: int = 0) -> np.ndarray:
    """(time, cell) sinusoid with a cell-dependent mean and some interannual change."""
    rng = np.random.default_rng(seed)
    t = np.arange(12 * NYEAR)[:, None]
    means = mean + 20.0 * rng.random(NCELL)[None, :]
    yearly = np.repeat(rng.normal(0, 0.05 * amplitude, (NYEAR, NCELL)), 12, axis=0)
    return means + amplitude * np.sin(2 * np.pi * t / 12.0) + yearly


def _scores(rows: list[dict], region: str = "global") -> dict[str, float]:
    return {r["name"]: r["value"] for r in rows if r["type"] == "score" and r["region"] == region}


@pytest.mark.parametrize("mode", list(MODES.values()), ids=list(MODES))
def test_model_equal_to_reference_scores_one_everywhere(mode) -> None:
    values = _reference()
    tb = _uniform_bounds(values.shape[0])
    ref = Field(values, tb, "W m-2")
    rows, _, notes = score_pair(
        ref,
        Field(values.copy(), tb, "W m-2"),
        _cells(),
        variable="hfls",
        mode=mode,
        regions=("global", "NORTH"),
        mass_weighting=True,
    )
    assert notes == (
        [] if mode.iav else [f"Interannual Variability: mode {mode.name} has no IAV score"]
    )
    for region in ("global", "NORTH"):
        scores = _scores(rows, region)
        expected = SCORES if mode.iav else SCORES - {"Interannual Variability Score"}
        assert set(scores) == expected
        for name, value in scores.items():
            assert value == pytest.approx(1.0, abs=1e-12), (mode.name, region, name)


def test_model_equal_to_reference_on_real_monthly_calendar() -> None:
    """Same on a real noleap monthly axis (unequal month lengths)."""
    from benchmarks.testing import monthly_time

    values = _reference()
    _, tb = monthly_time((2001, 2003))
    rows, _, _ = score_pair(
        Field(values, tb, "1"), Field(values, tb, "1"), _cells(), variable="hfls", mode=ILAMB27
    )
    assert all(v == pytest.approx(1.0) for v in _scores(rows).values())


@settings(max_examples=40, deadline=None)
@given(
    bias=st.floats(-30.0, 30.0, allow_nan=False),
    amplitude=st.floats(0.5, 40.0),
    mode_name=st.sampled_from(sorted(MODES)),
    mass=st.booleans(),
)
def test_constant_bias_gives_analytic_bias_score(bias, amplitude, mode_name, mass) -> None:
    """com = ref + c: bias score exp(-|c| / sigma), sigma = A / sqrt(2) in every cell.

    The centred model equals the centred reference, so the RMSE score stays 1 whatever c.
    """
    t = np.arange(12 * NYEAR)[:, None]
    values = 50.0 + np.arange(NCELL)[None, :] + amplitude * np.sin(2 * np.pi * t / 12.0)
    tb = _uniform_bounds(values.shape[0])
    rows, maps, _ = score_pair(
        Field(values, tb, "1"),
        Field(values + bias, tb, "1"),
        _cells(),
        variable="hfls",
        mode=MODES[mode_name],
        mass_weighting=mass,
    )
    expected = math.exp(-abs(bias) * math.sqrt(2.0) / amplitude)
    scores = _scores(rows)
    assert scores["Bias Score"] == pytest.approx(expected, rel=1e-9, abs=1e-14)
    np.testing.assert_allclose(maps["bias"], bias, atol=1e-9)
    assert scores["RMSE Score"] == pytest.approx(1.0, abs=1e-9)
    assert 0.0 <= scores["Overall Score"] <= 1.0


@pytest.mark.parametrize("mode", list(MODES.values()), ids=list(MODES))
def test_half_year_phase_shift_gives_cycle_score_zero(mode) -> None:
    """Shifting the cycle by six months puts the maximum half a year away.

    ilamb3's 1 - |dmonth|/6 gives exactly 0. ILAMB 2.7 measures the shift between the
    mid-month days of the maxima (Jan 15.5 -> Jul 196.5 = 181 days, not 182.5), so its cosine
    score is 0.5 (1 + cos(2 pi 181 / 365)) = 7.4e-5: zero to the resolution of monthly data.
    """
    values = _reference(amplitude=10.0)
    shifted = np.roll(values, 6, axis=0)
    from benchmarks.testing import monthly_time

    _, tb = monthly_time((2001, 2003))
    rows, maps, _ = score_pair(
        Field(values, tb, "1"), Field(shifted, tb, "1"), _cells(), variable="hfls", mode=mode
    )
    score = _scores(rows)["Seasonal Cycle Score"]
    if mode is ILAMB3:
        assert score == 0.0
        np.testing.assert_allclose(np.abs(maps["phase_shift"]), 6.0)
    else:
        assert score == pytest.approx(0.0, abs=1e-4)
        # maximum in April (day 105) -> October (288.5): 183.5 days, wrapped to 181.5
        assert score == pytest.approx(0.5 * (1 + math.cos(2 * math.pi * 181.5 / 365)), rel=1e-9)


@pytest.mark.parametrize("mode", list(MODES.values()), ids=list(MODES))
def test_scaled_map_gives_analytic_spatial_score(mode) -> None:
    """com = 2 ref (time-constant): R = 1, s = 2 -> 4 (1 + 1) / ((2 + 1/2)^2 2) = 0.64."""
    base = 10.0 + np.arange(NCELL, dtype=float)
    values = np.repeat(base[None, :], 24, axis=0)
    tb = _uniform_bounds(24)
    rows, _, _ = score_pair(
        Field(values, tb, "1"), Field(2 * values, tb, "1"), _cells(), variable="hfls", mode=mode
    )
    sd = {r["name"]: r["value"] for r in rows if r["analysis"] == "Spatial Distribution"}
    assert sd["Correlation"] == pytest.approx(1.0)
    assert sd["Normalized Standard Deviation"] == pytest.approx(2.0)
    assert sd["Spatial Distribution Score"] == pytest.approx(0.64)


def test_overall_score_weights_per_mode() -> None:
    rows = [
        {"region": "global", "analysis": "x", "name": n, "type": "score", "units": "1", "value": v}
        for n, v in [
            ("Bias Score", 0.5),
            ("RMSE Score", 0.8),
            ("Seasonal Cycle Score", 1.0),
            ("Spatial Distribution Score", 0.2),
        ]
    ]
    ilamb27 = overall_rows(rows, ILAMB27)[0]["value"]
    ilamb3 = overall_rows(rows, ILAMB3)[0]["value"]
    assert ilamb27 == pytest.approx((0.5 + 2 * 0.8 + 1.0 + 0.2) / 5)
    assert ilamb3 == pytest.approx((0.5 + 0.8 + 1.0 + 0.2) / 4)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), mode_name=st.sampled_from(sorted(MODES)))
def test_scores_lie_in_unit_interval_and_analyses_are_pure(seed, mode_name) -> None:
    """Any data: scores in [0, 1]; analyses leave inputs and themselves unchanged."""
    rng = np.random.default_rng(seed)
    ref_v = _reference(seed=seed)
    com_v = ref_v * rng.uniform(0.5, 1.5) + rng.normal(0, 5, ref_v.shape)
    com_v[:, :3] = np.nan  # a few cells without model data
    tb = _uniform_bounds(ref_v.shape[0])
    ref, com = Field(ref_v.copy(), tb, "1"), Field(com_v.copy(), tb, "1")
    cells = _cells()
    analyses = build_analyses("hfls", MODES[mode_name], regions=("global", "NORTH"))
    first = [a(ref, com, cells) for a in analyses]
    second = [a(ref, com, cells) for a in reversed(analyses)][::-1]
    for r1, r2 in zip(first, second, strict=True):
        assert r1.rows == r2.rows
    np.testing.assert_array_equal(ref.values, ref_v)
    np.testing.assert_array_equal(com.values, com_v, strict=False)
    for result in first:
        for row in result.rows:
            if row["type"] == "score":
                assert 0.0 <= row["value"] <= 1.0 or math.isnan(row["value"])


def test_registry_is_explicit_and_complete() -> None:
    assert list(REGISTRY) == ["bias", "rmse", "cycle", "iav", "spatial"]
    with pytest.raises(ValueError, match="unknown analyses"):
        build_analyses("hfls", ILAMB27, skip=("biass",))
    analysis = build_analyses("hfls", ILAMB27)[0]
    with pytest.raises(AttributeError):
        analysis.config = None  # frozen: an analysis cannot change its settings mid-run
