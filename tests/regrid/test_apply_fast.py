"""The fast apply path: optimistic kernel, land-masked weights, reused output buffers.

The optimistic kernel (sum first, test the sum for NaN) must give *bit for bit* what the
per-link tested kernel gives, for any NaN/inf pattern, and land-masked weights must give bit
for bit what the full weights give on a field that is NaN outside the mask. These are tested
as properties on time series long enough (>= 8 steps) to take the fast path.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regrid import Grid, GridMismatchError, Regridder
from regrid.apply import (
    _kernel_skipna,
    _kernel_skipna_nan,
    _nan_row_share,
    _row_sums,
    apply_weights,
    apply_weights_scipy,
    mask_sources,
    valid_fraction,
)
from regrid.methods import build_weights

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def sparse_weights(draw) -> sp.csr_matrix:
    """Random non-negative CSR weights, some rows empty, some columns unused."""
    n_dst = draw(st.integers(1, 12))
    n_src = draw(st.integers(1, 15))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dense = rng.random((n_dst, n_src)) * (rng.random((n_dst, n_src)) < 0.4)
    return sp.csr_matrix(dense)


@st.composite
def series(draw, n_src: int) -> np.ndarray:
    """``(nt, n_src)`` data with a fixed 'ocean', sporadic NaN and the odd infinity."""
    nt = draw(st.integers(8, 23))
    seed = draw(st.integers(0, 2**32 - 1))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(seed)
    x = rng.normal(280.0, 30.0, (nt, n_src))
    x[:, rng.random(n_src) < draw(st.floats(0.0, 0.6))] = np.nan  # fixed mask
    x[rng.random(x.shape) < draw(st.floats(0.0, 0.2))] = np.nan  # sporadic gaps
    if draw(st.booleans()):
        x[rng.random(x.shape) < 0.05] = draw(st.sampled_from([np.inf, -np.inf]))
    return x.astype(dtype)


def _tested(weights: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    out = np.empty((x.shape[0], weights.shape[0]), dtype=x.dtype)
    _kernel_skipna(weights.indptr, weights.indices, weights.data, x, out, None, np.nan)
    return out


@SETTINGS
@given(data=st.data(), weights=sparse_weights())
def test_optimistic_kernel_is_bit_identical_to_tested_kernel(data, weights):
    x = data.draw(series(weights.shape[1]))
    out = np.empty((x.shape[0], weights.shape[0]), dtype=x.dtype)
    row_sum = _row_sums(weights.indptr, weights.data)
    _kernel_skipna_nan(weights.indptr, weights.indices, weights.data, row_sum, x, out, np.nan)
    expected = _tested(weights, x)
    np.testing.assert_array_equal(out, expected)  # NaN == NaN here, inf == inf
    # and apply_weights (whichever kernel it picks, any thread count) agrees too
    np.testing.assert_array_equal(apply_weights(weights, x, num_threads=2), expected)


@SETTINGS
@given(data=st.data(), weights=sparse_weights())
def test_kernels_match_scipy_reference(data, weights):
    x = data.draw(series(weights.shape[1]))
    x[np.isinf(x)] = 1.0  # the scipy reference multiplies 0 * inf in its mask product
    got = apply_weights(weights, x)
    ref = apply_weights_scipy(weights, x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-6 if x.dtype == np.float32 else 1e-12)


@SETTINGS
@given(data=st.data(), weights=sparse_weights())
def test_masked_weights_reproduce_full_weights_bit_for_bit(data, weights):
    x = data.draw(series(weights.shape[1]))
    land = ~np.all(np.isnan(x), axis=0)  # the fixed mask: never valid outside it
    masked = mask_sources(weights, land)
    assert masked.nnz <= weights.nnz
    assert not np.any(np.isin(masked.indices, np.flatnonzero(~land)))
    np.testing.assert_array_equal(apply_weights(masked, x), apply_weights(weights, x))
    np.testing.assert_allclose(valid_fraction(masked, np.ones(weights.shape[1])),
                               valid_fraction(weights, land), rtol=1e-15)


@settings(max_examples=25, deadline=None)
@given(res=st.sampled_from([(2.0, 5.0), (3.0, 4.0), (5.0, 7.5)]), seed=st.integers(0, 10**6),
       nt=st.integers(8, 20))
def test_land_masked_regridding_conserves_each_time_steps_integral(res, seed, nt):
    """Conservation to 1e-10 on the fast path: sum(A f y) = sum(a x) every time step."""
    src, dst = Grid.global_regular(res[0]), Grid.global_regular(res[1], lon0=1.0)
    rng = np.random.default_rng(seed)
    land = rng.random(src.size) < 0.35
    x = rng.normal(280.0, 20.0, (nt, src.size))
    x[:, ~land] = np.nan
    x[rng.random(x.shape) < 0.02] = np.nan  # missing land data on some days
    weights = mask_sources(build_weights(src, dst, "conservative"), land)
    y = apply_weights(weights, x)
    a_src, a_dst = src.cell_area().ravel(), dst.cell_area().ravel()
    for t in range(nt):
        valid = ~np.isnan(x[t])
        frac = valid_fraction(weights, valid)
        total = np.sum(a_src[valid] * x[t, valid])
        regridded = np.nansum(a_dst * frac * y[t])
        assert regridded == pytest.approx(total, rel=1e-10)


def test_probe_sends_nan_heavy_fields_to_the_tested_kernel():
    w = sp.csr_matrix(np.eye(4))
    x0 = np.array([1.0, np.nan, np.nan, 2.0])
    assert _nan_row_share(w.indptr, w.indices, w.data, x0) == 0.5
    x = np.tile(x0, (9, 1))
    np.testing.assert_array_equal(apply_weights(w, x), x)


def test_zero_and_negative_row_sums_use_the_tested_kernel():
    w = sp.csr_matrix(np.array([[0.5, -0.5, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]))
    x = np.tile([2.0, 4.0, 8.0], (9, 1))
    got = apply_weights(w, x)
    assert np.all(np.isnan(got[:, 0]))  # denominator 0: no valid area
    np.testing.assert_array_equal(got[:, 1], 8.0)
    np.testing.assert_array_equal(got[:, 2], 3.0)


# ------------------------------------------------------------------ output buffer
def test_out_buffer_is_filled_and_returned():
    weights = build_weights(Grid.global_regular(10.0), Grid.global_regular(20.0),
                            "conservative")
    x = np.random.default_rng(1).normal(size=(2, 9, weights.shape[1])).astype(np.float32)
    out = np.full((2, 9, weights.shape[0]), -1.0, dtype=np.float32)
    got = apply_weights(weights, x, out=out)
    assert got is out
    np.testing.assert_array_equal(out, apply_weights(weights, x))


@pytest.mark.parametrize("bad", [
    np.empty((9, 18), dtype=np.float32),       # wrong shape
    np.empty((9, 162), dtype=np.float64),      # float32 data needs float32 output
    np.empty((162, 9), dtype=np.float32).T,    # not C-contiguous
])
def test_bad_out_buffer_is_rejected(bad):
    weights = build_weights(Grid.global_regular(10.0), Grid.global_regular(20.0),
                            "conservative")
    x = np.ones((9, weights.shape[1]), dtype=np.float32)
    with pytest.raises(GridMismatchError, match="output buffer"):
        apply_weights(weights, x, out=bad)


# ------------------------------------------------------------------ masks
def test_mask_sources_rejects_non_boolean_or_wrong_size():
    w = sp.csr_matrix(np.ones((2, 3)))
    with pytest.raises(GridMismatchError, match="boolean"):
        mask_sources(w, np.array([1.0, 0.0, 1.0]))
    with pytest.raises(GridMismatchError, match="2 cells"):
        mask_sources(w, np.array([True, False]))


def test_regridder_src_mask_matches_full_weights_and_drops_ocean_links(make_land_field):
    src, dst = Grid.global_regular(4.0), Grid.global_regular(10.0)
    ds = make_land_field(src.lat, src.lon, n_time=10)
    land = ~np.isnan(ds["tas"].isel(time=0))
    full = Regridder(src, dst)
    masked = Regridder(src, dst, src_mask=land.values)
    from_da = full.masked(land)
    assert masked.weights.nnz < full.weights.nnz
    assert (from_da.weights != masked.weights).nnz == 0
    expected = full(ds["tas"])
    xr.testing.assert_identical(masked(ds["tas"]), expected)
    xr.testing.assert_identical(from_da(ds["tas"]), expected)
    assert full.weights.nnz > masked.weights.nnz  # the original is left unchanged


def test_regridder_src_mask_shape_is_checked():
    src, dst = Grid.global_regular(10.0), Grid.global_regular(20.0)
    with pytest.raises(GridMismatchError, match="source mask has shape"):
        Regridder(src, dst, src_mask=np.ones((3, 3), dtype=bool))
