"""CABLE-POP's land-use inputs (callmip/drivers/cable_pop/landuse.py), no CABLE run needed:
the 23 files carry the prepared land use of each simulated year's ``landuse_year``, aggregated
as the branch's own LUH2 script does; the names are the ones CABLE's reader opens; a run with
land use renders POPLUC's namelists and steps, a run without does not."""

from __future__ import annotations

import json
import re
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callmip.drivers import ModelRun, YearSpec
from callmip.drivers.cable_pop import inputs, landuse
from callmip.drivers.cable_pop.build import default_source
from callmip.drivers.cable_pop.driver import CablePopDriver
from callmip.drivers.change import CLASSES, LUH2_STATES, TRANSITIONS, class_fractions, read_landuse
from forcing.change import prepare_landuse_years
from forcing.luh2 import write_luh2_states

SRC = default_source()
YEARS = [1850, 1851, 1852]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cable_luc")
    write_luh2_states(d / "luh2", [*YEARS, 1853], res_deg=2.0)
    prepare_landuse_years(d / "luh2" / "states.nc", YEARS, 2.0, d / "landuse")
    return d / "landuse"


def _domain(prepared: Path) -> inputs.Domain:
    """A box over Europe on the 2-degree grid (south to north) with its land-use land."""
    full = read_landuse(prepared, 1850)
    i0, j0 = 65, 90
    land = np.isfinite(full["primf"][i0:i0 + 4, j0:j0 + 6])
    land[0, 0] = True  # one land cell without land-use data
    return inputs.Domain(full["lat"][i0:i0 + 4], full["lon"][j0:j0 + 6], i0, j0, land)


def test_cables_reader_opens_exactly_these_files():
    if not SRC.is_dir():
        pytest.skip(f"no CABLE source at {SRC}")
    text = (SRC / "offline/cable_LUC_EXPT.F90").read_text()
    names = re.findall(r"LUC_EXPT%VAR_NAME\((\d+)\)\s*=\s*'(\w+)'", text)
    assert tuple(n for _, n in sorted(names, key=lambda x: int(x[0]))) == \
        landuse.CABLE_LUC_VARIABLES


def test_files_hold_each_simulated_years_land_use(prepared, tmp_path):
    """Held years (a spin-up) and changing ones (S3): record k of every file is the
    aggregation of the prepared file of year k's ``landuse_year``, cut to the domain."""
    domain = _domain(prepared)
    rows, cols = domain.window
    for years in ([(1848, 1850), (1849, 1850), (1850, 1850)], [(1851, 1851), (1852, 1852)]):
        out = tmp_path / str(years[0][0])
        landuse.write_luc_files(out, prepared, years, domain)
        for name in landuse.CABLE_LUC_VARIABLES:
            with netCDF4.Dataset(out / f"{name}.nc") as ds:
                assert ds["time"].units == f"years since {years[0][0]}-01-01"
                got = ds[name][:].filled(np.nan)
            assert got.shape == (len(years), *domain.land.shape)
            for k, (_, lu_year) in enumerate(years):
                lu = read_landuse(prepared, lu_year)
                want = landuse.cable_luc_fields({v: lu[v][rows, cols] for v in
                                                 (*LUH2_STATES, *TRANSITIONS)})[name]
                np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-9)
    # the classes are LUH2's: crop and pasture of 1851 straight from the prepared file
    lu = read_landuse(prepared, 1851)
    cls = class_fractions({s: lu[s][rows, cols] for s in LUH2_STATES})
    with netCDF4.Dataset(tmp_path / "1851" / "crop.nc") as ds:
        crop = ds["crop"][0].filled(np.nan)
    known = np.isfinite(cls["c"])
    np.testing.assert_allclose(crop[known], cls["c"][known], rtol=1e-6)
    assert (crop[known] > 0).any()


def test_consecutive_years_are_required(prepared, tmp_path):
    with pytest.raises(ValueError, match="consecutive"):
        landuse.write_luc_files(tmp_path, prepared, [(1851, 1851), (1853, 1852)],
                                _domain(prepared))


