"""CELM's land use: the land-use step and the harvest as budget properties, then the real model.

Properties (hypothesis): moving land between the natural and managed tiles conserves carbon
(land + products + emitted), water, snow and heat; no pool goes negative; the products' decay
releases exactly what they lose (the managed tile's day closes its budget with the harvest as a
flux: ``tests/celm/test_budgets.py``). Then CELM runs on a 10-degree grid with rising and falling crop + pasture:
every year, per cell, d(land carbon + products) = 365 x NBP = -NEE - harvest - land-use flux.
"""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from celm.landuse import (
    HARVEST_FRACTION,
    MANAGED_STATES,
    change_land_use,
    decay_products,
    harvest_share,
    land_carbon,
    managed_params,
)
from celm.params import defaults, kernel_params
from celm.step import NSTATE, STATE_VARS

S = {n: i for i, n in enumerate(STATE_VARS)}
POOLS = [S[n] for n in ("C_LABILE", "C_LEAF", "C_ROOT", "C_WOOD", "C_LITTER", "C_SOM")]
WATER = [S[n] for n in ("W_TOP", "W_SUB", "SWE")]


def _tiles(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scale = np.array([300, 800, 800, 30000, 3000, 60000, 30, 300, 500, 300, 1.0])[:, None]
    natural = rng.uniform(0.0, 1.0, (NSTATE, n)) * scale
    managed = rng.uniform(0.0, 1.0, (NSTATE, n)) * scale
    managed[S["C_WOOD"]] = 0.0  # the managed tile never has wood
    return natural, managed


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**31 - 1),
       f0=st.lists(st.floats(0.0, 1.0), min_size=8, max_size=8),
       f1=st.lists(st.floats(0.0, 1.0), min_size=8, max_size=8),
       years=st.floats(0.1, 50.0))
def test_land_use_change_conserves_carbon_water_and_heat(seed, f0, f1, years):
    natural, managed = _tiles(seed, 8)
    f0, f1 = np.array(f0), np.array(f1)
    products = np.random.default_rng(seed).uniform(0, 500, (2, 8))
    before_c = land_carbon(natural, managed, f0) + products.sum(axis=0)
    before_w = (1 - f0) * natural[WATER].sum(axis=0) + f0 * managed[WATER].sum(axis=0)
    before_t = (1 - f0) * natural[S["T_SOIL"]] + f0 * managed[S["T_SOIL"]]
    fluxes = change_land_use(natural, managed, f0, f1, products)
    after_c = land_carbon(natural, managed, f1) + products.sum(axis=0)
    scale = before_c + 1.0
    assert np.all(np.abs(before_c - after_c - fluxes.to_atmosphere) <= 1e-12 * scale)
    after_w = (1 - f1) * natural[WATER].sum(axis=0) + f1 * managed[WATER].sum(axis=0)
    assert np.allclose(before_w, after_w, rtol=1e-12, atol=1e-9)
    after_t = (1 - f1) * natural[S["T_SOIL"]] + f1 * managed[S["T_SOIL"]]
    assert np.allclose(before_t, after_t, rtol=1e-12, atol=1e-9)
    assert np.all(natural >= 0) and np.all(managed >= 0) and np.all(products >= 0)
    assert np.all(managed[S["C_WOOD"]] == 0.0)
    # emissions only where land was cleared, and all of it goes somewhere
    cleared = np.maximum(f1 - f0, 0.0)
    assert np.all(fluxes.to_atmosphere[cleared == 0] == 0.0)
    assert np.all(fluxes.to_atmosphere >= 0) and np.all(fluxes.to_products >= 0)
    held = products.copy()
    released = decay_products(products, years)
    assert np.allclose(held.sum(axis=0) - products.sum(axis=0), released, rtol=1e-12, atol=1e-12)
    assert np.all(released >= 0)


