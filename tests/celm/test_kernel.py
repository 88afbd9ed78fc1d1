"""The numba kernel equals the numpy reference (same science code), and the P-model behaves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from celm.constants import VOGEL_C
from celm.kernel import run_block, run_block_numpy
from celm.mathfn import one_minus_pow_two_thirds
from celm.params import defaults, kernel_params
from celm.pmodel import pmodel_leaf_temperature, pmodel_lue
from celm.simulate import cell_day_length
from celm.state import cold_start
from celm.step import NDIAG


def test_numba_kernel_matches_numpy_reference(climate, land_grid_factory):
    g, grid = land_grid_factory(8.0)
    p = kernel_params(defaults())
    met = climate.land_climate(g, 1901)
    daylen = cell_day_length(grid)
    s_nb = cold_start(grid, p, met[:, 0].mean(axis=0, dtype=np.float64))
    s_np = s_nb.copy()
    a_nb = np.zeros((NDIAG, grid.ncell))
    a_np = np.zeros_like(a_nb)
    block = np.ascontiguousarray(met[:60])
    run_block(p, s_nb, block, daylen[:60], np.full(grid.ncell, 0.006), 350.0, a_nb)
    run_block_numpy(p, s_np, block, daylen[:60], np.full(grid.ncell, 0.006), 350.0, a_np)
    # the physics is float32: the compiled kernel (fused multiply-adds, approximate reciprocals
    # refined by a Newton step, reassociation) and numpy round differently, about 1e-5 relative
    # after 60 days here; a wrong formula or a wrong row shows up as O(1) differences
    assert np.allclose(s_nb, s_np, rtol=1e-4, atol=1e-4)
    assert np.allclose(a_nb, a_np, rtol=1e-4, atol=1e-4 * 60)
    # the budget bookkeeping is float64 in both: soil temperature (a float64 update of a float32
    # flux from the same inputs) agrees to float64 round-off
    assert np.allclose(s_nb[9], s_np[9], rtol=1e-12, atol=0.0)


def _pmodel_reference(tc, vpd, co2, patm, kphio=0.087182, beta=146.0):
    """Textbook P-model (Stocker et al. 2020 eqs.) with np.exp and u**(2/3)."""
    tk = tc + 273.15
    r = 8.314462618
    arr = (tk - 298.15) / (298.15 * r * tk)
    gs = 4.332 * patm / 101325 * np.exp(37830 * arr)
    kmm = 39.97 * np.exp(79430 * arr) * (1 + 0.209476 * patm / (27480 * np.exp(36380 * arr)))
    eta = np.exp(578.919 / (tk - 137.546) - 578.919 / (298.15 - 137.546))
    ca = co2 * 1e-6 * patm
    xi = np.sqrt(beta * (kmm + gs) / (1.6 * eta))
    chi = gs / ca + (1 - gs / ca) * xi / (xi + np.sqrt(vpd))
    ci = chi * ca
    m = (ci - gs) / (ci + 2 * gs)
    mj = m * np.sqrt(np.clip(1 - (0.41 / m) ** (2 / 3), 0, None))  # 0 when m <= c*
    ftemp = 0.352 + 0.022 * tc - 3.4e-4 * tc**2
    return kphio * ftemp * mj * 12.0107


def test_pmodel_matches_textbook_formulation():
    tc = np.array([0.0, 10.0, 20.0, 25.0, 30.0, 40.0])
    vpd = np.array([300.0, 600.0, 1000.0, 1500.0, 2000.0, 3000.0])
    for co2 in (280.0, 400.0, 800.0):
        tk = pmodel_leaf_temperature(tc)
        lue, _ = pmodel_lue(tk, 1 / tk, 1 / (tk - VOGEL_C), 1 / vpd, co2, 1e5, 0.087182, 146.0)
        assert np.allclose(lue, _pmodel_reference(tc, vpd, co2, 1e5), rtol=2e-6, atol=1e-7)


def test_pmodel_in_float32_matches_textbook():
    """The kernel evaluates the P-model in float32: still the textbook values to ~1e-5."""
    rng = np.random.default_rng(3)
    tc = rng.uniform(-5.0, 45.0, 400)
    vpd = rng.uniform(50.0, 5000.0, 400)
    for co2 in (280.0, 415.0, 1000.0):
        tk = pmodel_leaf_temperature(tc.astype(np.float32))
        assert tk.dtype == np.float32
        lue, g = pmodel_lue(
            tk, np.float32(1) / tk, np.float32(1) / (tk - np.float32(VOGEL_C)),
            (1 / vpd).astype(np.float32), np.float32(co2), np.float32(1e5),
            np.float32(0.087182), np.float32(146.0),
        )  # fmt: skip
        assert lue.dtype == np.float32 and g.dtype == np.float32
        ref = _pmodel_reference(tc, vpd, co2, 1e5)
        # atol: near m = c* the Jmax factor is a square root of ~0 (infinite slope)
        assert np.allclose(lue, ref, rtol=2e-5, atol=1e-5)


def test_one_minus_pow_two_thirds():
    u = np.linspace(0.41, 1.0, 5001)
    exact = 1.0 - u ** (2.0 / 3.0)
    assert np.abs(one_minus_pow_two_thirds(u) - exact).max() < 2e-7
    u32 = u.astype(np.float32)
    approx32 = one_minus_pow_two_thirds(u32)
    assert approx32.dtype == np.float32
    assert np.abs(approx32 - (1.0 - u32.astype(np.float64) ** (2.0 / 3.0))).max() < 3e-7
    assert one_minus_pow_two_thirds(np.float32(1.0)) == 0.0  # mj = 0 exactly when m <= c*


def test_co2_fertilisation_and_water_saving():
    tk = pmodel_leaf_temperature(np.array([25.0]))
    args = (tk, 1 / tk, 1 / (tk - VOGEL_C), np.array([1 / 1000.0]))
    lue_lo, g_lo = pmodel_lue(*args, 300.0, 1e5, 0.087182, 146.0)
    lue_hi, g_hi = pmodel_lue(*args, 600.0, 1e5, 0.087182, 146.0)
    assert lue_hi > 1.1 * lue_lo  # more GPP per photon
    assert g_hi * lue_hi < g_lo * lue_lo  # lower conductance for the same light


def test_no_photosynthesis_in_deep_cold():
    tk = pmodel_leaf_temperature(np.array([-20.0, -15.0]))
    lue, _ = pmodel_lue(tk, 1 / tk, 1 / (tk - VOGEL_C), 1 / np.array([100.0, 100.0]), 400.0,
                        1e5, 0.087182, 146.0)  # fmt: skip
    assert np.all(lue == 0.0)


def test_kernel_rejects_wrong_layout():
    p = kernel_params(defaults())
    state = np.zeros((11, 4))
    with np.testing.assert_raises_regex(ValueError, "forcing must be"):
        run_block(p, state, np.zeros((2, 9, 4), np.float64), np.zeros((2, 4), np.float32), np.zeros(4), 400.0,
                  np.zeros((NDIAG, 4)))  # fmt: skip


def test_numba_cache_is_flushed_when_inlined_sources_change(tmp_path, monkeypatch):
    """A cached kernel is dropped when a module it inlines changes (numba only sees its file)."""
    import importlib.util

    from celm.kernel import _SOURCES_STAMP, refresh_numba_cache

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "nbcache"))
    src = tmp_path / "tiny_kernel.py"
    src.write_text("from numba import njit\n\n@njit(cache=True)\ndef f(x):\n    return 2.0 * x\n")
    spec = importlib.util.spec_from_file_location("tiny_kernel", src)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.f(2.0) == 4.0  # compiled and cached
    cache = mod.f._cache
    sig = mod.f.signatures[0]
    ctx = mod.f.targetctx
    assert cache.load_overload(sig, ctx) is not None
    assert refresh_numba_cache(mod.f, "digest-1")  # no stamp yet: flushed, stamp written
    assert (Path(cache.cache_path) / _SOURCES_STAMP).read_text().strip() == "digest-1"
    assert cache.load_overload(sig, ctx) is None
    cache.save_overload(sig, mod.f.overloads[sig])
    assert not refresh_numba_cache(mod.f, "digest-1")  # same sources: cache kept
    assert cache.load_overload(sig, ctx) is not None
    assert refresh_numba_cache(mod.f, "digest-2")  # an inlined module changed
    assert cache.load_overload(sig, ctx) is None
