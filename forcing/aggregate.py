"""Time aggregation and unit conversion from CRU-JRA 6-hourly land values to model variables.

Contract: pure numpy on land-vector blocks, shape (steps, land cells), with whole days per
block (a multiple of 4 steps). :func:`model_values` turns the source blocks a model variable
needs into that variable in model units, either daily (mean, or max of tmax, or min of tmin)
or kept 6-hourly; the result is float32.

Means add the four 6-hourly slices pairwise in float32, ((a + b) + (c + d)) / 4: relative
error below 2e-7, far inside the 1e-5 the benchmark demands against CDO (which works in double),
and ten times faster than a float64 reduction over a strided axis. Wind speed is the mean of
the 6-hourly speeds (sqrt(u^2 + v^2) first), which is what the models' own preprocessing does;
the speed of the mean wind would be biased low.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from forcing.conventions import MODEL_VARIABLES, STEPS_PER_DAY

Step = Literal["daily", "6h"]


def daily_reduce(values: np.ndarray, how: str) -> np.ndarray:
    """(steps, n) -> (days, n) by mean, max or min over each day's 4 steps."""
    nt, n = values.shape
    if nt % STEPS_PER_DAY:
        raise ValueError(f"{nt} steps is not a whole number of days")
    days = values.reshape(nt // STEPS_PER_DAY, STEPS_PER_DAY, n)
    if how == "mean":
        v = days.astype(np.float32, copy=False)
        out = v[:, 0] + v[:, 1]
        out += v[:, 2] + v[:, 3]
        out *= np.float32(1.0 / STEPS_PER_DAY)
        return out
    if how == "max":
        return days.max(axis=1)
    if how == "min":
        return days.min(axis=1)
    raise ValueError(f"unknown reduction {how!r}")


def wind_speed(ugrd: np.ndarray, vgrd: np.ndarray) -> np.ndarray:
    """6-hourly wind speed from its components (float32)."""
    return np.sqrt(ugrd.astype(np.float32) ** 2 + vgrd.astype(np.float32) ** 2)


def model_values(name: str, sources: dict[str, np.ndarray], step: Step = "daily") -> np.ndarray:
    """Model variable ``name`` (model units) from its CRU-JRA source blocks.

    ``sources`` maps each CRU-JRA variable in ``MODEL_VARIABLES[name].sources`` to its
    (steps, n) block in CRU-JRA units.
    """
    spec = MODEL_VARIABLES[name]
    if name == "sfcWind":
        six_hourly = wind_speed(sources["ugrd"], sources["vgrd"])
    else:
        six_hourly = sources[spec.sources[0]]
    if step == "daily":
        out = daily_reduce(six_hourly, spec.reduce)
    elif step == "6h":
        out = six_hourly.astype(np.float32, copy=True)
    else:
        raise ValueError(f"unknown model step {step!r} (use 'daily' or '6h')")
    if spec.scale != 1.0:
        out *= np.float32(spec.scale)
    return out