def test_managed_tile_has_no_wood_and_harvests_a_fixed_share_of_npp():
    p = kernel_params(defaults())
    m = managed_params(p)
    assert m.alloc_wood == 0.0 and harvest_share(p) == 0.0
    assert harvest_share(m) == pytest.approx(HARVEST_FRACTION, abs=1e-12)
    assert m.alloc_leaf / m.alloc_root == pytest.approx(p.alloc_leaf / p.alloc_root)


# ----------------------------------------------------------------------------- the model
def _write_landuse(directory, grid, year: int, managed: float) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with netCDF4.Dataset(directory / f"landuse_{year:04d}.nc", "w") as ds:
        ds.createDimension("lat", grid.lat.size)
        ds.createDimension("lon", grid.lon.size)
        ds.createVariable("lat", "f8", ("lat",))[:] = grid.lat
        ds.createVariable("lon", "f8", ("lon",))[:] = grid.lon
        # managed land rises with latitude band, so cells differ
        band = np.clip(managed * (1.0 + 0.5 * np.cos(np.deg2rad(grid.lat)))[:, None], 0, 1)
        field = np.broadcast_to(band, (grid.lat.size, grid.lon.size))
        share = {s: 1.0 / len(MANAGED_STATES) for s in MANAGED_STATES}
        for s in ("primf", "primn", "secdf", "secdn", "urban", "range", *MANAGED_STATES):
            v = ds.createVariable(s, "f4", ("lat", "lon"))
            v[:] = field * share[s] if s in share else (1.0 - field) * (s == "primf")


@pytest.fixture(scope="module")
def landuse_runs(tmp_path_factory, coarse_forcing, climate):
    """Spin up with 1901's land use, then run 1902 (clearing), 1903 (more), 1904 (abandon),
    one year per run so every year's end state is a restart."""
    from celm.namelist import load_namelist
    from celm.params import write_prior
    from celm.simulate import run

    tmp = tmp_path_factory.mktemp("landuse")
    grid = climate.make_grid(10.0)
    fractions = {1901: 0.05, 1902: 0.3, 1903: 0.5, 1904: 0.2}
    for year, f in fractions.items():
        _write_landuse(tmp / "lu", grid, year, f)
    write_prior(tmp / "prior.json")

    def one(name, years, restart=None, spinup=None):
        doc = {"forcing_dir": str(coarse_forcing), "landuse_dir": str(tmp / "lu"),
               "params_file": str(tmp / "prior.json"), "restart_in": restart,
               "restart_out": str(tmp / name / "restart.nc"),
               "output_dir": str(tmp / name / "out"), "spinup_mode": spinup,
               "years": [{"year": y, "forcing_year": fy, "co2_ppm": 350.0, "landuse_year": ly}
                         for y, fy, ly in years]}
        (tmp / name).mkdir()
        (tmp / name / "nml.yaml").write_text(yaml.safe_dump(doc))
        run(load_namelist(tmp / name / "nml.yaml"))
        return tmp / name

    spun = one("spin", [(1, 1901, 1901), (2, 1902, 1901)], spinup="analytic")
    spun = one("spin2", [(1, 1901, 1901), (2, 1902, 1901)], str(spun / "restart.nc"), "analytic")
    runs = {1901: spun}
    for year in (1902, 1903, 1904):
        runs[year] = one(f"y{year}", [(year, 1901 + year % 3, year)],
                         str(runs[year - 1] / "restart.nc"))
    return runs


def _carbon(restart) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with netCDF4.Dataset(restart) as ds:
        nat = sum(np.asarray(ds[STATE_VARS[k]][:]) for k in POOLS)
        man = sum(np.asarray(ds[STATE_VARS[k] + "_MANAGED"][:]) for k in POOLS)
        f = np.asarray(ds["MANAGED_FRACTION"][:])
        prod = np.asarray(ds["C_PRODUCT_10"][:]) + np.asarray(ds["C_PRODUCT_100"][:])
        idx = np.asarray(ds["land_index"][:])
    return (1 - f) * nat + f * man, prod, idx


