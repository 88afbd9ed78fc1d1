"""apply_weights: the numba kernel against the plain scipy formulation, and its semantics."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.sparse as sp

from regrid import Grid, GridMismatchError
from regrid.apply import (
    apply_weights,
    apply_weights_scipy,
    scale_columns,
    valid_fraction,
)
from regrid.methods import build_weights


@pytest.fixture(scope="module")
def weights() -> sp.csr_matrix:
    return build_weights(Grid.global_regular(5.0), Grid.global_regular(12.0, lon0=3.0),
                         "conservative")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
@pytest.mark.parametrize("nt", [1, 3, 4, 9])
@pytest.mark.parametrize("skipna", [True, False])
def test_kernel_matches_scipy(weights, dtype, nt, skipna):
    rng = np.random.default_rng(nt)
    x = rng.normal(100, 30, (nt, weights.shape[1]))
    if dtype is not np.int16:
        x[rng.random(x.shape) < 0.3] = np.nan
    x = x.astype(dtype)
    got = apply_weights(weights, x, skipna=skipna, num_threads=2)
    ref = apply_weights_scipy(weights, x, skipna=skipna)
    assert got.dtype == (np.float32 if dtype is np.float32 else np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-6 if dtype is np.float32 else 1e-13)


def test_leading_dims_threads_and_input_untouched(weights):
    x = np.random.default_rng(0).normal(size=(2, 3, 5, weights.shape[1]))
    before = x.copy()
    one = apply_weights(weights, x, num_threads=1)
    two = apply_weights(weights, x, num_threads=2)
    assert one.shape == (2, 3, 5, weights.shape[0])
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(x, before)


def test_worker_threads_default_to_one_thread(weights):
    from regrid.apply import default_threads

    seen = []
    t = threading.Thread(target=lambda: seen.append(default_threads()))
    t.start()
    t.join()
    assert seen == [1]


def test_skipna_is_land_only_average_and_keepna_propagates():
    w = sp.csr_matrix(np.array([[0.25, 0.25, 0.5, 0.0]]))
    x = np.array([[1.0, np.nan, 3.0, 100.0]])
    assert apply_weights(w, x)[0, 0] == pytest.approx((0.25 * 1 + 0.5 * 3) / 0.75)
    assert np.isnan(apply_weights(w, x, skipna=False)[0, 0])
    assert valid_fraction(w, ~np.isnan(x[0]))[0] == pytest.approx(0.75)
    assert np.isnan(apply_weights(w, np.full((1, 4), np.nan))[0, 0])
    # partially covered row (sum 0.5): mean over the covered part, not diluted
    half = sp.csr_matrix(np.array([[0.25, 0.25, 0.0, 0.0]]))
    assert apply_weights(half, np.array([[2.0, 4.0, 0, 0]]), skipna=False)[0, 0] == 3.0


def test_scale_columns_weights_by_land_fraction():
    w = sp.csr_matrix(np.array([[0.5, 0.5]]))
    land = scale_columns(w, np.array([1.0, 0.2]))
    x = np.array([[10.0, 20.0]])
    assert apply_weights(land, x)[0, 0] == pytest.approx((0.5 * 10 + 0.1 * 20) / 0.6)
    assert valid_fraction(land, np.ones(2))[0] == pytest.approx(0.6)
    with pytest.raises(GridMismatchError, match=r"within \[0, 1\]"):
        scale_columns(w, np.array([1.0, 2.0]))


def test_shape_mismatch_is_reported(weights):
    with pytest.raises(GridMismatchError, match="source cells"):
        apply_weights(weights, np.zeros((2, 7)))


@pytest.mark.parametrize("skipna", [True, False])
def test_raw_missing_and_fill_values(weights, skipna):
    """Raw file values (fill 1e20) regridded without decoding equal the NaN route."""
    rng = np.random.default_rng(3)
    x = rng.normal(280, 10, (6, weights.shape[1])).astype(np.float32)
    x[rng.random(x.shape) < 0.4] = np.nan
    raw = np.where(np.isnan(x), np.float32(1e20), x)
    via_nan = apply_weights(weights, x, skipna=skipna)
    via_raw = apply_weights(weights, raw, skipna=skipna, missing_value=1e20, fill_value=1e20)
    np.testing.assert_array_equal(via_raw == np.float32(1e20), np.isnan(via_nan))
    ok = ~np.isnan(via_nan)
    np.testing.assert_array_equal(via_raw[ok], via_nan[ok])
