"""Unit handling for the benchmark stage: one table, constants defined once.

Contract: :func:`convert` turns values between units of the same *dimension* (energy flux,
water flux, carbon flux, mass, temperature, ...) by a linear factor (plus an offset for
temperatures). Units that depend on the length of the averaging period (``mm month-1``) need
``days_in_period`` (one value per time step, broadcast along axis 0). Converting between an
energy flux and a water flux is *not* a unit conversion and is done explicitly with
:data:`LATENT_HEAT_VAPORISATION` by :func:`latent_heat_to_evaporation`, so the choice of
latent heat is visible and made once.

Unit strings are parsed leniently (``watt/m2``, ``W/m2``, ``W m-2``, ``gC/m2/d``,
``mm.month-1``) because reference products spell them in many ways; an unknown spelling raises
:class:`~benchmarks.errors.UnitError` naming the string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from benchmarks.errors import UnitError
from callmip.constants import SECONDS_PER_DAY, SECONDS_PER_YEAR

#: Latent heat of vaporisation of water at 0 degC [J kg-1]; CLM's ``hvap``, also used by
#: JULES and ORCHIDEE. FLUXCOM LE and GLEAM E differ by more than the 2% spread between
#: 0 and 30 degC values, so a fixed constant is adequate for benchmarking.
LATENT_HEAT_VAPORISATION = 2.501e6
#: 1 mm of liquid water over 1 m2 weighs 1 kg (density 1000 kg m-3, as ESMValCore).
WATER_DENSITY = 1000.0


@dataclass(frozen=True)
class _Unit:
    """A canonical unit: its dimension and how to reach the dimension's base unit."""

    canonical: str
    dimension: str
    factor: float  # multiply by this to reach the base unit
    offset: float = 0.0  # added after the factor (temperatures)
    per_month: bool = False  # factor is per day of the averaging period


_TABLE: tuple[_Unit, ...] = (
    _Unit("W m-2", "energy_flux", 1.0),
    _Unit("MJ m-2 d-1", "energy_flux", 1e6 / SECONDS_PER_DAY),
    _Unit("kg m-2 s-1", "water_flux", 1.0),
    _Unit("mm s-1", "water_flux", 1.0),
    _Unit("mm d-1", "water_flux", 1.0 / SECONDS_PER_DAY),
    _Unit("kg m-2 d-1", "water_flux", 1.0 / SECONDS_PER_DAY),
    _Unit("mm month-1", "water_flux", 1.0 / SECONDS_PER_DAY, per_month=True),
    _Unit("kgC m-2 s-1", "carbon_flux", 1.0),
    _Unit("gC m-2 s-1", "carbon_flux", 1e-3),
    _Unit("gC m-2 d-1", "carbon_flux", 1e-3 / SECONDS_PER_DAY),
    _Unit("kgC m-2 d-1", "carbon_flux", 1.0 / SECONDS_PER_DAY),
    _Unit("kgC m-2 yr-1", "carbon_flux", 1.0 / SECONDS_PER_YEAR),
    _Unit("K", "temperature", 1.0),
    _Unit("degC", "temperature", 1.0, offset=273.15),
    _Unit("kg m-2", "areal_mass", 1.0),
    _Unit("g m-2", "areal_mass", 1e-3),
    _Unit("mm", "areal_mass", 1.0),
    _Unit("kgC m-2", "areal_carbon", 1.0),
    _Unit("gC m-2", "areal_carbon", 1e-3),
    _Unit("1", "dimensionless", 1.0),
    _Unit("%", "dimensionless", 0.01),
)

_NAME_ALIASES = {
    "watt": "W",
    "watts": "W",
    "w": "W",
    "day": "d",
    "days": "d",
    "sec": "s",
    "second": "s",
    "seconds": "s",
    "mon": "month",
    "months": "month",
    "year": "yr",
    "years": "yr",
    "a": "yr",
    "kelvin": "K",
    "k": "K",
    "celsius": "degC",
    "degc": "degC",
    "deg_c": "degC",
    "mj": "MJ",
    "kgc": "kgC",
    "gc": "gC",
    "percent": "%",
}

