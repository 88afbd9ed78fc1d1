"""GPP by the P-model light-use efficiency (Wang et al. 2017; Stocker et al. 2020).

Contract: pure, branch-free functions of daily climate (scalars inside the numba kernel, arrays of
land cells on the numpy path); no state. Float32 (see :mod:`celm.mathfn`): inputs, ``co2_ppm``
and the parameters are expected as float32, constants are written ``f32(...)``. Units:
temperature deg C, pressures Pa, CO2 ppm, PPFD mol m-2 d-1, light-use efficiency gC mol-1
photons.

Why our own implementation rather than PyPI ``pyrealm``? The formulation is the same published
one (Prentice et al. 2014 optimal chi, Wang et al. 2017 Jmax limitation with c* = 0.41, Bernacchi
et al. 2001 Gamma* and Michaelis-Menten constants, the Bernacchi et al. 2003 temperature
dependence of the quantum yield as used in rpmodel/pyrealm; see ``tests/celm/test_pmodel.py``
for a comparison against pyrealm when it is installed). But pyrealm works on whole numpy arrays
with allocation per operation, which is ~20x too slow for the model's speed target, and cannot be
called from a numba cell loop; it also raises or returns NaN in polar/cold conditions that a
global model meets every winter. Here every input is clipped to the formulation's valid range so
the result is finite everywhere, and the code vectorises inside the kernel. One deliberate
simplification: the relative viscosity of water uses the Vogel equation instead of Huber et al.
(2009) (they differ by < 1% over 0-40 C; under 0 C both extrapolate).

Daily use: as in Stocker et al. (2020), the model is applied to daily climate; we feed it the
daytime mean temperature and daytime vapour pressure deficit because photosynthesis happens in
daylight (see :func:`celm.energy.daytime_temperature`).
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from celm.constants import (
    C_STAR_JMAX,
    GAMMA_STAR_25,
    GAMMA_STAR_HA,
    KC_25,
    KC_HA,
    KO_25,
    KO_HA,
    MOLAR_MASS_C,
    O2_MOLE_FRACTION,
    P_STANDARD,
    PMODEL_TC_MAX,
    PMODEL_TC_MIN,
    R_GAS,
    SECONDS_PER_DAY,
    VOGEL_B,
    VOGEL_C,
)
from celm.mathfn import exp_bounded, f32, one_minus_pow_two_thirds


@register_jitable(inline="always")
def quantum_yield_temperature(tc):
    """Temperature dependence of the intrinsic quantum yield (Bernacchi et al. 2003).

    0.352 + 0.022 T - 3.4e-4 T^2 (T in deg C), floored at 0: it vanishes below about -13 C,
    which is what switches photosynthesis off in the cold.
    """
    return np.maximum(f32(0.352) + f32(0.022) * tc - f32(3.4e-4) * tc * tc, f32(0.0))


@register_jitable(inline="always")
def pmodel_leaf_temperature(tc):
    """Temperature (K) at which the P-model is evaluated: ``tc`` clipped to -20..50 C."""
    return np.minimum(np.maximum(tc, f32(PMODEL_TC_MIN)), f32(PMODEL_TC_MAX)) + f32(273.15)


@register_jitable(inline="always")
def pmodel_lue(tk, inv_tk, inv_tk_vogel, inv_vpd, co2_ppm, patm, kphio, beta):
    """Light-use efficiency and the canopy conductance it implies.

    Inputs: ``tk`` from :func:`pmodel_leaf_temperature` with its reciprocals ``1/tk`` and
    ``1/(tk - 137.546 K)`` and ``1/max(vpd, 1 Pa)``, computed by the caller as soon as their
    arguments are known (the kernel is latency-bound; see :func:`celm.step.cell_physics`).

    Returns ``(lue, g_per_gpp)``: ``lue`` in gC per mol of absorbed photons, so that
    GPP = lue * fAPAR * PPFD; ``g_per_gpp`` = 1.6 R T / (Mc 86400 ca (1 - chi)), the stomatal
    conductance to water (m s-1) per unit GPP (gC m-2 d-1), from g_s = A / (ca - ci).

    Algebra: with G = Gamma*/ca and rho = xi / sqrt(D), the optimal ci:ca is
    chi = G + (1 - G) rho / (1 + rho); then m = (chi - G) / (chi + 2G) = N / (N + 3G(1 + rho))
    with N = (1 - G) rho, and 1 - chi = (1 - G) / (1 + rho).
    """
    t = tk - f32(273.15)
    # Arrhenius exponent relative to 25 C, shared by Gamma*, Kc and Ko (Bernacchi et al. 2001):
    # (tk - 298.15) / (298.15 R tk) = (1/298.15 - 1/tk) / R
    arr = (f32(1.0 / 298.15) - inv_tk) * f32(1.0 / R_GAS)
    e_gamma = exp_bounded(f32(GAMMA_STAR_HA) * arr)
    gamma_star = f32(GAMMA_STAR_25 / P_STANDARD) * patm * e_gamma
    kc = f32(KC_25) * exp_bounded(f32(KC_HA) * arr)
    inv_ko = exp_bounded(f32(-KO_HA) * arr) * f32(1.0 / KO_25)
    kmm = kc * (f32(1.0) + f32(O2_MOLE_FRACTION) * patm * inv_ko)
    # 1 / viscosity of water relative to 25 C (Vogel equation)
    inv_eta_star = exp_bounded(f32(VOGEL_B / (298.15 - VOGEL_C)) - f32(VOGEL_B) * inv_tk_vogel)
    # xi^2 = beta (K + Gamma*) / (1.6 eta*)  (Prentice et al. 2014)
    xi_sq = beta * f32(1.0 / 1.6) * (kmm + gamma_star) * inv_eta_star
    rho = np.sqrt(xi_sq * inv_vpd)
    g_ratio = np.minimum(
        f32(GAMMA_STAR_25 * 1e6 / P_STANDARD) * e_gamma * (f32(1.0) / co2_ppm), f32(0.9)
    )
    n = np.maximum((f32(1.0) - g_ratio) * rho, f32(1e-9))
    d = n + f32(3.0) * g_ratio * (f32(1.0) + rho)
    inv_nd = f32(1.0) / (n * d)
    inv_gp = f32(1.0) / ((f32(1.0) - g_ratio) * patm)
    m = n * n * inv_nd
    u = f32(C_STAR_JMAX) * d * d * inv_nd
    # Jmax limitation (Wang et al. 2017): mj = m sqrt(1 - (c*/m)^(2/3)), zero when m <= c*
    mj = m * np.sqrt(np.maximum(one_minus_pow_two_thirds(u), f32(0.0)))
    lue = kphio * quantum_yield_temperature(t) * mj * f32(MOLAR_MASS_C)
    g_per_gpp = (
        f32(1.6 * R_GAS * 1e6 / (MOLAR_MASS_C * SECONDS_PER_DAY))
        * tk
        * (f32(1.0) / co2_ppm)
        * (f32(1.0) + rho)
        * inv_gp
    )
    return lue, g_per_gpp
