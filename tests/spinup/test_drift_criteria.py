"""Spin-up criteria on constructed drifting and equilibrated outputs, and the stop rule."""

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from callmip.config import SpinupCriteria
from flows.spinup.diagnostics import (
    cell_area,
    cycle_passes,
    cycle_state,
    evaluate,
    failed_criteria,
    should_stop,
)

LAT = np.arange(-89.0, 90.0, 2.0)
LON = np.arange(-179.0, 180.0, 2.0)
LANDFRAC = xr.DataArray(np.where(np.abs(LAT)[:, None] < 60, 1.0, 0.0) * np.ones(LON.size),
                        dims=("lat", "lon"))


def annual(n_years: int, ctotal_kg_m2: float, trend_kg_m2_yr: float = 0.0) -> xr.Dataset:
    t = np.arange(n_years)
    c = ctotal_kg_m2 + trend_kg_m2_yr * t
    field = np.broadcast_to(c[:, None, None], (n_years, LAT.size, LON.size)).copy()
    def da(x):
        return (("time", "lat", "lon"), x)
    return xr.Dataset(
        {"cTotal": da(field), "cSoil": da(0.7 * field), "cVeg": da(0.3 * field),
         "gpp": da(np.full_like(field, 3e-8)), "mrso": da(np.full_like(field, 300.0))},
        coords={"time": t, "lat": LAT, "lon": LON},
    )


def test_cell_area_sums_to_sphere():
    area = cell_area(LAT, LON)
    assert area.sum() == pytest.approx(4 * np.pi * 6_371_000.0**2, rel=1e-12)


def test_equilibrated_cycles_pass_and_drifting_fail():
    crit = SpinupCriteria()
    s0 = cycle_state(0, annual(20, 10.0), LANDFRAC)
    s1 = cycle_state(1, annual(20, 10.0), LANDFRAC)
    table = evaluate(s1, s0, crit)
    assert cycle_passes(table), table
    # first cycle never passes: no predecessor
    assert not cycle_passes(evaluate(s0, None, crit))
    # 0.01 kg m-2 per year everywhere -> 10 gC m-2 yr-1: fails the area and global tests
    s2 = cycle_state(2, annual(20, 10.2), LANDFRAC)
    bad = evaluate(s2, s1, crit)
    assert not cycle_passes(bad)
    msgs = "\n".join(failed_criteria(bad))
    assert "CTSM area" in msgs and "cTotal CTSM global drift" in msgs


def test_global_drift_value_is_exact():
    land_area = (cell_area(LAT, LON) * LANDFRAC.values).sum()
    s0 = cycle_state(0, annual(10, 10.0), LANDFRAC)
    s1 = cycle_state(1, annual(10, 10.001), LANDFRAC)  # +0.001 kg m-2 over a 10-year cycle
    table = evaluate(s1, s0, SpinupCriteria())
    row = table[(table.variable == "cTotal") & (table.criterion == "CTSM global drift")].iloc[0]
    assert row.drift_per_year == pytest.approx(0.001 * land_area * 1e-12 / 10, rel=1e-6)
    c4 = table[table.criterion == "C4MIP drift per century"].iloc[0]
    assert c4.drift_per_year == pytest.approx(row.drift_per_year * 100, rel=1e-12)


@given(st.floats(0.0, 0.5), st.floats(0.01, 0.1))
@settings(max_examples=30, deadline=None)
def test_area_fraction_matches_construction(frac_drifting, threshold):
    """Make a known fraction of land area drift by 5 gC m-2 yr-1; the test must measure it."""
    area = cell_area(LAT, LON) * LANDFRAC.values
    order = np.argsort(area, axis=None)
    cum = np.cumsum(area.ravel()[order]) / area.sum()
    drifting = np.zeros(area.size, bool)
    drifting[order[cum <= frac_drifting]] = True
    drifting = drifting.reshape(area.shape)
    a0, a1 = annual(1, 10.0), annual(1, 10.0)
    a1["cTotal"] = a1["cTotal"] + xr.where(drifting, 0.005, 0.0)
    crit = SpinupCriteria(ctsm_area_fraction=threshold)
    table = evaluate(cycle_state(1, a1, LANDFRAC), cycle_state(0, a0, LANDFRAC), crit)
    row = table[table.criterion.str.startswith("CTSM area")].iloc[0]
    expected = area[drifting].sum() / area.sum()
    assert row.drift_per_year == pytest.approx(expected, abs=1e-12)
    assert row.passed == (expected < threshold)


def test_stop_rule():
    assert not should_stop([], 2)
    assert not should_stop([True], 2)
    assert not should_stop([True, False], 2)
    assert should_stop([False, True, True], 2)
    assert should_stop([True], 1)


def test_criteria_can_be_switched_off():
    crit = SpinupCriteria(ctsm_global_c_pgc_per_yr=None, ctsm_water_m_per_yr=None,
                          ctsm_area_fraction=None, c4mip_pgc_per_century=1000.0)
    s0 = cycle_state(0, annual(10, 10.0), LANDFRAC)
    s1 = cycle_state(1, annual(10, 10.2), LANDFRAC)
    table = evaluate(s1, s0, crit)
    assert set(table[table.gates].criterion) == {"C4MIP drift per century"}
