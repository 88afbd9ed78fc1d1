"""The experiment matrix: segments, scenario runs per SSP x GCM, and where they branch from."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callmip.config import Campaign
from callmip.drivers.base import YearSpec
from flows.runs.matrix import (
    historical_runs,
    members,
    scenario_branch_year,
    scenario_runs,
    segments,
)
from forcing.co2 import ssp_co2

REPO = Path(__file__).resolve().parents[2]


def _campaign(**over) -> Campaign:
    raw = {
        "name": "m",
        "resolution": 2,
        "periods": {"spinup_cycle": [1901, 1902], "transient_start": 1990,
                    "historical": [2010, 2014]},
        "models": [{"name": "CELM-A",
                    "posterior": str(REPO / "configs/params/CELM-A_posterior.json")}],
        "scenarios": ["ssp126", "ssp585"],
        "scenario_gcms": ["gfdl-esm4", "ukesm1-0-ll"],
        **over,
    }
    return Campaign.model_validate(raw)


@given(n=st.integers(1, 40), size=st.integers(1, 12),
       breaks=st.lists(st.integers(2000, 2045), max_size=4))
def test_segments_cover_years_in_order_and_end_at_breaks(n, size, breaks):
    years = tuple(YearSpec(2000 + i, 2000 + i, 300.0) for i in range(n))
    segs = segments(years, size, tuple(breaks))
    assert tuple(y for s in segs for y in s) == years
    assert all(0 < len(s) <= size for s in segs)
    ends = {s[-1].year for s in segs}
    assert {b for b in breaks if 2000 <= b < 2000 + n} <= ends


def test_scenario_matrix_is_ssp_by_gcm_from_2015_with_ssp_co2():
    c = _campaign(periods={"spinup_cycle": [1901, 1902], "transient_start": 1990,
                           "historical": [2010, 2020], "scenario_end": 2100})
    member = members(c, Path("/tmp/params"))[1]  # posterior
    co2 = {s: ssp_co2(s) for s in c.scenarios}
    plans = scenario_runs(c, member, co2)
    assert [p.run_id for p in plans] == [
        f"{member.label}_{s}_{g}" for s in ("ssp126", "ssp585") for g in ("gfdl-esm4", "ukesm1-0-ll")
    ]
    for p in plans:
        assert [y.year for y in p.years] == list(range(2015, 2101))
        assert all(y.forcing_year == y.year for y in p.years)
        assert p.ensemble_member is None and p.scenario is not None
    by_ssp = {p.scenario[0]: p for p in plans}
    # SSP5-8.5 ends far above SSP1-2.6 (about 1135 vs 446 ppm in 2100)
    assert by_ssp["ssp585"].years[-1].co2_ppm > 1000 > 500 > by_ssp["ssp126"].years[-1].co2_ppm
    assert 390 < by_ssp["ssp126"].years[0].co2_ppm < 410  # 2015
    assert scenario_branch_year(c) == 2014


def test_ensemble_members_run_historical_but_not_scenarios():
    c = _campaign(models=[{"name": "CELM-A", "ensemble_members": 3,
                           "posterior": str(REPO / "configs/params/CELM-A_posterior.json")}])
    post = members(c, Path("/tmp/params"))[1]
    hist = historical_runs(c, post, {y: 390.0 for y in range(1700, 2025)})
    assert [p.ensemble_member for p in hist] == [None, 0, 1, 2]
    scen = scenario_runs(c, post, {s: ssp_co2(s) for s in c.scenarios})
    assert all(p.ensemble_member is None for p in scen)


def test_no_scenarios_no_branch():
    assert scenario_branch_year(_campaign(scenarios=[])) is None


@pytest.mark.parametrize(("over", "message"), [
    ({"simulations": ["CO2only"]}, "add 'S3' to simulations"),
    ({"periods": {"spinup_cycle": [1901, 1902], "transient_start": 1990,
                  "historical": [2000, 2010]}}, "must include 2014"),
    ({"scenario_gcms": ["hadgem"]}, "gfdl-esm4"),
    ({"periods": {"spinup_cycle": [1901, 1902], "transient_start": 1990,
                  "historical": [2010, 2014], "scenario_end": 2101}}, "2100"),
])
def test_scenario_config_errors_name_the_problem(over, message):
    with pytest.raises(ValueError, match=message):
        _campaign(**over)


def test_full_size_hpc_campaign_file_expands_to_the_protocol_matrix():
    from callmip.config import load_campaign
    from flows.runs.matrix import transient_years

    c = load_campaign(REPO / "configs/callmip-hpc.yaml")
    co2 = {y: 300.0 for y in range(1700, 2025)}
    post = members(c, Path("/tmp/p"))[1]
    hist = historical_runs(c, post, co2)
    assert len(hist) == 2 * 21  # S3 + CO2only, central + 20 ensemble members
    assert len(scenario_runs(c, post, {s: ssp_co2(s) for s in c.scenarios})) == 15
    assert [y.year for y in transient_years(c, co2)][:: 199] == [1701, 1900]
