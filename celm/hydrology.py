"""Snow, canopy interception and the two-layer soil water bucket.

Contract: branch-free jitable functions over one day (scalars in the kernel, arrays on the numpy
path), in float64: they move water between stores, and the budget is tested to 1e-9 (the
evaporative demands come from the float32 physics). Water in mm (= kg m-2), fluxes in mm d-1.
Every outflow is limited by the stock it drains *before* it is applied, so stores never go
negative and
d(SWE + W_top + W_sub) = P - ET - runoff holds to round-off every step.

Layers: a top layer of 0.1 m (field capacity 30 mm, wilting point 10 mm, air-dry 5 mm) feeds bare-
soil evaporation; the root zone below holds ``soil_water_capacity - 20`` mm of plant-available
water on top of its wilting-point water. Transpiration draws on both in proportion to their
available water. Infiltration fills the top layer, its excess percolates, and the root zone's
excess runs off (Manabe 1969 bucket); in addition a share (theta_rel ** b) of the daily input runs
off directly, the HBV "soil routine" of Bergstrom (1976), so runoff responds to wetness before
the bucket is full (b = 2, fixed: an integer power keeps the kernel free of libm calls).
Snow: rain/snow by a 0-2 C ramp, degree-day melt, sublimation from the snow-
covered fraction, and snow beyond 1000 mm runs off (CLM's snow capping, keeps ice sheets finite).
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from celm.constants import (
    DEGREE_DAY_FACTOR,
    SECONDS_PER_DAY,
    SWE_COVER_HALF,
    SWE_MAX,
    T_RAIN,
    T_SNOW,
    W1_FC,
    W1_RES,
    W1_WP,
)
from celm.mathfn import f32, f64, ramp


@register_jitable(inline="always")
def daily_precipitation(pr):
    """The day's precipitation (mm d-1, float64) from the forcing's ``pr`` (kg m-2 s-1).

    Negative values (interpolation round-off in some products) count as none. The kernel also
    sums it over a block straight from the forcing (``celm.kernel._derived_sums``).
    """
    return np.maximum(f64(pr), 0.0) * SECONDS_PER_DAY


@register_jitable(inline="always")
def snow_update(swe, precip, tas_c):
    """Partition precipitation and melt the pack.

    Returns ``(swe_new, rain, melt, capped)`` (mm, mm d-1): ``swe_new`` after snowfall, melt and
    capping; sublimation is removed later by :func:`apply_evaporation`.
    """
    snowfall = precip * (1.0 - ramp(tas_c, T_SNOW, T_RAIN))
    rain = precip - snowfall
    swe1 = swe + snowfall
    melt = np.minimum(swe1, DEGREE_DAY_FACTOR * np.maximum(tas_c, 0.0))
    swe2 = swe1 - melt
    capped = np.maximum(swe2 - SWE_MAX, 0.0)
    return swe2 - capped, rain, melt, capped


@register_jitable(inline="always")
def snow_cover_denominator(swe):
    """swe + 10 mm, see :func:`snow_cover_fraction` (float32 physics)."""
    return swe + f32(SWE_COVER_HALF)


@register_jitable(inline="always")
def snow_cover_fraction(swe, inv_den):
    """Fraction of the ground covered by snow, swe / (swe + 10 mm); ``inv_den`` its reciprocal."""
    return swe * inv_den


@register_jitable(inline="always")
def relative_available_water(w1, w2, w2_wp, capacity):
    """Plant-available water of the column as a fraction of its capacity, in [0, 1]."""
    avail = np.maximum(w1 - W1_WP, 0.0) + np.maximum(w2 - w2_wp, 0.0)
    return np.minimum(avail * (1.0 / capacity), 1.0)


@register_jitable(inline="always")
def top_wetness(w1):
    """Top-layer wetness in [0, 1] between air-dry and field capacity (float32 physics)."""
    return np.minimum(
        np.maximum((w1 - f32(W1_RES)) * f32(1.0 / (W1_FC - W1_RES)), f32(0.0)), f32(1.0)
    )


@register_jitable(inline="always")
def infiltrate(w1, w2, w2_fc, water_in, theta_rel):
    """Route the day's rain throughfall + melt through the bucket.

    Returns ``(w1_new, w2_new, runoff)``: direct runoff ``water_in * theta_rel ** 2`` plus the
    root zone's overflow above field capacity.
    """
    direct = water_in * (theta_rel * theta_rel)
    w1a = w1 + (water_in - direct)
    perc = np.maximum(w1a - W1_FC, 0.0)
    w1a = w1a - perc
    w2a = w2 + perc
    overflow = np.maximum(w2a - w2_fc, 0.0)
    return w1a, w2a - overflow, direct + overflow


@register_jitable(inline="always")
def available_water(w1, w2, w2_wp):
    """Plant-available water (mm) of the top layer and of the root zone below."""
    return np.maximum(w1 - W1_WP, 0.0), np.maximum(w2 - w2_wp, 0.0)


@register_jitable(inline="always")
def apply_evaporation(w1, w2, swe, av1, av2, inv_av, transp_demand, esoil_demand, sublim_demand):
    """Take transpiration, soil evaporation and sublimation, each limited by its stock.

    ``av1, av2`` from :func:`available_water` for (w1, w2), ``inv_av`` = 1 / max(av1 + av2, tiny).
    Returns ``(w1, w2, swe, transp, esoil, sublim)``. Transpiration is split between layers in
    proportion to their available water (so neither drops below wilting point); soil evaporation
    then takes from the top layer down to air-dry; sublimation from the snowpack.
    """
    transp = np.minimum(transp_demand, av1 + av2)
    t1 = transp * av1 * inv_av
    w1b = w1 - t1
    w2b = w2 - (transp - t1)
    esoil = np.minimum(esoil_demand, np.maximum(w1b - W1_RES, 0.0))
    sublim = np.minimum(sublim_demand, swe)
    return w1b - esoil, w2b, swe - sublim, transp, esoil, sublim
