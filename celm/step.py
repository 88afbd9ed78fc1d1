"""One day of CELM for one land cell (or, on the numpy path, for an array of cells).

Contract: the processes are composed in two halves, :func:`cell_physics` (everything but the
carbon pools) and :func:`cell_carbon` (GSI and pools), and :func:`cell_step` is the day: the
first half, then the second. All three are branch-free jitable functions: the numba kernel
(:mod:`celm.kernel`) calls the two halves with scalars inside a loop over cells (it reads the
pools from memory between them), the numpy reference calls the very same code through
:func:`cell_step` with 1-D arrays of cells; ``tests/celm/test_kernel.py`` checks they agree.
:func:`cell_step` takes the prognostic state as a tuple ordered like :data:`STATE_VARS` and one
day's forcing, and returns ``(new_state, diagnostics)`` with diagnostics ordered like
:data:`DIAG_VARS`. Budgets close by construction: see :mod:`celm.carbon`,
:mod:`celm.hydrology` and :mod:`celm.energy`.

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
    daily_precipitation,
    infiltrate,
    relative_available_water,
    snow_cover_denominator,
    snow_cover_fraction,
    snow_update,
    top_wetness,
)
from celm.mathfn import f32, f64, ramp32
from celm.phenology import daily_gsi, relax_gsi
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
def cell_physics(
    p, cleaf, w1, w2, swe, tsoil, tas, tasmax, tasmin, pr, rsds, rlds, huss, ps, wind, daylen,
    ga_coef, co2,
):  # fmt: skip
    """Everything but the carbon pools, from the start-of-day foliage, water and soil state.

    Returns ``(water, gpp, raw_gsi, decomp, fluxes)``: ``water`` = (W_TOP, W_SUB, SWE, T_SOIL) at
    the end of the day, GPP (float64), the day's GSI and turnover scalar (float32), and
    ``fluxes`` = (QLE, QH, QG, RNET, TRANSP, ESOIL, EINT, RUNOFF, PRECIP, TSURF).

    Forcing units are those of the model-ready files (K, kg m-2 s-1, W m-2, kg kg-1, Pa, m s-1);
    ``daylen`` in hours, ``ga_coef`` = aerodynamic conductance per unit wind speed (1),
    ``co2`` in ppm, ``p`` a :class:`celm.params.KernelParams`.

    Precision: the state and everything that moves carbon, water or heat between stores is
    float64, so the budgets close to float64 round-off; the physics that sets the rates (P-model,
    radiation, Penman-Monteith demands, phenology, turnover scalars) is float32 (``f32(...)``),
    which lets the kernel evaluate 8 cells per AVX2 instruction instead of 4. The forcing is
    float32 on disk anyway. Each float32 flux is converted once, and that one float64 value is
    applied to its donor, its receiver and the diagnostics.

    Speed: the kernel is bound by the latency of its dependency chains, so each reciprocal is
    its own division (in the kernel an approximate reciprocal refined by a Newton step, about 15
    cycles), computed as soon as its argument is known; loop-invariant ones are written
    ``x * (1.0 / y)`` for the compiler to hoist. The physics functions take the reciprocals they
    need.
    """
    # float32 copies of the forcing for the physics (no-ops in the kernel, which reads float32)
    ta, tmax, tmin, sw, lw = f32(tas), f32(tasmax), f32(tasmin), f32(rsds), f32(rlds)
    q, pa = f32(huss), f32(ps)
    tc = ta - f32(T_FREEZE)

    # --- snow (float64), vegetation cover and water stress (start of day) ----------------------
    precip = daily_precipitation(pr)
    swe_a, rain, melt, capped = snow_update(swe, precip, f64(tas) - T_FREEZE)
    fcov = canopy_cover(f32(cleaf) * f32(p.sla), K_EXTINCTION)
    theta = relative_available_water(w1, w2, p.w2_wp, p.soil_water_capacity)
    theta32 = f32(theta)
    stress = np.minimum(theta32 * f32(1.0 / p.theta_star), f32(1.0))
    frost = ramp32(f32(tsoil) - f32(T_FREEZE), -2.0, 0.0)
    tw = top_wetness(f32(w1))

    # --- reciprocals of forcing and start-of-day terms ------------------------------------------
    t_day = daytime_temperature(tc, tmax - f32(T_FREEZE), tmin - f32(T_FREEZE))
    tk_leaf = pmodel_leaf_temperature(t_day)
    lam = latent_heat_vaporisation(tc)
    inv_vp = f32(1.0) / vapour_pressure_denominator(q)
    inv_es = f32(1.0) / esat_denominator(tc)
    inv_es_day = f32(1.0) / esat_denominator(t_day)
    inv_lam = f32(1.0) / lam
    inv_tk_leaf = f32(1.0) / tk_leaf
    inv_tk_vogel = f32(1.0) / (tk_leaf - f32(VOGEL_C))
    inv_rho = f32(1.0) / air_density_denominator(ta, q)
    inv_snow = f32(1.0) / snow_cover_denominator(f32(swe_a))
    e_air = q * pa * inv_vp
    es_mean, delta = saturation_vapour_pressure(tc, inv_es)
    es_day, _ = saturation_vapour_pressure(t_day, inv_es_day)
    vpd = np.maximum(es_mean - e_air, f32(0.0))
    vpd_day = np.maximum(es_day - e_air, f32(1.0))
    rho = pa * inv_rho
    gamma = f32(CP_AIR / 0.622) * pa * inv_lam
    ga = f32(ga_coef) * np.maximum(f32(wind), f32(WIND_MIN))
    fsno = snow_cover_fraction(f32(swe_a), inv_snow)

    # --- radiation, ground heat and available energy ------------------------------------------
    albedo = surface_albedo(fcov, tw, fsno)
    sw_net = sw * (f32(1.0) - albedo)
    rn_iso = isothermal_net_radiation(sw_net, lw, ta)
    g_ground = f32(SOIL_HEAT_COEF) * (ta - f32(tsoil))
    g_ground64 = f64(g_ground)
    tsoil_n = tsoil + g_ground64 * (SECONDS_PER_DAY / SOIL_HEAT_CAPACITY)
    q_melt = f32(melt) * f32(LATENT_FUSION / SECONDS_PER_DAY)
    avail = rn_iso - g_ground - q_melt
    avail_canopy = avail * fcov
    avail_soil = avail - avail_canopy
    g_soil = f32(p.g_soil_max) * tw * tw
    num_soil = penman_numerator(avail_soil, vpd, ga, delta, rho)

    inv_vpd_day = f32(1.0) / vpd_day
    inv_wet = f32(1.0) / (delta + gamma)
    inv_energy = f32(1.0) / energy_partition_denominator(rho, ga, ta)

    # --- GPP (P-model) and canopy conductance --------------------------------------------------
    lue, g_per_gpp = pmodel_lue(
        tk_leaf, inv_tk_leaf, inv_tk_vogel, inv_vpd_day, f32(co2), pa, f32(p.kphio),
        f32(p.beta_unitcost),
    )  # fmt: skip
    ppfd = np.maximum(sw, f32(0.0)) * f32(SECONDS_PER_DAY * PPFD_PER_SW)
    gpp_demand = lue * fcov * ppfd * stress * frost
    g_canopy = gpp_demand * g_per_gpp  # m s-1, daily mean

    # --- evaporative demands (mm d-1) -----------------------------------------------------------
    to_mm = f32(SECONDS_PER_DAY) * inv_lam
    e_wet = np.maximum(
        penman_numerator(avail_canopy, vpd, ga, delta, rho) * inv_wet, f32(0.0)
    ) * to_mm  # fmt: skip
    e_int = np.minimum(rain * f64(f32(INTERCEPTION_FRACTION) * fcov), f64(e_wet))  # float64
    inv_e_wet = f32(1.0) / np.maximum(e_wet, f32(TINY))
    inv_soil_pm = f32(1.0) / penman_monteith_denominator(ga, g_soil, delta, gamma)
    inv_canopy_pm = f32(1.0) / penman_monteith_denominator(ga, g_canopy, delta, gamma)
    num_day = penman_numerator(avail_canopy, vpd_day, ga, delta, rho)
    transp_demand = (
        np.maximum(penman_monteith(num_day, g_canopy, inv_canopy_pm), f32(0.0))
        * to_mm
        * np.maximum(f32(1.0) - f32(e_int) * inv_e_wet, f32(0.0))
    )
    esoil_demand = (
        np.maximum(penman_monteith(num_soil, g_soil, inv_soil_pm), f32(0.0))
        * to_mm
        * (f32(1.0) - fsno)
    )
    sublim_demand = (
        np.maximum(num_soil * inv_wet, f32(0.0)) * f32(SECONDS_PER_DAY / LATENT_SUBLIMATION) * fsno
    )

    # --- water (float64): infiltration, runoff, supply-limited evaporation ---------------------
    w1a, w2a, runoff_soil = infiltrate(w1, w2, p.w2_fc, rain - e_int + melt, theta)
    av1, av2 = available_water(w1a, w2a, p.w2_wp)
    inv_av = f32(1.0) / f32(np.maximum(av1 + av2, TINY))
    inv_demand = f32(1.0) / np.maximum(transp_demand, f32(TINY))
    transp_demand64 = f64(transp_demand)
    w1n, w2n, swe_n, transp, esoil, sublim = apply_evaporation(
        w1a, w2a, swe_a, av1, av2, f64(inv_av), transp_demand64, f64(esoil_demand),
        f64(sublim_demand),
    )  # fmt: skip
    # when roots cannot supply the demand, GPP falls in proportion (stomata close)
    limited = f32(transp < transp_demand64)
    gpp = f64(gpp_demand * (limited * f32(transp) * inv_demand + (f32(1.0) - limited)))

    # --- energy partition and soil temperature (float64: the budget) ---------------------------
    le = ((transp + esoil + e_int) * f64(lam) + LATENT_SUBLIMATION * sublim) * (
        1.0 / SECONDS_PER_DAY
    )
    qg = g_ground64 + melt * (LATENT_FUSION / SECONDS_PER_DAY)
    ts, rnet, qh = energy_partition(
        f64(sw_net), f64(rlds), f64(tas), f64(rn_iso), le, qg, f64(inv_energy)
    )

    # --- phenology (the day's GSI) and the turnover scalar ------------------------------------
    raw_gsi = daily_gsi(tmin - f32(T_FREEZE), f32(daylen), vpd_day, stress)
    decomp = decomposition_scalar(f32(tsoil), theta32, f32(p.ln_q10))
    water = (w1n, w2n, swe_n, tsoil_n)
    fluxes = (le, qh, qg, rnet, transp, esoil + sublim, e_int, runoff_soil + capped, precip, ts)
    return water, gpp, raw_gsi, decomp, fluxes


@register_jitable(inline="always")
def cell_carbon(p, clab, cleaf, croot, cwood, clit, csom, gsi, gpp, raw_gsi, decomp):
    """The GSI state and the carbon pools after the day (the second half of :func:`cell_step`).

    Returns ``(pools_and_gsi, (ra, rh, f_labrel, f_leaf))`` with the six pools and the GSI at the
    end of the day.
    """
    gsi_n = relax_gsi(gsi, f64(raw_gsi))
    (
        clab_n, cleaf_n, croot_n, cwood_n, clit_n, csom_n, ra, rh, f_labrel, f_leaf,
    ) = carbon_step(clab, cleaf, croot, cwood, clit, csom, gpp, gsi_n, f64(decomp), p)  # fmt: skip
    return (clab_n, cleaf_n, croot_n, cwood_n, clit_n, csom_n, gsi_n), (ra, rh, f_labrel, f_leaf)


@register_jitable(inline="always")
def cell_step(p, state, tas, tasmax, tasmin, pr, rsds, rlds, huss, ps, wind, daylen, ga_coef, co2):
    """Advance one day: :func:`cell_physics`, then :func:`cell_carbon`.

    Returns ``(new_state, diagnostics)`` ordered like :data:`STATE_VARS` and :data:`DIAG_VARS`.
    The kernel calls the two halves itself (so that the pools are read from memory only when
    the carbon update needs them, instead of being held through the physics); this is the
    composition the numpy reference and the tests run.
    """
    clab, cleaf, croot, cwood, clit, csom, w1, w2, swe, tsoil, gsi = state
    water, gpp, raw_gsi, decomp, fluxes = cell_physics(
        p, cleaf, w1, w2, swe, tsoil, tas, tasmax, tasmin, pr, rsds, rlds, huss, ps, wind, daylen,
        ga_coef, co2,
    )  # fmt: skip
    w1n, w2n, swe_n, tsoil_n = water
    le, qh, qg, rnet, transp, esoil, e_int, runoff, precip, ts = fluxes
    pools, cflux = cell_carbon(p, clab, cleaf, croot, cwood, clit, csom, gsi, gpp, raw_gsi, decomp)
    clab_n, cleaf_n, croot_n, cwood_n, clit_n, csom_n, gsi_n = pools
    ra, rh, f_labrel, f_leaf = cflux
    new_state = (clab_n, cleaf_n, croot_n, cwood_n, clit_n, csom_n, w1n, w2n, swe_n, tsoil_n, gsi_n)
    diag = (
        gpp, ra, rh, le, qh, qg, rnet,
        transp, esoil, e_int, runoff, precip,
        ts, tsoil_n, swe_n, w1n + w2n, w1n,
        clab_n, cleaf_n, croot_n, cwood_n, clit_n, csom_n,
        f_labrel, f_leaf, f64(decomp),
    )  # fmt: skip
    return new_state, diag
