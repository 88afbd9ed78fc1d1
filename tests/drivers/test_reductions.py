"""Properties of the mapping reductions: PFT weighting, layer integration, annual means."""

from __future__ import annotations

import cftime
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from callmip.drivers.base import Mapping, Term, _term_value
from callmip.drivers.cable_pop import CABLE_ZSE, top_layer_weights
from callmip.drivers.native_time import TimeAxisError, annual_means, monthly_axis

finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(data=arrays("float64", (3, 4, 2, 2), elements=finite),
       cover=arrays("float64", (4, 2, 2), elements=st.floats(0, 1)))
def test_pft_weighted_sum_equals_explicit_loop(data, cover):
    ds = xr.Dataset({"x": (("time", "veget", "lat", "lon"), data),
                     "w": (("veget", "lat", "lon"), cover)})
    got = _term_value(ds, Term("x", 2.0, weight="w"), "test").values
    manual = np.zeros((3, 2, 2))
    for p in range(4):
        manual += 2.0 * data[:, p] * cover[p]
    np.testing.assert_allclose(got, manual, rtol=1e-12, atol=1e-6)


def test_all_missing_pfts_stay_missing_partial_are_summed():
    data = np.ones((1, 3, 1, 2))
    data[0, :, 0, 0] = np.nan  # ocean cell: every PFT missing
    data[0, 0, 0, 1] = np.nan  # one PFT missing in a land cell
    ds = xr.Dataset({"x": (("time", "veget", "lat", "lon"), data)})
    got = _term_value(ds, Term("x"), "test").values
    assert np.isnan(got[0, 0, 0]) and got[0, 0, 1] == 2.0


@settings(max_examples=50, deadline=None)
@given(depth=st.floats(0.0, 6.0), zse=st.lists(st.floats(0.01, 3.0), min_size=1, max_size=8))
def test_top_layer_weights_cover_exactly_the_depth(depth, zse):
    w = top_layer_weights(tuple(zse), depth)
    assert all(0 <= wi <= dz + 1e-12 for wi, dz in zip(w, zse, strict=True))
    assert sum(w) == pytest.approx(min(depth, sum(zse)), abs=1e-9)


def test_cable_top_10cm():
    assert top_layer_weights(CABLE_ZSE, 0.1) == (0.022, 0.058, 0.02, 0.0, 0.0, 0.0)


def test_layer_weights_must_match_layers():
    ds = xr.Dataset({"t": (("time", "soil", "lat", "lon"), np.ones((1, 3, 1, 1)))})
    with pytest.raises(ValueError, match="3 layers along 'soil'; the mapping gives 2"):
        _term_value(ds, Term("t", layers=(1.0, 1.0)), "f.nc")


def _monthly(stamps, bounds=None) -> xr.Dataset:
    ds = xr.Dataset({"v": (("time", "lat", "lon"), np.arange(len(stamps), dtype=float)
                           .reshape(-1, 1, 1))}, coords={"time": stamps, "lat": [0.0],
                                                         "lon": [0.0]})
    if bounds is not None:
        ds["time_bounds"] = (("time", "nb"), np.array(bounds))
    return ds


def test_end_of_month_stamps_and_bounds_give_same_months():
    ends = [cftime.DatetimeNoLeap(2003 + (m == 12), m % 12 + 1, 1) for m in range(1, 13)]
    starts = [cftime.DatetimeNoLeap(2003, m, 1) for m in range(1, 13)]
    by_stamp = monthly_axis(_monthly(ends), "end")
    by_bounds = monthly_axis(_monthly(ends, list(zip(starts, ends, strict=True))), "start")
    for ds in (by_stamp, by_bounds):
        assert [t.month for t in ds.time.values] == list(range(1, 13))
        assert {t.year for t in ds.time.values} == {2003}


def test_monthly_axis_refuses_daily_data():
    days = [cftime.DatetimeNoLeap(2003, 1, d) for d in range(1, 4)]
    with pytest.raises(TimeAxisError, match="same month"):
        monthly_axis(_monthly(days), "mid")


@settings(max_examples=30, deadline=None)
@given(values=arrays("float64", (24,), elements=st.floats(-1e3, 1e3)))
def test_annual_mean_is_day_weighted_and_preserves_a_constant(values):
    stamps = [cftime.DatetimeNoLeap(y, m, 15) for y in (2003, 2004) for m in range(1, 13)]
    ds = monthly_axis(_monthly(stamps), "mid")
    ds["v"] = (("time", "lat", "lon"), values.reshape(-1, 1, 1))
    out = annual_means(ds)
    days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)
    for k in range(2):
        expect = np.sum(values[12 * k:12 * (k + 1)] * days) / 365.0
        assert out.v.values[k, 0, 0] == pytest.approx(expect, rel=1e-9, abs=1e-9)
    ds["v"] = xr.full_like(ds["v"], 7.25)
    assert np.all(annual_means(ds).v.values == pytest.approx(7.25))


def test_annual_mean_needs_twelve_months():
    stamps = [cftime.DatetimeNoLeap(2003, m, 15) for m in range(1, 8)]
    with pytest.raises(TimeAxisError, match="7 monthly records"):
        annual_means(monthly_axis(_monthly(stamps), "mid"))


def test_optional_mapping_is_skipped_required_is_not():
    from callmip.drivers.base import NativeOutputError
    from callmip.drivers.celm import CelmDriver

    driver = CelmDriver(variable_map={"hfg": Mapping((Term("QG"),), optional=True),
                                      "hfls": Mapping((Term("QLE"),))})
    ds = xr.Dataset({"QLE": (("time", "lat", "lon"), np.ones((1, 1, 1)))})
    assert list(driver.to_callmip(ds).data_vars) == ["hfls"]
    with pytest.raises(NativeOutputError, match=r"f\.nc: native variable\(s\) \['QLE'\]"):
        driver.to_callmip(ds.drop_vars("QLE"), source="f.nc")
