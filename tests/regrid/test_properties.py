"""Property tests (hypothesis) of the weights and of regridding.

Random grids: irregular cell widths, global or regional, either latitude direction, any
longitude offset written in raw, 0..360 or -180..180 form. The oracle for the weights is an
independent brute-force loop over every (destination, source) cell pair that intersects the
cells with explicit +-360 degree shifts and the naive ``sin(north) - sin(south)``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regrid import Grid, Regridder
from regrid.methods import build_weights

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def edges(draw, total: float, full: bool, n_max: int = 7) -> np.ndarray:
    """Increasing edges spanning ``total`` degrees (full) or less (regional)."""
    n = draw(st.integers(1, n_max))
    w = np.array(draw(st.lists(st.floats(1.0, 10.0), min_size=n, max_size=n)))
    span = total if full else draw(st.floats(0.05, 0.95)) * total
    return np.concatenate([[0.0], np.cumsum(w / w.sum() * span)])


@st.composite
def grids(draw, global_lat: bool | None = None, global_lon: bool | None = None) -> Grid:
    full_lat = draw(st.booleans()) if global_lat is None else global_lat
    full_lon = draw(st.booleans()) if global_lon is None else global_lon
    lat_e = draw(edges(180.0, full_lat))
    lat_e = lat_e - 90.0 + (0.0 if full_lat else draw(st.floats(0, 1)) * (180.0 - lat_e[-1]))
    lat_e = np.clip(lat_e, -90.0, 90.0)
    lon_e = draw(edges(360.0, full_lon)) + draw(st.floats(-360.0, 360.0))
    lat_b = np.column_stack([lat_e[:-1], lat_e[1:]])
    lon_b = np.column_stack([lon_e[:-1], lon_e[1:]])
    lat, lon = lat_b.mean(axis=1), lon_b.mean(axis=1)
    if draw(st.booleans()):  # north -> south, bounds listed north first too
        lat, lat_b = lat[::-1], lat_b[::-1, ::-1]
    convention = draw(st.sampled_from(["raw", "0-360", "-180-180"]))
    if convention != "raw":
        shift = 0.0 if convention == "0-360" else 180.0
        wrapped = (lon_b + shift) % 360.0 - shift
        narrow = (lon_b[:, 1] - lon_b[:, 0]) < 180.0
        # wrap both bounds independently where unambiguous (e.g. [179.5, -179.5]),
        # otherwise keep the width: [359, 361]
        lon_b = np.where(narrow[:, None], wrapped,
                         wrapped[:, :1] + (lon_b - lon_b[:, :1]))
        lon = (lon + shift) % 360.0 - shift
    return Grid(lat, lon, lat_b, lon_b)


def brute_force_weights(src: Grid, dst: Grid) -> np.ndarray:
    """Destination-area weights by looping over every cell pair (independent oracle)."""
    s_s, s_n = src.lat_intervals()
    d_s, d_n = dst.lat_intervals()
    s_w, s_wd = src.lon_intervals()
    d_w, d_wd = dst.lon_intervals()
    (sy, sx), (dy, dx) = src.shape, dst.shape
    out = np.zeros((dst.size, src.size))
    for i in range(dy):
        d_area_lat = np.sin(np.deg2rad(d_n[i])) - np.sin(np.deg2rad(d_s[i]))
        for a in range(sy):
            lo, hi = max(d_s[i], s_s[a]), min(d_n[i], s_n[a])
            if hi <= lo:
                continue
            lat_share = (np.sin(np.deg2rad(hi)) - np.sin(np.deg2rad(lo))) / d_area_lat
            for c in range(dx):
                for b in range(sx):
                    length = 0.0
                    for k in range(-3, 4):
                        w0 = s_w[b] + 360.0 * k
                        length += max(0.0, min(d_w[c] + d_wd[c], w0 + s_wd[b]) - max(d_w[c], w0))
                    out[i * dx + c, a * sx + b] = lat_share * length / d_wd[c]
    return out


def field(grid: Grid, data: np.ndarray) -> xr.DataArray:
    return xr.DataArray(data, dims=("lat", "lon"),
                        coords={"lat": grid.lat, "lon": grid.lon}, name="x")


@SETTINGS
@given(src=grids(), dst=grids())
def test_weights_equal_brute_force_overlaps(src, dst):
    w = build_weights(src, dst, "conservative").toarray()
    np.testing.assert_allclose(w, brute_force_weights(src, dst), rtol=0, atol=1e-12)


@SETTINGS
@given(src=grids(), dst=grids(global_lat=True, global_lon=True), seed=st.integers(0, 2**32 - 1),
       nan_prob=st.sampled_from([0.0, 0.3, 0.9]), with_fraction=st.booleans())
def test_conservative_preserves_area_integral(src, dst, seed, nan_prob, with_fraction):
    rng = np.random.default_rng(seed)
    x = rng.normal(10.0, 50.0, src.shape)
    x[rng.random(src.shape) < nan_prob] = np.nan
    frac = field(src, rng.random(src.shape)) if with_fraction else None
    valid = ~np.isnan(x) * (frac.values if with_fraction else 1.0)
    regridder = Regridder(src, dst)
    y = regridder(field(src, x), src_fraction=frac).values
    f = regridder.valid_fraction(field(src, x), src_fraction=frac).values
    a_src, a_dst = src.cell_area(), dst.cell_area()
    integral_src = np.nansum(a_src * x * valid)
    integral_dst = np.nansum(a_dst * f * y)
    scale = np.nansum(a_src * np.abs(x) * valid) + 1e-300
    assert abs(integral_dst - integral_src) <= 1e-10 * scale
    assert np.array_equal(np.isnan(y), f <= 0)


@SETTINGS
@given(src=grids(), dst=grids(), value=st.floats(-1e6, 1e6, allow_subnormal=False), seed=st.integers(0, 1000),
       method=st.sampled_from(["conservative", "bilinear", "nearest"]))
def test_constant_field_stays_constant(src, dst, value, seed, method):
    rng = np.random.default_rng(seed)
    x = np.full(src.shape, value)
    x[rng.random(src.shape) < 0.3] = np.nan
    y = Regridder(src, dst, method)(field(src, x)).values
    ok = ~np.isnan(y)
    np.testing.assert_allclose(y[ok], value, rtol=1e-12, atol=1e-12 * abs(value))


@SETTINGS
@given(src=grids(), dst=grids(), seed=st.integers(0, 1000))
def test_row_sums_are_the_valid_fraction(src, dst, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random(src.shape) < 0.6
    oracle = brute_force_weights(src, dst) @ mask.ravel()
    regridder = Regridder(src, dst)
    frac = regridder.valid_fraction(field(src, mask)).values.ravel()
    np.testing.assert_allclose(frac, oracle, rtol=0, atol=1e-12)
    # without a mask the row sums are the covered fraction, never above 1
    rows = np.asarray(regridder.weights.sum(axis=1)).ravel()
    np.testing.assert_allclose(rows, brute_force_weights(src, dst).sum(axis=1), atol=1e-12)
    assert rows.max() <= 1.0 + 1e-12
    if src.is_global_lon and src.lat_intervals()[0].min() == -90 and \
            src.lat_intervals()[1].max() == 90:
        np.testing.assert_allclose(rows, 1.0, rtol=0, atol=1e-12)


@SETTINGS
@given(grid=grids(), seed=st.integers(0, 1000),
       method=st.sampled_from(["conservative", "bilinear", "nearest"]))
def test_same_grid_is_identity(grid, seed, method):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, *grid.shape))
    x[rng.random(x.shape) < 0.2] = np.nan
    regridder = Regridder(grid, grid, method)
    assert (regridder.weights != sp.identity(grid.size, format="csr")).nnz == 0
    da = xr.DataArray(x, dims=("time", "lat", "lon"),
                      coords={"lat": grid.lat, "lon": grid.lon})
    np.testing.assert_array_equal(regridder(da).values, x)


@pytest.mark.parametrize("res", [0.5, 1.0, 2.0])
def test_global_to_global_conserves_exactly_without_mask(res):
    src, dst = Grid.global_regular(0.25), Grid.global_regular(res, lon0=0.0)
    x = np.random.default_rng(1).gamma(2.0, 3.0, src.shape)
    y = Regridder(src, dst)(field(src, x)).values
    a = np.sum(src.cell_area() * x)
    assert np.sum(dst.cell_area() * y) == pytest.approx(a, rel=1e-12)
