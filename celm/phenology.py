"""Phenology: the growing-season index that drives leaf-out and leaf fall, and day length.

Contract: :func:`daily_gsi` (float32, one day's climate) and :func:`relax_gsi` (float64, the
state update) are branch-free jitable functions;
:func:`day_length` is plain numpy (it needs trigonometry) and is evaluated outside the kernel for
a block of days, since it depends only on latitude and day of year.

The growing-season index (GSI) of Jolly et al. (2005) is the product of three linear ramps -
minimum temperature (-2 to 5 C), photoperiod (10 to 11 h) and daytime VPD (900 to 4100 Pa,
decreasing) - smoothed by a 21-day running mean; DALEC-GSI (Smallman et al. 2017) uses it to
release labile carbon to foliage and to drop leaves. We multiply in the soil-water stress factor so
that drought-deciduous behaviour emerges in seasonally dry climates, and implement the running mean
as an exponential relaxation (one state variable instead of a 21-day buffer).
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from celm.constants import (
    GSI_DAYS,
    GSI_PHOTO_HI,
    GSI_PHOTO_LO,
    GSI_TMIN_HI,
    GSI_TMIN_LO,
    GSI_VPD_HI,
    GSI_VPD_LO,
)
from celm.mathfn import f32, ramp32


@register_jitable(inline="always")
def daily_gsi(tasmin_c, daylength_h, vpd_day, water_stress):
    """The day's (unsmoothed) GSI in [0, 1], float32."""
    return (
        ramp32(tasmin_c, GSI_TMIN_LO, GSI_TMIN_HI)
        * ramp32(daylength_h, GSI_PHOTO_LO, GSI_PHOTO_HI)
        * (f32(1.0) - ramp32(vpd_day, GSI_VPD_LO, GSI_VPD_HI))
        * water_stress
    )


@register_jitable(inline="always")
def relax_gsi(gsi_prev, raw):
    """The running-mean GSI after one day: relaxation towards ``raw`` (float64, a state)."""
    return gsi_prev + (raw - gsi_prev) * (1.0 / GSI_DAYS)


def day_length(lat_deg: np.ndarray, day_of_year: np.ndarray) -> np.ndarray:
    """Hours of daylight, shape (len(day_of_year), len(lat_deg)).

    Solar declination from Cooper (1969), sunset hour angle from cos(w) = -tan(lat) tan(decl),
    clipped for polar day and night. ``day_of_year`` is 1-based in a 365-day year.
    """
    doy = np.asarray(day_of_year, dtype=np.float64)[:, None]
    lat = np.deg2rad(np.asarray(lat_deg, dtype=np.float64))[None, :]
    decl = np.deg2rad(23.45) * np.sin(2.0 * np.pi * (284.0 + doy) / 365.0)
    cos_w = np.clip(-np.tan(lat) * np.tan(decl), -1.0, 1.0)
    return 24.0 / np.pi * np.arccos(cos_w)