def test_every_year_closes_the_carbon_budget_with_land_use_and_harvest(landuse_runs):
    for year in (1902, 1903, 1904):
        land0, prod0, idx = _carbon(landuse_runs[year - 1] / "restart.nc")
        land1, prod1, _ = _carbon(landuse_runs[year] / "restart.nc")
        with netCDF4.Dataset(landuse_runs[year] / "out" / f"annual_{year}.nc") as ds:
            out = {v: np.asarray(ds[v][0], dtype=np.float64).ravel()[idx] * 365.0
                   for v in ("NEE", "FHARVEST", "FLUC", "NBP", "GPP")}
        change = (land1 + prod1) - (land0 + prod0)
        # outputs are float32: 1e-6 of the gross flux and of the stocks
        tol = 2e-6 * (out["GPP"] + out["FLUC"] + land0 + 10.0)
        assert np.all(np.abs(change - out["NBP"]) <= tol), year
        assert np.allclose(out["NBP"], -out["NEE"] - out["FHARVEST"] - out["FLUC"], atol=1e-3)
        assert np.all(out["FHARVEST"] >= 0) and out["FHARVEST"].sum() > 0


def test_clearing_emits_and_abandonment_does_not(landuse_runs):
    fluc = {}
    for year in (1902, 1903, 1904):
        with netCDF4.Dataset(landuse_runs[year] / "out" / f"annual_{year}.nc") as ds:
            fluc[year] = float(np.nanmean(ds["FLUC"][0]))
            frac = float(np.nanmax(ds["MANAGED_FRAC"][0]))
        assert frac > 0
    land_products_1903 = _carbon(landuse_runs[1903] / "restart.nc")[1].mean()
    assert fluc[1902] > 0 and fluc[1903] > 0
    # 1904 abandons land: only the products' decay is emitted (at most ~10%/yr of them)
    assert 0 < fluc[1904] * 365 <= 0.1 * land_products_1903 + 1e-9


def test_the_steady_state_job_reports_what_its_iteration_cost(landuse_runs, coarse_forcing,
                                                              tmp_path):
    """``spinup_mode: analytic`` (:func:`celm.steadystate.run`, as ``python -m celm run``
    dispatches it) writes ``steady_state.json``: per tile, whole cycles of the 2-year cycle,
    at least the cold first one, land-cell years within the years on every cell; the
    orchestrator reports these years in the manifest, not only its jobs' years."""
    import json

    from celm import steadystate
    from celm.namelist import STEADY_STATE_COST, load_namelist

    root = landuse_runs[1901].parent
    doc = {"forcing_dir": str(coarse_forcing), "landuse_dir": str(root / "lu"),
           "params_file": str(root / "prior.json"), "restart_in": None,
           "restart_out": str(tmp_path / "restart.nc"), "output_dir": str(tmp_path / "out"),
           "spinup_mode": "analytic",
           "years": [{"year": y, "forcing_year": y, "co2_ppm": 350.0, "landuse_year": 1901}
                     for y in (1901, 1902)]}
    (tmp_path / "nml.yaml").write_text(yaml.safe_dump(doc))
    steadystate.run(load_namelist(tmp_path / "nml.yaml"))
    cost = json.loads((tmp_path / "out" / STEADY_STATE_COST).read_text())
    assert cost["cycle_years"] == 2 and set(cost["tiles"]) == {"natural", "managed"}
    for tile in cost["tiles"].values():
        assert tile["cycles"] >= 2 and tile["years"] == 2 * tile["cycles"]
        assert 0 < tile["cell_years"] <= tile["years"] * tile["land_cells"]
        assert isinstance(tile["converged"], bool) and tile["seconds"] >= 0
    assert not list((tmp_path / "out").glob(".*.tmp"))
