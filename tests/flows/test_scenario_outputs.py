"""SSP runs' CalLMIP files: annual over the whole 2015-2100, monthly over the last 20 years.

The real embedded model runs 2015-2100 as the scenario matrix plans it (SSP1-2.6 CO2), on a
2-degree grid (land cells of Europe only) whose weather recycles three synthetic years (the climate is not what is tested
here); its native output is conformed by the campaign's rules and checked.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
from pathlib import Path

import netCDF4
import pytest

from callmip.config import Campaign
from callmip.conform import check_file, conform_run
from callmip.drivers import ModelRun, get_driver
from flows.pipeline import global_attrs, output_years
from flows.runs.matrix import members, scenario_runs
from forcing.co2 import ssp_co2

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
REPO = Path(__file__).resolve().parents[2]


def _climate():
    spec = importlib.util.spec_from_file_location("celm_test_climate",
                                                  REPO / "tests" / "celm" / "climate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _campaign(**periods) -> Campaign:
    return Campaign.model_validate({
        "name": "ssp", "resolution": 2,
        "periods": {"spinup_cycle": [2015, 2017], "transient_start": 2005,
                    "historical": [2010, 2014], **periods},
        "models": [{"name": "CELM-A"}], "experiments": ["prior"],
        "scenarios": ["ssp126"], "scenario_gcms": ["gfdl-esm4"],
        "protocol": {"contact": "ssp@example.org", "institution": "Example"},
    })


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ssp")
    climate = _climate()
    full = climate.make_grid(2.0)
    box = ((full.lat[:, None] > 30) & (full.lat[:, None] < 60) & (full.lon[None] > -10)
           & (full.lon[None] < 40))  # Europe only: ~200 land cells keep the test lean
    grid = climate.Grid(full.lat, full.lon, full.landfrac * box)
    met = climate.write_forcing(tmp / "met", grid, [2015, 2016, 2017])
    campaign = _campaign()
    member = members(campaign, tmp)[0]
    driver = get_driver("celm")
    driver.write_prior(member.params_file)
    plan = scenario_runs(campaign, member, {"ssp126": ssp_co2("ssp126")})[0]
    years = tuple(dataclasses.replace(y, forcing_year=2015 + (y.year - 2015) % 3,
                                      landuse_year=None, ndep_year=None) for y in plan.years)
    run = ModelRun(plan.run_id, member.params_file, met, years, tmp / "run")
    done = subprocess.run(driver.prepare(run), capture_output=True, text=True, timeout=1100)
    assert done.returncode == 0, done.stderr[-3000:]
    return campaign, member, plan, driver, run, tmp


@pytest.mark.parametrize(("periods", "annual", "monthly"), [
    ({}, (2015, 2100), (2081, 2100)),
    ({"scenario_annual_last_years": 30, "scenario_monthly_last_years": 5},
     (2071, 2100), (2096, 2100)),
])
def test_scenario_files_cover_the_configured_years(scenario_run, periods, annual, monthly):
    campaign, member, plan, driver, run, tmp = scenario_run
    campaign = _campaign(**periods)
    assert [y.year for y in plan.years] == list(range(2015, 2101))
    out = tmp / f"callmip_{annual[0]}" / plan.simulation
    for freq, (y0, y1) in (("annual", annual), ("monthly", monthly)):
        path = conform_run(driver, driver.output_files(run, freq), out,
                           global_attrs(campaign, member, plan.simulation, plan.run_id),
                           campaign.resolution, freq, output_years(campaign, plan.simulation,
                                                                   freq))
        assert path.name == f"CELM-A.v1_global_2deg_{freq}_{y0}-{y1}_Prior.nc"
        report = check_file(path)
        assert report.ok, report.render()
        with netCDF4.Dataset(path) as ds:
            n = ds.dimensions["time"].size
            assert n == (y1 - y0 + 1) * (12 if freq == "monthly" else 1)
            assert ds.simulation == "ssp126_gfdl-esm4" and "SSP126" in ds.simulation_description
            assert ds.contact == "ssp@example.org"
