"""Unit conversions: known factors, lenient parsing, per-month units, and round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import units
from benchmarks.errors import UnitError


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("watt/m2", "W m-2"),
        ("W/m2", "W m-2"),
        ("W m-2", "W m-2"),
        ("gC/m2/d", "gC m-2 d-1"),
        ("mm.month-1", "mm month-1"),
        ("mm/day", "mm d-1"),
        ("kgC m-2 s-1", "kgC m-2 s-1"),
        ("m2 m-2", "1"),
        ("MJ m-2 d-1", "MJ m-2 d-1"),
    ],
)
def test_spellings_parse_to_canonical(spelling: str, canonical: str) -> None:
    assert units.canonical(spelling) == canonical


def test_known_factors() -> None:
    assert units.convert(1.0, "kgC m-2 s-1", "gC m-2 d-1") == pytest.approx(86_400_000.0)
    assert units.convert(1.0, "MJ m-2 d-1", "W m-2") == pytest.approx(1e6 / 86_400)
    assert units.convert(1.0, "mm d-1", "kg m-2 s-1") == pytest.approx(1 / 86_400)
    assert units.convert(0.0, "degC", "K") == pytest.approx(273.15)
    # latent heat of vaporisation is defined once and used for the energy -> water step
    assert units.latent_heat_to_evaporation(np.array([units.LATENT_HEAT_VAPORISATION])) == 1.0


def test_per_month_units_use_the_length_of_each_month() -> None:
    # 29 mm in February 2004 (29 days) and 31 mm in January are both 1 mm/day
    out = units.convert(
        np.array([31.0, 29.0]), "mm month-1", "mm d-1", days_in_period=np.array([31, 29])
    )
    np.testing.assert_allclose(out, [1.0, 1.0])
    with pytest.raises(UnitError, match="length of each period"):
        units.convert(np.array([1.0]), "mm month-1", "mm d-1")


def test_incompatible_and_unknown_units_raise_with_names() -> None:
    with pytest.raises(UnitError, match=r"'W m-2'.*'kg m-2 s-1'"):
        units.convert(1.0, "W m-2", "kg m-2 s-1")
    with pytest.raises(UnitError, match="furlong"):
        units.canonical("furlong fortnight-1")


PAIRS = [
    ("W m-2", "MJ m-2 d-1"),
    ("kg m-2 s-1", "mm d-1"),
    ("kgC m-2 s-1", "gC m-2 d-1"),
    ("K", "degC"),
    ("kgC m-2", "gC m-2"),
]


@settings(deadline=None)
@given(
    value=st.floats(-1e6, 1e6, allow_nan=False),
    pair=st.sampled_from(PAIRS),
)
def test_round_trip_is_identity(value: float, pair: tuple[str, str]) -> None:
    a, b = pair
    back = units.convert(units.convert(value, a, b), b, a)
    assert back == pytest.approx(value, rel=1e-12, abs=1e-9)
