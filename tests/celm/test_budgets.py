"""Budget closure and finiteness of one model day, as properties over valid inputs.

The step is exercised on the numpy path (the same ``cell_step`` the numba kernel compiles), over
arrays of random cells drawn by hypothesis from the valid forcing and state ranges, and once
through the numba kernel.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celm.kernel import NFORCING, run_block
from celm.landuse import harvest_share, managed_params
from celm.params import defaults, kernel_params
from celm.step import DIAG_VARS, NDIAG, NSTATE, STATE_VARS, cell_step

D = {n: i for i, n in enumerate(DIAG_VARS)}
S = {n: i for i, n in enumerate(STATE_VARS)}
POOLS = [S[n] for n in ("C_LABILE", "C_LEAF", "C_ROOT", "C_WOOD", "C_LITTER", "C_SOM")]
N = 64


def random_inputs(seed: int, p):
    rng = np.random.default_rng(seed)
    tas = rng.uniform(215.0, 318.0, N)
    dtr = rng.uniform(0.0, 25.0, N)
    es = 610.8 * np.exp(17.27 * (tas - 273.15) / (tas - 273.15 + 237.3))
    ps = rng.uniform(5.5e4, 1.05e5, N)
    e = rng.uniform(0.02, 1.0, N) * es
    forcing = [
        tas,
        tas + dtr / 2,
        tas - dtr / 2,
        rng.exponential(3e-5, N) * (rng.random(N) < 0.6),
        rng.uniform(0.0, 420.0, N),
        rng.uniform(80.0, 470.0, N),
        0.622 * e / (ps - 0.378 * e),
        ps,
        rng.uniform(0.0, 20.0, N),
        rng.uniform(0.0, 24.0, N),  # day length
        rng.uniform(0.002, 0.02, N),  # ga_coef
    ]
    state = np.empty((NSTATE, N))
    state[POOLS] = rng.uniform(0.0, 1.0, (6, N)) * np.array([[300, 800, 800, 30000, 3000, 60000]]).T
    state[S["W_TOP"]] = rng.uniform(5.0, 30.0, N)
    state[S["W_SUB"]] = rng.uniform(p.w2_wp, p.w2_fc, N)
    state[S["SWE"]] = rng.uniform(0.0, 1000.0, N) * (rng.random(N) < 0.5)
    state[S["T_SOIL"]] = tas + rng.uniform(-15.0, 15.0, N)
    state[S["GSI"]] = rng.uniform(0.0, 1.0, N)
    return forcing, state


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    co2=st.floats(180.0, 1200.0),
    kphio=st.floats(0.03, 0.15),
    theta_star=st.floats(0.2, 0.9),
    q10=st.floats(1.2, 3.5),
    swc=st.floats(60.0, 600.0),
    managed=st.booleans(),
)
def test_step_closes_budgets(seed, co2, kphio, theta_star, q10, swc, managed):
    """Natural vegetation, or the managed (crop + pasture) tile whose harvest leaves the land."""
    p = kernel_params(
        {**defaults(), "kphio": kphio, "theta_star": theta_star, "q10": q10,
         "soil_water_capacity": swc}
    )  # fmt: skip
    p = managed_params(p) if managed else p
    forcing, state = random_inputs(seed, p)
    new, dg = cell_step(p, tuple(state), *forcing, co2)
    new = np.array(new)
    dg = np.array(dg)
    assert np.all(np.isfinite(new)) and np.all(np.isfinite(dg))
    assert np.all(new[POOLS] >= 0.0)
    # carbon: d(sum of pools) = GPP - RA - RH - harvest = -NEE - harvest, to 1e-9 of the gross
    # fluxes (harvest: the share of NPP the managed tile does not allocate; 0 for natural)
    d_c = new[POOLS].sum(axis=0) - state[POOLS].sum(axis=0)
    nee = dg[D["RA"]] + dg[D["RH"]] - dg[D["GPP"]]
    harvest = harvest_share(p) * (dg[D["GPP"]] - dg[D["RA"]])
    assert np.all(harvest >= 0) and (harvest_share(p) > 0) == managed
    gross = dg[D["GPP"]] + dg[D["RA"]] + dg[D["RH"]] + dg[D["F_LABREL"]] + dg[D["F_LEAF"]]
    tol_c = 1e-9 * gross + 4 * np.finfo(float).eps * state[POOLS].sum(axis=0)
    assert np.all(np.abs(d_c + nee + harvest) <= tol_c)
    # water: d(storage) = P - ET - runoff
    store = lambda s: s[S["W_TOP"]] + s[S["W_SUB"]] + s[S["SWE"]]  # noqa: E731
    et = dg[D["TRANSP"]] + dg[D["ESOIL"]] + dg[D["EINT"]]
    resid = store(new) - store(state) - (dg[D["PRECIP"]] - et - dg[D["RUNOFF"]])
    assert np.all(np.abs(resid) <= 1e-9 * (dg[D["PRECIP"]] + et + dg[D["RUNOFF"]] + store(state)))
    assert np.all(dg[D["RUNOFF"]] >= 0) and np.all(et >= 0)
    # energy: Rnet = LE + H + G
    e_res = dg[D["RNET"]] - dg[D["QLE"]] - dg[D["QH"]] - dg[D["QG"]]
    assert np.all(np.abs(e_res) <= 1e-9 * (np.abs(dg[D["RNET"]]) + np.abs(dg[D["QLE"]]) + 1.0))


def test_sensible_heat_follows_surface_air_difference():
    """H (the closing residual) must agree with rho cp ga (Ts - Ta) up to linearisation error."""
    p = kernel_params(defaults())
    forcing, state = random_inputs(7, p)
    _, dg = cell_step(p, tuple(state), *forcing, 400.0)
    dg = np.array(dg)
    tas, ps, huss, wind, ga_coef = forcing[0], forcing[7], forcing[6], forcing[8], forcing[10]
    rho = ps / (287.058 * tas * (1 + 0.608 * huss))
    h_bulk = rho * 1004.64 * ga_coef * np.maximum(wind, 0.3) * (dg[D["TSURF"]] - tas)
    ts = dg[D["TSURF"]]
    # the difference is the nonlinear remainder of the emitted longwave, up to the float32
    # rounding of the physics (Ts comes from float32 rho, ga and radiation: ~1e-6 of the fluxes)
    remainder = 0.97 * 5.670374419e-8 * (ts**4 - tas**4 - 4 * tas**3 * (ts - tas))
    scale = np.abs(dg[D["QH"]]) + np.abs(dg[D["RNET"]]) + 1.0
    assert np.all(np.abs(dg[D["QH"]] - h_bulk + remainder) <= 2e-5 * scale)
    assert np.all(np.abs(remainder) <= 0.1 * np.abs(dg[D["QH"]]) + 10.0)


@pytest.mark.parametrize(("seed", "managed"), [(1, False), (2, False), (3, True)])
def test_kernel_closes_budgets_over_a_day(seed, managed):
    p = kernel_params(defaults())
    p = managed_params(p) if managed else p
    forcing, state = random_inputs(seed, p)
    met = np.ascontiguousarray(np.stack(forcing[:NFORCING])[None, :, :], dtype=np.float32)
    daylen = np.ascontiguousarray(forcing[9][None, :], dtype=np.float32)
    f64 = met.astype(np.float64)  # the kernel sees float32 forcing
    before = state.copy()
    acc = np.zeros((NDIAG, N))
    run_block(p, state, met, daylen, np.asarray(forcing[10]), 350.0, acc)
    assert np.all(np.isfinite(state)) and np.all(np.isfinite(acc))
    d_c = state[POOLS].sum(axis=0) - before[POOLS].sum(axis=0)
    nee = acc[D["RA"]] + acc[D["RH"]] - acc[D["GPP"]]
    harvest = harvest_share(p) * (acc[D["GPP"]] - acc[D["RA"]])
    gross = acc[D["GPP"]] + acc[D["RA"]] + acc[D["RH"]] + acc[D["F_LABREL"]] + acc[D["F_LEAF"]]
    assert np.all(np.abs(d_c + nee + harvest) <= 1e-9 * gross
                  + 1e-15 * before[POOLS].sum(axis=0) * 4)
    e_res = acc[D["RNET"]] - acc[D["QLE"]] - acc[D["QH"]] - acc[D["QG"]]
    assert np.all(np.abs(e_res) <= 1e-9 * (np.abs(acc[D["RNET"]]) + 1.0))
    assert np.allclose(acc[D["PRECIP"]], np.maximum(f64[0, 3], 0) * 86400, rtol=1e-12)