_TOKEN = re.compile(r"^([A-Za-z_%]+)\^?(-?\d+)?$")


def _parse(units: str) -> tuple[tuple[str, int], ...]:
    """Parse a unit string into sorted (name, exponent) pairs; raise UnitError if unparseable."""
    text = units.strip()
    if text in ("", "1", "-", "dimensionless", "fraction"):
        return ()
    powers: dict[str, int] = {}
    # '/' inverts every token after it ('gC/m2/d' -> gC m-2 d-1).
    for part_index, part in enumerate(text.replace("**", "^").split("/")):
        sign = 1 if part_index == 0 else -1
        for raw in re.split(r"[\s.*]+", part.strip()):
            if not raw:
                continue
            match = _TOKEN.match(raw)
            if match is None:
                # 'm2' style: letters followed by a bare exponent
                match = re.match(r"^([A-Za-z_]+?)(-?\d+)$", raw)
            if match is None:
                raise UnitError(f"cannot parse unit {units!r} (token {raw!r})")
            name, exp = match.group(1), int(match.group(2) or 1)
            name = _NAME_ALIASES.get(name, _NAME_ALIASES.get(name.lower(), name))
            powers[name] = powers.get(name, 0) + sign * exp
    return tuple(sorted((k, v) for k, v in powers.items() if v != 0))


_BY_KEY: dict[tuple[tuple[str, int], ...], _Unit] = {_parse(u.canonical): u for u in _TABLE}


def lookup(units: str) -> _Unit:
    """Return the canonical unit of a (leniently spelled) unit string."""
    try:
        return _BY_KEY[_parse(units)]
    except KeyError:
        known = ", ".join(u.canonical for u in _TABLE)
        raise UnitError(f"unknown unit {units!r}; known units: {known}") from None


def canonical(units: str) -> str:
    """Canonical spelling of ``units`` (e.g. ``'watt/m2'`` -> ``'W m-2'``)."""
    return lookup(units).canonical


def convertible(src: str, dst: str) -> bool:
    """True when ``src`` and ``dst`` measure the same dimension."""
    try:
        return lookup(src).dimension == lookup(dst).dimension
    except UnitError:
        return False


def needs_period_length(units: str) -> bool:
    """True for units per averaging period (``mm month-1``) that need the period's length."""
    return lookup(units).per_month


def convert(
    values: np.ndarray | float,
    src: str,
    dst: str,
    *,
    days_in_period: np.ndarray | None = None,
) -> np.ndarray:
    """Convert ``values`` from ``src`` to ``dst`` units (a new array unless they are equal).

    ``days_in_period`` gives the length in days of each time step (axis 0 of ``values``); it is
    required when either unit is per month, because 30 mm in February is a larger flux than
    30 mm in March.
    """
    a, b = lookup(src), lookup(dst)
    if a.dimension != b.dimension:
        raise UnitError(f"cannot convert {src!r} ({a.dimension}) to {dst!r} ({b.dimension})")
    out = np.asarray(values, dtype=np.float64)
    if a == b:
        return out  # no copy: a 20-year 0.5-degree field is half a gigabyte
    period: np.ndarray | None = None
    if a.per_month or b.per_month:
        if days_in_period is None:
            raise UnitError(f"converting {src!r} to {dst!r} needs the length of each period")
        period = np.asarray(days_in_period, dtype=np.float64).reshape((-1,) + (1,) * (out.ndim - 1))
    base = out * a.factor + a.offset
    if a.per_month:
        base = base / period
    result = (base - b.offset) / b.factor
    if b.per_month:
        result = result * period
    return result


def latent_heat_to_evaporation(hfls_w_m2: np.ndarray) -> np.ndarray:
    """Evapotranspiration [kg m-2 s-1] equivalent to a latent heat flux [W m-2]."""
    return np.asarray(hfls_w_m2, dtype=np.float64) / LATENT_HEAT_VAPORISATION