finite = st.floats(0.0, 0.2, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(st.lists(finite, min_size=len(LUH2_STATES), max_size=len(LUH2_STATES)),
       st.lists(finite, min_size=len(TRANSITIONS), max_size=len(TRANSITIONS)))
def test_aggregation_follows_the_branchs_luh2_script(states, moves):
    """Property: the TRENDY aggregation (primary = p, grass = c + q + r, ptog = ptoc + ptoq
    + ptor, ...), values in [0, 1]; a cell without land-use data is primary land, unchanged."""
    total = sum(states) or 1.0
    lu = {s: np.array([v / total, np.nan]) for s, v in zip(LUH2_STATES, states, strict=True)}
    lu.update({t: np.array([v, np.nan]) for t, v in zip(TRANSITIONS, moves, strict=True)})
    out = landuse.cable_luc_fields(lu)
    cls = class_fractions({s: lu[s][:1] for s in LUH2_STATES})
    clip = lambda x: np.clip(x, 0, 1)  # noqa: E731
    np.testing.assert_allclose(out["primary_veg"][0], clip(cls["p"])[0])
    np.testing.assert_allclose(out["grass"][0], clip(cls["c"] + cls["q"] + cls["r"])[0])
    for agg, parts in landuse.AGGREGATED.items():
        assert parts == tuple(f"{agg[0]}to{b}" for b in "cqr") or agg == "gtos"
        np.testing.assert_allclose(out[agg][0], clip(sum(lu[p][0] for p in parts)))
    assert landuse.AGGREGATED["gtos"] == tuple(f"{a}tos" for a in "cqr")
    assert set(landuse.DIRECT) <= set(TRANSITIONS) and "p" in CLASSES
    for name in landuse.CABLE_LUC_VARIABLES:
        assert 0.0 <= out[name][0] <= 1.0
        assert out[name][1] == (1.0 if name == "primary_veg" else 0.0)


@pytest.mark.parametrize(("years", "previous", "want"), [
    ([1850, 1850], None, "static"),  # cold spin-up at the level year
    ([1850, 1850], {"dynamic": False, "landuse_year": 1850}, "static"),  # S2 after spin-up
    ([1851, 1852], {"dynamic": False, "landuse_year": 1850}, "init"),  # S3 after spin-up
    ([1851], {"dynamic": False, "landuse_year": 1850}, "init"),  # a one-year S3 segment
    ([1853], {"dynamic": True, "landuse_year": 1852}, "restart"),  # S3 goes on
    ([1852, 1852], {"dynamic": True, "landuse_year": 1852}, "restart"),
])
def test_popluc_run_type(years, previous, want):
    assert landuse.popluc_run_type(years, previous) == want


def _driver_run(prepared: Path, tmp: Path, with_landuse: bool, restart_in=None,
                years=(1850, 1851)) -> tuple[CablePopDriver, ModelRun]:
    from forcing.prepare import prepare_year
    from forcing.synthetic import write_crujra_years

    if not SRC.is_dir():
        pytest.skip(f"no CABLE source at {SRC} (its tables are the prior)")
    forcing = tmp.parent / "model"
    if not forcing.is_dir():
        write_crujra_years(tmp.parent / "crujra", [1901], res_deg=2, seed=3, workers=1)
        prepare_year(tmp.parent / "crujra", 1901, 2.0, forcing, cache_dir=tmp.parent / "w")
    driver = CablePopDriver(executable="/bin/true", chunks=1, domain=(2.0, 10.0, 44.0, 50.0))
    driver.workspace = tmp.parent / "ws"
    tmp.mkdir(parents=True, exist_ok=True)
    driver.write_prior(tmp / "p.json")
    spec = tuple(YearSpec(y, 1901, 287.42, y, y) for y in years)
    run = ModelRun("r", tmp / "p.json", forcing, spec, tmp / "work", restart_in=restart_in,
                   landuse_dir=prepared if with_landuse else None)
    return driver, run


def test_a_cold_run_with_land_use_gets_a_climate_step_and_popluc(prepared, tmp_path):
    driver, run = _driver_run(prepared, tmp_path / "a", True)
    driver.prepare(run)
    cdir = run.work_dir / "c000"
    job = json.loads((cdir / "job.json").read_text())
    assert [s["dir"] for s in job["steps"]] == ["climate", "."]
    assert job["steps"][0]["carry"] == [["climate/restart/cru_climate_rst.nc",
                                         "restart/luc_climate_rst.nc"]]
    assert "restart/cru_LUC_rst.nc" in job["steps"][1]["restarts"]
    nml = (cdir / "cable.nml").read_text()
    assert "cable_user%POPLUC = .TRUE." in nml and '"init"' in nml
    assert "cable_user%POPLUC = .FALSE." in (cdir / "climate" / "cable.nml").read_text()
    luc = (cdir / "luc.nml").read_text()
    assert 'ClimateFile = "restart/luc_climate_rst.nc"' in luc
    assert 'PrimOnlyFile = "luc/prim_only.nc"' in luc
    assert (cdir / "luc" / "ptog.nc").is_file()
    with netCDF4.Dataset(cdir / "inputs" / "gridinfo.nc") as ds:
        assert ds.dimensions["patch"].size == 3
        assert (np.count_nonzero(ds["iveg"][:], axis=0) <= 1).all()  # one patch per cell
    record = json.loads((run.work_dir / "restart" / "c000" / "luc.json").read_text())
    assert record == {"run_type": "init", "dynamic": True, "landuse_year": 1851}


def test_a_run_without_land_use_has_no_popluc_and_cannot_continue_one(prepared, tmp_path):
    driver, run = _driver_run(prepared, tmp_path / "b", False)
    driver.prepare(run)
    cdir = run.work_dir / "c000"
    job = json.loads((cdir / "job.json").read_text())
    assert [s["dir"] for s in job["steps"]] == ["."]
    assert "cable_user%POPLUC = .FALSE." in (cdir / "cable.nml").read_text()
    assert not (cdir / "luc").exists()
    # a land-use run cannot start from this restart: CABLE's tiles differ
    (run.work_dir / "restart" / "c000").mkdir(parents=True, exist_ok=True)
    driver, warm = _driver_run(prepared, tmp_path / "c", True, run.work_dir / "restart")
    with pytest.raises(Exception, match="without land use"):
        driver.prepare(warm)


def test_a_gridinfo_without_room_for_cables_tiles_is_refused(prepared, tmp_path):
    """With land use CABLE writes three tiles per cell into the gridinfo's patches (past the
    array's end, unchecked, if there are fewer): a group's own gridinfo of 2 patches is
    refused before CABLE runs, naming the file."""
    driver, run = _driver_run(prepared, tmp_path / "d", False)
    driver.prepare(run)  # writes the generated gridinfos
    two_patches = tmp_path / "ws" / "gridinfo.nc"
    driver, run = _driver_run(prepared, tmp_path / "e", True)
    driver.gridinfo = str(two_patches)
    (tmp_path / "ws" / "setup.json").unlink()
    with pytest.raises(inputs.CableInputError, match=r"gridinfo\.nc: 2 patch\(es\)"):
        driver.prepare(run)
    assert inputs.check_land_use_gridinfo(tmp_path / "ws" / "gridinfo_luc.nc")
