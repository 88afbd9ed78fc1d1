"""Time aggregation and unit conversion to model variables (properties)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from forcing.aggregate import daily_reduce, model_values

_values = st.one_of(st.just(0.0), st.floats(2.0**-10, 400.0, width=32))  # no subnormals
_blocks = st.integers(1, 6).flatmap(
    lambda days: arrays(np.float32, (4 * days, 3), elements=_values)
)


@given(_blocks)
@settings(max_examples=50)
def test_daily_mean_between_min_and_max(block: np.ndarray) -> None:
    mean, lo, hi = (daily_reduce(block, h) for h in ("mean", "min", "max"))
    np.testing.assert_allclose(
        mean, block.reshape(-1, 4, 3).astype(np.float64).mean(axis=1), rtol=3e-7
    )
    assert np.all(lo <= mean * (1 + 1e-6) + 1e-6) and np.all(mean <= hi * (1 + 1e-6) + 1e-6)


@given(_blocks)
@settings(max_examples=30)
def test_precipitation_mass_is_kept(block: np.ndarray) -> None:
    """Daily pr (kg m-2 s-1) times a day equals the sum of the four 6-hourly totals (mm)."""
    pr = model_values("pr", {"pre": block})
    np.testing.assert_allclose(pr * 86400.0, block.reshape(-1, 4, 3).sum(axis=1), rtol=1e-5)


@given(_blocks)
@settings(max_examples=30)
def test_shortwave_energy_is_kept(block: np.ndarray) -> None:
    joules = block * 1000.0  # J m-2 per 6 h
    rsds = model_values("rsds", {"dswrf": joules})
    np.testing.assert_allclose(rsds * 86400.0, joules.reshape(-1, 4, 3).sum(axis=1), rtol=1e-5)


@given(_blocks, _blocks)
@settings(max_examples=30)
def test_wind_speed_is_mean_of_speeds(u: np.ndarray, v: np.ndarray) -> None:
    n = min(u.shape[0], v.shape[0])
    u, v = u[:n] - 200.0, v[:n] - 200.0
    speed = model_values("sfcWind", {"ugrd": u, "vgrd": v})
    expected = np.sqrt(u.astype(float) ** 2 + v.astype(float) ** 2).reshape(-1, 4, 3).mean(axis=1)
    np.testing.assert_allclose(speed, expected, rtol=1e-5)
    mean_wind = np.hypot(u.reshape(-1, 4, 3).mean(axis=1), v.reshape(-1, 4, 3).mean(axis=1))
    assert np.all(speed >= mean_wind * (1 - 1e-5) - 1e-4)  # Jensen: never below |mean wind|


def test_six_hourly_kept_and_extremes() -> None:
    tmax = np.arange(16, dtype=np.float32).reshape(8, 2) + 250.0
    assert model_values("tasmax", {"tmax": tmax}, "6h").shape == (8, 2)
    np.testing.assert_array_equal(
        model_values("tasmax", {"tmax": tmax}), tmax.reshape(2, 4, 2).max(1)
    )
    np.testing.assert_array_equal(
        model_values("tasmin", {"tmin": tmax}), tmax.reshape(2, 4, 2).min(1)
    )
    with pytest.raises(ValueError, match="whole number of days"):
        daily_reduce(tmax[:6], "mean")
    with pytest.raises(ValueError, match="unknown model step"):
        model_values("tas", {"tmp": tmax}, "hourly")  # type: ignore[arg-type]
