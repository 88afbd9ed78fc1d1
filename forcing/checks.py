"""Value checks on forcing data: land/ocean consistency, NaN over land, physical bounds,
humidity below saturation.

Contract: each function inspects numpy arrays and either returns quietly or raises
:class:`~forcing.errors.ForcingError` for the *first* offending value, naming the file,
the variable, the value and where it is (time stamp, step index, latitude, longitude). The
arrays are blocks in time of a file, so a :class:`Locator` turns (step, cell) indices back into
coordinates.

Why fail on the first value rather than collecting all: a broken file usually breaks
everywhere, and stopping early keeps the streaming reader's memory and time bounded; the
message gives enough to find and inspect the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forcing.conventions import SUPERSATURATION_TOLERANCE, SourceVariable
from forcing.errors import ForcingError
from forcing.weather import saturation_specific_humidity


@dataclass(frozen=True)
class Locator:
    """Maps (step, flat cell index) of a block to a readable place."""

    file: str
    variable: str
    lat: np.ndarray
    lon: np.ndarray
    times: Sequence[object]

    def where(self, step: int, cell: int) -> str:
        i, j = divmod(int(cell), self.lon.size)
        stamp = self.times[step] if step < len(self.times) else "?"
        return f"time {stamp} (step {step}), lat {self.lat[i]:.3f}, lon {self.lon[j]:.3f}"

    def error(
        self, problem: str, value: object = None, step: int = 0, cell: int = 0
    ) -> ForcingError:
        return ForcingError(
            self.file, self.variable, problem, value=value, where=self.where(step, cell)
        )


def check_land_block(
    raw: np.ndarray,
    fill_values: np.ndarray,
    land_index: np.ndarray,
    n_ocean: int,
    t0: int,
    loc: Locator,
    spec: SourceVariable,
) -> np.ndarray:
    """Check one block against the land mask and the bounds; return the land values, shape
    (steps, land).

    ``raw`` is (steps, cells) as stored, ``fill_values`` the file's fill values (float32). Land
    cells (from the file's first step) must hold a finite value within the variable's physical
    bounds at every step; every other cell must stay filled, so the land-sea mask cannot change
    within a file.

    Speed: this runs on every value of the input, next to decompression, so the common case is
    three passes: the land values' minimum and maximum (NaN and fill values, which lie far
    outside every variable's bounds, show there too) and one count of fill values in the block
    (it equals steps x ocean cells exactly when no land cell is filled and no ocean cell holds
    data). Only a failing block is searched for the first offending value.
    """
    vals = raw[:, land_index]
    if vals.size:
        lo, hi = vals.min(), vals.max()
        if not (spec.valid_min <= lo and hi <= spec.valid_max):  # NaN fails both
            _explain_land(vals, fill_values, land_index, t0, loc, spec)
    n_fill = sum(int(np.count_nonzero(raw == fv)) for fv in fill_values)
    if n_fill != raw.shape[0] * n_ocean:
        invalid = np.isin(raw, fill_values)
        ocean = np.ones(raw.shape[1], dtype=bool)
        ocean[land_index] = False
        appear = ~invalid & ocean[None, :]
        s, c = np.argwhere(appear)[0]
        what = "NaN" if np.isnan(raw[s, c]) else "a value"
        raise loc.error(
            f"{what} in a cell that is ocean (fill) in the first step: land-sea mask changes",
            float(raw[s, c]),
            t0 + s,
            c,
        )
    return vals


def _explain_land(
    vals: np.ndarray,
    fill_values: np.ndarray,
    land_index: np.ndarray,
    t0: int,
    loc: Locator,
    spec: SourceVariable,
) -> None:
    """Raise for the first NaN, then fill value, then out-of-bounds value over land."""
    bad_nan = np.isnan(vals)
    if bad_nan.any():
        s, k = np.argwhere(bad_nan)[0]
        raise loc.error("NaN over land", float("nan"), t0 + s, land_index[k])
    land_fill = np.isin(vals, fill_values)
    if land_fill.any():
        s, k = np.argwhere(land_fill)[0]
        raise loc.error(
            "missing value (fill) over a land cell that has data in the first step",
            float(vals[s, k]),
            t0 + s,
            land_index[k],
        )
    check_bounds(vals, spec, land_index, t0, loc)


def check_bounds(
    vals: np.ndarray, spec: SourceVariable, land_index: np.ndarray, t0: int, loc: Locator
) -> None:
    """Values on land must lie within the variable's physical bounds (units as stored)."""
    if vals.size == 0:
        return
    lo, hi = float(vals.min()), float(vals.max())
    if lo < spec.valid_min:
        s, k = np.unravel_index(int(np.argmin(vals)), vals.shape)
        raise loc.error(
            f"below the physical minimum {spec.valid_min:g} {spec.units}"
            + (" (negative)" if spec.valid_min == 0.0 else "")
            + " - wrong units or a corrupted file?",
            lo,
            t0 + s,
            land_index[k],
        )
    if hi > spec.valid_max:
        s, k = np.unravel_index(int(np.argmax(vals)), vals.shape)
        raise loc.error(
            f"above the physical maximum {spec.valid_max:g} {spec.units}"
            " - wrong units or a corrupted file?",
            hi,
            t0 + s,
            land_index[k],
        )


def check_below_saturation(
    spfh: np.ndarray,
    tmax: np.ndarray,
    pres: np.ndarray,
    land_index: np.ndarray,
    t0: int,
    loc: Locator,
) -> None:
    """Specific humidity may not exceed saturation at the step's maximum temperature.

    Saturation uses Bolton's (1980) vapour pressure over water; a tolerance of
    ``SUPERSATURATION_TOLERANCE`` allows fog and reanalysis rounding.
    """
    qsat = saturation_specific_humidity(tmax.astype(np.float64), pres.astype(np.float64))
    ratio = spfh / qsat
    worst = int(np.argmax(ratio))
    s, k = np.unravel_index(worst, ratio.shape)
    if ratio[s, k] > SUPERSATURATION_TOLERANCE:
        raise loc.error(
            f"specific humidity above saturation ({ratio[s, k]:.2f} x saturation at "
            f"tmax {tmax[s, k]:.1f} K and pres {pres[s, k]:.0f} Pa)",
            float(spfh[s, k]),
            t0 + s,
            land_index[k],
        )
