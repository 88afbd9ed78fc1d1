"""Surface radiation, turbulent exchange and the energy partition Rnet = LE + H + G.

Contract: branch-free jitable functions of daily means (scalars in the kernel, arrays on the numpy
path), except :func:`aerodynamic_coefficient`, which is plain numpy (it needs ``np.log``) and is
evaluated once per block of days outside the kernel. SI units: K or deg C as named, Pa, W m-2,
m s-1. Float32 physics (constants written ``f32(...)``, see :mod:`celm.mathfn`), except
:func:`energy_partition`, which closes the budget in float64.

Scheme (Monteith & Unsworth 2013, ch. 11-13): evaporative fluxes come from the Penman-Monteith
equation driven by the *isothermal* net radiation (net radiation if the surface were at air
temperature). The surface temperature then follows from the linearised balance
Rn_iso - 4 eps sigma Ta^3 (Ts - Ta) = LE + rho cp ga (Ts - Ta) + G, the net radiation is
recomputed with the full eps sigma Ts^4, and the sensible heat flux is the residual
H = Rn - LE - G, so the partition closes exactly by construction; H differs from
rho cp ga (Ts - Ta) only by the linearisation error of the longwave term.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from celm.constants import (
    ALBEDO_SNOW,
    ALBEDO_SOIL_DRY,
    ALBEDO_SOIL_WET,
    ALBEDO_VEG,
    CP_AIR,
    R_DRY_AIR,
    REFERENCE_HEIGHT,
    STEFAN_BOLTZMANN,
    SURFACE_EMISSIVITY,
    VON_KARMAN,
    WOOD_HALF_HEIGHT,
    Z0_FOREST,
    Z0_SOIL,
)
from celm.mathfn import exp_bounded, f32


@register_jitable(inline="always")
def daytime_temperature(tas_c, tasmax_c, tasmin_c):
    """Mean temperature over daylight hours (deg C) for a sinusoidal diurnal cycle.

    The mean of a sine over its positive half-period is 2/pi of its amplitude, and the amplitude is
    half the diurnal range: T_day = T_mean + (Tmax - Tmin) / pi.
    """
    return tas_c + np.maximum(tasmax_c - tasmin_c, f32(0.0)) * f32(1.0 / np.pi)


@register_jitable(inline="always")
def esat_denominator(tc):
    """The denominator T + 237.3 of the Tetens/Magnus formula (T clipped at -90 C)."""
    return np.maximum(tc, f32(-90.0)) + f32(237.3)


@register_jitable(inline="always")
def saturation_vapour_pressure(tc, inv_den):
    """Saturation vapour pressure over water (Pa) and its slope d(es)/dT (Pa K-1).

    Tetens/Magnus form and its derivative (Allen et al. 1998, FAO-56 eqs. 11 and 13);
    ``inv_den`` = 1 / esat_denominator(tc). Returns ``(es, slope)``.
    """
    es = f32(610.8) * exp_bounded(f32(17.27) * np.maximum(tc, f32(-90.0)) * inv_den)
    return es, f32(4098.0) * es * inv_den * inv_den


@register_jitable(inline="always")
def vapour_pressure_denominator(huss):
    """0.622 + 0.378 q, so that e = q p / (0.622 + 0.378 q)."""
    return f32(0.622) + f32(0.378) * huss


@register_jitable(inline="always")
def latent_heat_vaporisation(tc):
    """Latent heat of vaporisation (J kg-1), linear in temperature (Henderson-Sellers 1984 fit)."""
    return f32(2.501e6) - f32(2361.0) * tc


@register_jitable(inline="always")
def air_density_denominator(tk, huss):
    """R_d T_v, so that the moist-air density is p / (R_d T_v) (kg m-3)."""
    return f32(R_DRY_AIR) * tk * (f32(1.0) + f32(0.608) * huss)


@register_jitable(inline="always")
def penman_numerator(avail, vpd, ga, delta, rho):
    """Delta A + rho cp D ga (W m-2 Pa K-1), the numerator shared by the Penman equations."""
    return delta * avail + rho * f32(CP_AIR) * vpd * ga


@register_jitable(inline="always")
def penman_monteith_denominator(ga, gs, delta, gamma):
    """gs (Delta + gamma) + gamma ga, see :func:`penman_monteith`."""
    return gs * (delta + gamma) + gamma * ga


@register_jitable(inline="always")
def penman_monteith(numerator, gs, inv_den):
    """Latent heat flux (W m-2) from a surface with conductance ``gs`` (m s-1).

    LE = (Delta A + rho cp D ga) / (Delta + gamma (1 + ga / gs)) (Monteith 1965), written as
    gs N / (gs (Delta + gamma) + gamma ga) so gs = 0 gives exactly 0; ``inv_den`` is the
    reciprocal of :func:`penman_monteith_denominator`. A wet surface (Penman 1948) is the limit
    gs -> infinity, N / (Delta + gamma).
    """
    return gs * numerator * inv_den


@register_jitable(inline="always")
def surface_albedo(fcov, top_wetness, snow_cover):
    """Broadband albedo: vegetation over soil (darker when wet), brightened by snow.

    Snow shows through a canopy only partly (half of the covered fraction is masked).
    """
    soil = f32(ALBEDO_SOIL_DRY) + f32(ALBEDO_SOIL_WET - ALBEDO_SOIL_DRY) * top_wetness
    snow_free = fcov * f32(ALBEDO_VEG) + (f32(1.0) - fcov) * soil
    visible_snow = snow_cover * (f32(1.0) - f32(0.5) * fcov)
    return snow_free + (f32(ALBEDO_SNOW) - snow_free) * visible_snow


@register_jitable(inline="always")
def isothermal_net_radiation(sw_net, rlds, tk):
    """Net radiation (W m-2) of a surface at air temperature ``tk``; sw_net = SW (1 - albedo)."""
    emitted = f32(STEFAN_BOLTZMANN) * ((tk * tk) * (tk * tk))
    return sw_net + f32(SURFACE_EMISSIVITY) * (rlds - emitted)


@register_jitable(inline="always")
def radiative_conductance_coef(tk):
    """d(emitted longwave)/dT = 4 eps sigma T^3 (W m-2 K-1)."""
    return f32(4.0 * SURFACE_EMISSIVITY * STEFAN_BOLTZMANN) * tk * tk * tk


@register_jitable(inline="always")
def energy_partition_denominator(rho, ga, tk):
    """rho cp ga + 4 eps sigma T^3 (W m-2 K-1): sensible plus radiative conductance."""
    return rho * f32(CP_AIR) * ga + radiative_conductance_coef(tk)


@register_jitable(inline="always")
def energy_partition(sw_net, rlds, tk, rn_iso, le, g, inv_den):
    """Surface temperature and the closed partition, in float64.

    ``sw_net`` = rsds (1 - albedo); ``inv_den`` = 1 / :func:`energy_partition_denominator`;
    ``le`` and ``g`` are the float64 fluxes that also leave the water and soil-heat budgets.
    Returns ``(ts, rnet, h)`` with rnet - le - g - h == 0 to float64 round-off: Ts from the
    linearised balance, Rnet with the full Stefan-Boltzmann term, H as the residual. Float64
    because H is a small difference of large terms and the closure is tested to 1e-9.
    """
    ts = tk + (rn_iso - le - g) * inv_den
    rnet = sw_net + SURFACE_EMISSIVITY * (rlds - STEFAN_BOLTZMANN * ((ts * ts) * (ts * ts)))
    h = rnet - le - g
    return ts, rnet, h


@register_jitable(inline="always")
def canopy_cover(lai, k_ext):
    """Fraction of light absorbed by the canopy (= fAPAR, Beer's law) and of ground it shades."""
    return f32(1.0) - exp_bounded(f32(-k_ext) * lai)


def aerodynamic_coefficient(c_wood: np.ndarray) -> np.ndarray:
    """ga / wind speed (dimensionless) from the log wind profile in neutral conditions.

    The roughness length grows from bare soil to a closed forest with wood carbon
    (half-way at ``WOOD_HALF_HEIGHT`` gC m-2); z0h = z0m / 10; the reference level is 10 m above
    the displacement height. Evaluated once per block of days (vegetation structure is slow), so
    the kernel needs no logarithm.
    """
    woodiness = c_wood / (c_wood + WOOD_HALF_HEIGHT)
    z0m = Z0_SOIL + (Z0_FOREST - Z0_SOIL) * woodiness
    log_m = np.log(REFERENCE_HEIGHT / z0m + 1.0)
    log_h = log_m + np.log(10.0)
    return VON_KARMAN**2 / (log_m * log_h)
