"""One day of CELM for one land cell (or, on the numpy path, for an array of cells).

Contract: :func:`cell_step` is the single place where the processes are composed. It is a
branch-free jitable function: the numba kernel (:mod:`celm.kernel`) calls it with scalars inside a
loop over cells, the numpy reference calls the very same code with 1-D arrays of cells. It takes
the prognostic state as a tuple ordered like :data:`STATE_VARS` and one day's forcing, and returns
``(new_state, diagnostics)`` with diagnostics ordered like :data:`DIAG_VARS`. Budgets close by
construction: see :mod:`celm.carbon`, :mod:`celm.hydrology` and :mod:`celm.energy`.

Order within a day: snow (partition, melt, cap) -> vegetation cover and water stress from the start-
of-day state -> P-model GPP and canopy conductance -> isothermal radiation, ground heat and melt
energy -> Penman-Monteith demands (interception, transpiration, soil evaporation, sublimation) ->
infiltration and runoff -> supply-limited evaporation (GPP scaled down with transpiration when
water runs out) -> surface temperature and the closed energy partition -> soil temperature ->
phenology (GSI) -> carbon pools.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from celm.carbon import carbon_step, decomposition_scalar
from celm.constants import (
    CP_AIR,
    INTERCEPTION_FRACTION,
    K_EXTINCTION,
    LATENT_FUSION,
    LATENT_SUBLIMATION,
    PPFD_PER_SW,
    SECONDS_PER_DAY,
    SOIL_HEAT_CAPACITY,
    SOIL_HEAT_COEF,
    T_FREEZE,
    TINY,
    VOGEL_C,
    WIND_MIN,
)
from celm.energy import (
    air_density_denominator,
    canopy_cover,
    daytime_temperature,
    energy_partition,
    energy_partition_denominator,
    esat_denominator,
    isothermal_net_radiation,
    latent_heat_vaporisation,
    penman_monteith,
    penman_monteith_denominator,
    penman_numerator,
    saturation_vapour_pressure,
    surface_albedo,
    vapour_pressure_denominator,
)
from celm.hydrology import (
    apply_evaporation,
    available_water,
    infiltrate,
    relative_available_water,
    snow_cover_denominator,
    snow_cover_fraction,
    snow_update,
    top_wetness,
)
from celm.mathfn import ramp, reciprocals2, reciprocals3, reciprocals4
from celm.phenology import growing_season_index
from celm.pmodel import pmodel_leaf_temperature, pmodel_lue

#: prognostic state, in the order of the state tuple and of the kernel's state array rows
STATE_VARS: tuple[str, ...] = (
    "C_LABILE",  # gC m-2
    "C_LEAF",  # gC m-2
    "C_ROOT",  # gC m-2
    "C_WOOD",  # gC m-2
    "C_LITTER",  # gC m-2
    "C_SOM",  # gC m-2
    "W_TOP",  # mm, top 0.1 m
    "W_SUB",  # mm, root zone below
    "SWE",  # mm snow water equivalent
    "T_SOIL",  # K
    "GSI",  # 1, running-mean growing-season index
)

#: daily diagnostics returned by cell_step (fluxes over the day, states at its end); the kernel
#: sums them over a block of days, so keep this list to what output and spin-up need
DIAG_VARS: tuple[str, ...] = (
    "GPP",  # gC m-2 d-1
    "RA",
    "RH",
    "QLE",  # W m-2
    "QH",
    "QG",
    "RNET",
    "TRANSP",  # mm d-1
    "ESOIL",  # bare-soil evaporation + snow sublimation
    "EINT",  # evaporation of intercepted rain
    "RUNOFF",
    "PRECIP",
    "TSURF",  # K
    "TSOIL",  # K
    "SWE",  # mm
    "SOILW",  # mm, whole column
    "SOILW_TOP",  # mm, top 0.1 m
    "C_LABILE",  # gC m-2
    "C_LEAF",
    "C_ROOT",
    "C_WOOD",
    "C_LITTER",
    "C_SOM",
    "F_LABREL",  # gC m-2 d-1, labile -> foliage (analytic spin-up)
    "F_LEAF",  # gC m-2 d-1, foliage -> litter (analytic spin-up)
    "DECOMP",  # 1, environmental turnover scalar of litter and SOM (analytic spin-up)
)

NSTATE = len(STATE_VARS)
NDIAG = len(DIAG_VARS)


@register_jitable(inline="always")
def cell_step(p, state, tas, tasmax, tasmin, pr, rsds, rlds, huss, ps, wind, daylen, ga_coef, co2):
    """Advance one day; see the module docstring for the order of processes.

    Forcing units are those of the model-ready files (K, kg m-2 s-1, W m-2, kg kg-1, Pa, m s-1);
    ``daylen`` in hours, ``ga_coef`` = aerodynamic conductance per unit wind speed (1),
    ``co2`` in ppm, ``p`` a :class:`celm.params.KernelParams`.

    Speed: divisions are the kernel's bottleneck, so independent reciprocals are batched
    (``reciprocalsN``, one division each) and loop-invariant ones are written ``x * (1.0 / y)``
    for the compiler to hoist; the physics functions take the reciprocals they need.
    """
    clab, cleaf, croot, cwood, clit, csom, w1, w2, swe, tsoil, gsi = state
    tc = tas - T_FREEZE
    precip = np.maximum(pr, 0.0) * SECONDS_PER_DAY

    # --- snow, vegetation cover and water stress (start of day) -------------------------------
    swe_a, rain, melt, capped = snow_update(swe, precip, tc)
    fcov = canopy_cover(cleaf * p.sla, K_EXTINCTION)
    theta = relative_available_water(w1, w2, p.w2_wp, p.soil_water_capacity)
    stress = np.minimum(theta * (1.0 / p.theta_star), 1.0)
    frost = ramp(tsoil - T_FREEZE, -2.0, 0.0)
    tw = top_wetness(w1)

    # --- first batch of reciprocals (forcing and start-of-day state only) ---------------------
    t_day = daytime_temperature(tc, tasmax - T_FREEZE, tasmin - T_FREEZE)
    tk_leaf = pmodel_leaf_temperature(t_day)
    lam = latent_heat_vaporisation(tc)
    inv_vp, inv_es, inv_es_day, inv_lam = reciprocals4(
        vapour_pressure_denominator(huss), esat_denominator(tc), esat_denominator(t_day), lam
    )
    inv_tk_leaf, inv_tk_vogel, inv_rho, inv_snow = reciprocals4(
        tk_leaf,
        tk_leaf - VOGEL_C,
        air_density_denominator(tas, huss),
        snow_cover_denominator(swe_a),
    )
    e_air = huss * ps * inv_vp
    es_mean, delta = saturation_vapour_pressure(tc, inv_es)
    es_day, _ = saturation_vapour_pressure(t_day, inv_es_day)
    vpd = np.maximum(es_mean - e_air, 0.0)
    vpd_day = np.maximum(es_day - e_air, 1.0)
    rho = ps * inv_rho
    gamma = (CP_AIR / 0.622) * ps * inv_lam
    ga = ga_coef * np.maximum(wind, WIND_MIN)
    fsno = snow_cover_fraction(swe_a, inv_snow)

    # --- radiation, ground heat and available energy ------------------------------------------
    albedo = surface_albedo(fcov, tw, fsno)
    rn_iso = isothermal_net_radiation(rsds, rlds, albedo, tas)
    g_ground = SOIL_HEAT_COEF * (tas - tsoil)
    q_melt = LATENT_FUSION * melt * (1.0 / SECONDS_PER_DAY)
    avail = rn_iso - g_ground - q_melt
    avail_canopy = avail * fcov
    avail_soil = avail - avail_canopy
    g_soil = p.g_soil_max * tw * tw
    num_soil = penman_numerator(avail_soil, vpd, ga, delta, rho)

    # --- second batch ------------------------------------------------------------------------
    inv_vpd_day, inv_wet, inv_energy = reciprocals3(
        vpd_day, delta + gamma, energy_partition_denominator(rho, ga, tas)
    )

    # --- GPP (P-model) and canopy conductance --------------------------------------------------
    lue, g_per_gpp = pmodel_lue(
        tk_leaf, inv_tk_leaf, inv_tk_vogel, inv_vpd_day, co2, ps, p.kphio, p.beta_unitcost
    )
    ppfd = np.maximum(rsds, 0.0) * (SECONDS_PER_DAY * PPFD_PER_SW)
    gpp_demand = lue * fcov * ppfd * stress * frost
    g_canopy = gpp_demand * g_per_gpp  # m s-1, daily mean

    # --- evaporative demands (mm d-1) -----------------------------------------------------------
    to_mm = SECONDS_PER_DAY * inv_lam
    e_wet = np.maximum(penman_numerator(avail_canopy, vpd, ga, delta, rho) * inv_wet, 0.0) * to_mm
    e_int = np.minimum(rain * (INTERCEPTION_FRACTION * fcov), e_wet)
    inv_e_wet, inv_soil_pm, inv_canopy_pm = reciprocals3(
        np.maximum(e_wet, TINY),
        penman_monteith_denominator(ga, g_soil, delta, gamma),
        penman_monteith_denominator(ga, g_canopy, delta, gamma),
    )
    num_day = penman_numerator(avail_canopy, vpd_day, ga, delta, rho)
    transp_demand = (
        np.maximum(penman_monteith(num_day, g_canopy, inv_canopy_pm), 0.0)
        * to_mm
        * (1.0 - e_int * inv_e_wet)
    )
    esoil_demand = (
        np.maximum(penman_monteith(num_soil, g_soil, inv_soil_pm), 0.0) * to_mm * (1.0 - fsno)
    )
    sublim_demand = (
        np.maximum(num_soil * inv_wet, 0.0) * (SECONDS_PER_DAY / LATENT_SUBLIMATION) * fsno
    )

    # --- water: infiltration, runoff, supply-limited evaporation ------------------------------
    w1a, w2a, runoff_soil = infiltrate(w1, w2, p.w2_fc, rain - e_int + melt, theta)
    av1, av2 = available_water(w1a, w2a, p.w2_wp)
    inv_av, inv_demand = reciprocals2(
        np.maximum(av1 + av2, TINY), np.maximum(transp_demand, TINY)
    )
    w1n, w2n, swe_n, transp, esoil, sublim = apply_evaporation(
        w1a, w2a, swe_a, av1, av2, inv_av, transp_demand, esoil_demand, sublim_demand
    )
    # when roots cannot supply the demand, GPP falls in proportion (stomata close)
    limited = (transp < transp_demand) * 1.0
    gpp = gpp_demand * (limited * transp * inv_demand + (1.0 - limited))

    # --- energy partition and soil temperature -------------------------------------------------
    le = ((transp + esoil + e_int) * lam + LATENT_SUBLIMATION * sublim) * (1.0 / SECONDS_PER_DAY)
    qg = g_ground + q_melt
    ts, rnet, qh = energy_partition(rsds, rlds, albedo, tas, rn_iso, le, qg, inv_energy)
    tsoil_n = tsoil + g_ground * (SECONDS_PER_DAY / SOIL_HEAT_CAPACITY)

    # --- phenology and carbon --------------------------------------------------------------------
    gsi_n = growing_season_index(gsi, tasmin - T_FREEZE, daylen, vpd_day, stress)
    decomp = decomposition_scalar(tsoil, theta, p.ln_q10)
    (
        clab_n, cleaf_n, croot_n, cwood_n, clit_n, csom_n, ra, rh, f_labrel, f_leaf,
    ) = carbon_step(clab, cleaf, croot, cwood, clit, csom, gpp, gsi_n, decomp, p)  # fmt: skip

    new_state = (clab_n, cleaf_n, croot_n, cwood_n, clit_n, csom_n, w1n, w2n, swe_n, tsoil_n, gsi_n)
    diag = (
        gpp, ra, rh, le, qh, qg, rnet,
        transp, esoil + sublim, e_int, runoff_soil + capped, precip,
        ts, tsoil_n, swe_n, w1n + w2n, w1n,
        clab_n, cleaf_n, croot_n, cwood_n, clit_n, csom_n,
        f_labrel, f_leaf, decomp,
    )  # fmt: skip
    return new_state, diag
