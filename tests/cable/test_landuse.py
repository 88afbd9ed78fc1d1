"""Land use reaching the real CABLE-POP (POPLUC), through the orchestrator's run executor.

One module-scoped chain on a dozen cells over Europe in 2 land chunks, on the prepared land use
of a synthetic LUH2 record: a cold spin-up with CABLE's analytic step at the 1850 land use
(``static``: tiles fixed), then from it S2 (land use held at 1850) and S3 (1851-1852 changing:
``init``), and S3 going on for 1853 from S3's restart (``restart``).

What CABLE itself wrote is compared with what we prepared: its crop and pasture fractions at
the end of each year are the prepared states of the next year (the year's states plus its
transitions), on every land cell of both chunks, through a restart too; its clearing flux is
positive where primary or secondary land is converted; S3 ends with less land carbon than S2.
"""

from __future__ import annotations

import json
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from callmip.config import Campaign
from callmip.drivers import YearSpec
from callmip.drivers.change import class_fractions, read_landuse
from callmip.rundir import RunDir
from flows.runs.execute import Context, RunRequest, execute, model_driver
from forcing.change import prepare_landuse_years
from forcing.luh2 import write_luh2_states

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
BOX = [2.0, 10.0, 44.0, 50.0]
LEVEL = 1850


def _years(years, varying: bool) -> tuple[YearSpec, ...]:
    return tuple(YearSpec(y, 1901, 287.42, y if varying else LEVEL, LEVEL) for y in years)


@pytest.fixture(scope="module")
def chain(tmp_path_factory, cable_program, cable_forcing):
    tmp = tmp_path_factory.mktemp("cable_luc")
    write_luh2_states(tmp / "luh2", list(range(1850, 1856)), res_deg=2.0)
    landuse = tmp / "landuse"
    prepare_landuse_years(tmp / "luh2" / "states.nc", list(range(1850, 1855)), 2.0, landuse)
    campaign = Campaign.model_validate({
        "name": "luc", "resolution": 2, "periods": {"historical": [2003, 2003]},
        "models": [{"name": "CABLE", "driver": "cable_pop",
                    "options": {"executable": str(cable_program), "chunks": 2,
                                "domain": BOX}}],
        "experiments": ["prior"],
        "scheduler": {"backend": "local", "max_parallel": 2,
                      "resources": {"walltime_min": 20, "mem_mb": 500}},
        "run_root": str(tmp),
    })
    rundir = RunDir(campaign)
    rundir.initialise()
    ctx = Context.create(campaign, rundir, cable_forcing, poll_s=0.2, landuse_dir=landuse)
    model = campaign.models[0]
    driver = model_driver(model, rundir.path)
    driver.setup(cable_forcing)
    prior = rundir.path / "params" / f"{model.key}.json"
    driver.write_prior(prior)
    key = model.key

    def request(run_id, years, restart, **kw):
        return RunRequest(run_id, key, prior, years, restart, landuse_dir=landuse, **kw)

    spin = execute(ctx, [request("spin", _years(range(1848, 1851), False), None,
                                 spinup_mode="analytic")])["spin"]
    assert spin.ok, spin
    first = execute(ctx, [request("S2", _years((1851, 1852), False), spin.restart),
                          request("S3", _years((1851, 1852), True), spin.restart)])
    assert all(r.ok for r in first.values()), first
    more = execute(ctx, [request("S3_more", _years((1853,), True), first["S3"].restart)])
    assert more["S3_more"].ok, more
    return {"rundir": rundir.path, "landuse": landuse, "results": {**first, **more,
                                                                    "spin": spin}}


def _run_dir(chain, run_id: str) -> Path:
    return chain["rundir"] / "runs" / run_id


def _luc_out(chain, run_id: str) -> list[Path]:
    files = sorted(_run_dir(chain, run_id).rglob("*_LUC_out.nc"))
    assert len(files) == 2, files  # one per land chunk
    return files


def _records(chain, run_id: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in
            sorted((_run_dir(chain, run_id) / "restart").glob("c*/luc.json"))]


def test_run_types_follow_the_simulation(chain):
    types = {run: {r["run_type"] for r in _records(chain, run)}
             for run in ("spin", "S2", "S3", "S3_more")}
    assert types == {"spin": {"static"}, "S2": {"static"}, "S3": {"init"},
                     "S3_more": {"restart"}}
    assert list(_run_dir(chain, "S2").rglob("*_LUC_out.nc")) == []  # tiles held: no POPLUC
    # the cold start ran CABLE's climate step first: one patch per cell, its biomes kept
    for chunk in sorted((_run_dir(chain, "spin")).glob("c0*/climate")):
        assert "Finished." in (chunk / "cable_stdout.txt").read_text()
    kept = {p.name for p in (_run_dir(chain, "S3_more") / "restart").glob("c000/*.nc")}
    assert {"cru_LUC_rst.nc", "luc_climate_rst.nc"} <= kept


@pytest.mark.parametrize("run_id", ["S3", "S3_more"])
def test_cables_crop_and_pasture_are_the_prepared_states(chain, run_id):
    """End of year Y in CABLE = prepared states of Y + 1, every land cell of both chunks."""
    lu0 = read_landuse(chain["landuse"], 1850)
    lat, lon = lu0["lat"], lu0["lon"]
    checked = 0
    for path in _luc_out(chain, run_id):
        with netCDF4.Dataset(path) as ds:
            years = [int(y) for y in ds["time"][:]]
            rows = np.searchsorted(lat, np.asarray(ds["latitude"][:], dtype="float64") - 1e-3)
            cols = np.searchsorted(lon, np.asarray(ds["longitude"][:], dtype="float64") - 1e-3)
            assert np.allclose(lat[rows], ds["latitude"][:], atol=1e-3)
            assert np.allclose(lon[cols], ds["longitude"][:], atol=1e-3)
            for k, year in enumerate(years):
                nxt = read_landuse(chain["landuse"], year + 1)
                cls = class_fractions({s: nxt[s][rows, cols] for s in
                                       ("primf", "primn", "secdf", "secdn", "urban", "c3ann",
                                        "c4ann", "c3per", "c4per", "c3nfx", "pastr", "range")})
                np.testing.assert_allclose(ds["crop"][k], cls["c"], rtol=2e-4, atol=1e-6)
                np.testing.assert_allclose(ds["past"][k], cls["q"], rtol=2e-4, atol=1e-6)
                checked += len(rows)
    assert years[-1] == (1852 if run_id == "S3" else 1853)
    assert checked >= 12


def test_land_clearing_releases_carbon_and_s3_ends_with_less_than_s2(chain):
    cleared = []
    for path in _luc_out(chain, "S3"):
        with netCDF4.Dataset(path) as ds:
            flux = np.asarray(ds["FClearance"][:])
            conversion = np.asarray(ds["ptog"][:]) + np.asarray(ds["ptos"][:])
        flux = flux.reshape(flux.shape[0], -1, conversion.shape[-1]).sum(axis=1)
        cleared.append(flux[conversion > 0])
    cleared = np.concatenate(cleared)
    assert cleared.size and (cleared > 0).all()

    def land_carbon(run_id: str) -> float:
        with xr.open_dataset(_run_dir(chain, run_id) / "out" / "cable_out.nc") as ds:
            last = ds.isel(time=-1)
            return float((last["TotLivBiomass"] + last["TotSoilCarb"]).mean())

    s2, s3 = land_carbon("S2"), land_carbon("S3")
    assert s3 < s2, (s3, s2)
