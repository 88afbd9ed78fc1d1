"""What each simulation varies, the spin-up levels, and which transients are shared."""

from pathlib import Path

import pytest

from callmip.config import Campaign
from callmip.drivers.celm import CelmDriver
from callmip.simulations import DRIVERS_OF_CHANGE, SIMULATIONS
from flows.runs.matrix import (
    historical_years,
    level_year,
    members,
    spinup_years,
    transient_runs,
)
from forcing.co2 import read_trendy_co2

REPO = Path(__file__).resolve().parents[2]
CO2 = read_trendy_co2()


def _campaign(transient_start=1701, simulations=tuple(SIMULATIONS), **over) -> Campaign:
    return Campaign.model_validate({
        "name": "s", "resolution": 2,
        "periods": {"spinup_cycle": [1901, 1920], "transient_start": transient_start,
                    "historical": [1901, 2014]},
        "models": [{"name": "CELM-A"}], "experiments": ["prior"],
        "simulations": list(simulations), **over,
    })


def test_spinup_holds_the_year_before_the_transient_from_the_same_file():
    trendy = _campaign(1701)
    assert level_year(trendy) == 1700
    years = spinup_years(trendy, CO2)
    assert [y.forcing_year for y in years] == list(range(1901, 1921))
    assert {y.co2_ppm for y in years} == {CO2[1700]} == {277.57}
    assert {(y.landuse_year, y.ndep_year) for y in years} == {(1700, 1700)}
    callmip = _campaign(1851, periods={"spinup_cycle": [1901, 1920], "transient_start": 1851,
                                       "historical": [1901, 2014]})
    assert {y.co2_ppm for y in spinup_years(callmip, CO2)} == {CO2[1850]} == {287.43}
    site = _campaign(1851, periods={"spinup_cycle": [1901, 1920], "transient_start": 1851,
                                    "historical": [1901, 2014]},
                     spinup={"forcing_levels": "callmip_site"})
    assert {y.co2_ppm for y in spinup_years(site, CO2)} == {287.42}  # protocol section 8


@pytest.mark.parametrize("name", list(SIMULATIONS))
def test_each_simulation_varies_exactly_its_drivers_and_holds_the_rest(name):
    c = _campaign()
    spec = SIMULATIONS[name]
    years = historical_years(c, name, CO2)
    assert [y.year for y in years] == list(range(1901, 2015))
    held = {"climate": {y.forcing_year for y in years} <= set(range(1901, 1921)),
            "CO2": {y.co2_ppm for y in years} == {CO2[1700]},
            "LUC": {y.landuse_year for y in years} == {1700},
            "Ndep": {y.ndep_year for y in years} == {1700}}
    varies = {"climate": [y.forcing_year for y in years] == [y.year for y in years],
              "CO2": [y.co2_ppm for y in years] == [CO2[y.year] for y in years],
              "LUC": [y.landuse_year for y in years] == [y.year for y in years],
              "Ndep": [y.ndep_year for y in years] == [y.year for y in years]}
    for driver in DRIVERS_OF_CHANGE:
        assert (varies if driver in spec.varying else held)[driver], (name, driver)


def test_trendy_s3_and_s2_differ_only_in_land_use():
    c = _campaign()
    s2, s3 = (historical_years(c, n, CO2) for n in ("S2", "S3"))
    for a, b in zip(s2, s3, strict=True):
        assert (a.forcing_year, a.co2_ppm, a.ndep_year) == (b.forcing_year, b.co2_ppm, b.ndep_year)
        assert a.landuse_year == 1700 and b.landuse_year == b.year


def test_transients_are_shared_by_what_the_model_responds_to():
    c = _campaign(simulations=["S0", "S1", "S2", "S3", "CO2only", "CO2LUC"])
    member = members(c, Path("/tmp/p"))[0]
    celm = frozenset(CelmDriver.capabilities.drivers_of_change)
    assert "Ndep" not in celm  # no N cycle
    plans = {p.signature: p.simulations for p in transient_runs(c, member, CO2, celm)}
    # S1, S2 and CO2only vary only CO2 before the historical climate for a model without N
    assert plans == {(): ("S0",), ("CO2",): ("S1", "S2", "CO2only"),
                     ("CO2", "LUC"): ("S3", "CO2LUC")}
    every = frozenset(DRIVERS_OF_CHANGE)
    plans = {p.signature: p.simulations for p in transient_runs(c, member, CO2, every)}
    assert plans[("CO2", "Ndep")] == ("S1", "S2") and plans[("CO2",)] == ("CO2only",)
    t = next(p for p in transient_runs(c, member, CO2, every) if p.signature == ())
    assert t.run_id.endswith("_transient_fixed") and {y.co2_ppm for y in t.years} == {277.57}
