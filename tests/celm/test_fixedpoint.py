"""Anderson acceleration (celm.fixedpoint): exact on linear maps in n + 1 steps like GMRES,
including maps whose plain iteration diverges; columns never influence each other."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from celm.fixedpoint import Anderson


def _linear_maps(seed: int, n: int, ncell: int, radius: float):
    """Per column an affine map G(x) = J x + b with spectral radius ``radius`` of J."""
    rng = np.random.default_rng(seed)
    jac = rng.normal(size=(ncell, n, n))
    jac *= radius / np.abs(np.linalg.eigvals(jac)).max(axis=1)[:, None, None]
    b = rng.normal(size=(n, ncell))
    fixed = np.linalg.solve(np.eye(n) - jac, b.T[..., None])[..., 0].T
    return (lambda x: np.einsum("cij,jc->ic", jac, x) + b), fixed


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31), n=st.integers(1, 4), radius=st.sampled_from([0.5, 0.95, 1.5, 3.0])
)
def test_exact_on_linear_maps_in_n_plus_one_steps(seed, n, radius):
    g, fixed = _linear_maps(seed, n, 6, radius)
    accel = Anderson(depth=n + 1, regularisation=1e-14, restart_growth=np.inf)
    x = np.zeros_like(fixed)
    for _ in range(n + 2):
        x = accel.step(x, g(x), np.ones_like(x))
    scale = np.abs(fixed).max() + 1.0
    # mostly exact; the plain iteration would diverge for radius > 1
    assert np.median(np.abs(x - fixed).max(axis=0)) < 1e-6 * scale


def test_columns_are_independent():
    """A column's iterates do not depend on which other columns are iterated with it."""
    g, fixed = _linear_maps(7, 3, 5, 0.9)
    both, alone = Anderson(3), Anderson(3)
    x = np.zeros_like(fixed)
    y = np.zeros_like(fixed[:, :1])
    for _ in range(4):
        x = both.step(x, g(x), np.ones_like(x))
        gy = g(np.concatenate([y, x[:, 1:]], axis=1))[:, :1]
        y = alone.step(y, gy, np.ones_like(y))
    np.testing.assert_allclose(x[:, :1], y, rtol=1e-12, atol=1e-12)


def test_bounds_and_select():
    g, fixed = _linear_maps(3, 2, 4, 0.5)
    accel = Anderson(2)
    x = np.zeros_like(fixed)
    x = accel.step(x, g(x), np.ones_like(x), lower=np.full((2, 1), -0.1), upper=np.full((2, 1), 0.1))
    assert np.all(np.abs(x) <= 0.1 + 1e-15)
    accel.select(np.array([True, False, True, False]))
    x = accel.step(x[:, [0, 2]], g(x)[:, [0, 2]], np.ones((2, 2)))
    assert x.shape == (2, 2)
