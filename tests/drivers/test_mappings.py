"""Native-style output of each external model -> conform -> checker, against known truth.

The files are built (tests/drivers/conftest.py) from each model's documented output names,
units, sign conventions, grids and time stamps; conforming them must give back the CalLMIP
fields they were built from, and the result must pass the CalLMIP checker.
"""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from callmip.conform import GlobalAttrs, check_file, conform_run
from callmip.drivers import (
    CablePopDriver,
    ClassicDriver,
    ClmDriver,
    ModelRun,
    NativeOutputError,
    OrchideeDriver,
    YearSpec,
)
from callmip.drivers.cable_pop import CABLE_ZSE

CHECKED = ("nep", "gpp", "reco", "hfls", "hfss", "hfg", "tran", "evspsblsoi", "ts", "lai",
           "cLiveBioAbove", "cSoil")


def run_for(tmp_path: Path) -> ModelRun:
    years = tuple(YearSpec(y, y, 375.0 + y - 2003) for y in (2003, 2004))
    return ModelRun("m_S3", tmp_path / "params.json", tmp_path / "forcing", years,
                    tmp_path / "run")


def conformed(driver, files, tmp_path, freq="monthly", stage="Prior", model="X"):
    attrs = GlobalAttrs(model=model, version="v1", stage=stage)
    return conform_run(driver, files, tmp_path / "out", attrs, 2, freq, 20)


def assert_passes(path: Path) -> xr.Dataset:
    report = check_file(path)
    assert report.ok, report.render()
    return xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))


def assert_truth(ds: xr.Dataset, truth: dict, names=CHECKED, fire_in_rh=True) -> None:
    expect = dict(truth)
    if fire_in_rh:  # these models book fire in rh, so their reco includes it
        expect["reco"] = truth["reco"] + truth["fire"]
    for name in names:
        np.testing.assert_allclose(ds[name].values, expect[name], rtol=2e-6, atol=0,
                                   err_msg=name)


# ------------------------------------------------------------------------------- CABLE-POP
def test_cable_pop_round_trip(native, tmp_path, truth):
    driver = CablePopDriver()
    (path,) = driver.output_files(run_for(tmp_path), "monthly")
    _, theta = native.cable_files(path, truth, driver.wood_above_fraction)
    ds = assert_passes(conformed(driver, [path], tmp_path))
    assert_truth(ds, truth)
    # nep = -NEE converted from umol CO2 m-2 s-1 to kgC m-2 s-1 (12.011 gC/mol)
    with netCDF4.Dataset(path) as nc:
        nee = np.ma.filled(nc["NEE"][:], np.nan)
    np.testing.assert_allclose(ds.nep.values, -nee * 1e-6 * 12.011e-3, rtol=2e-6)
    # soil water: theta x thickness x 1000; top 10 cm = 22 + 58 mm layers + 20 mm of layer 3
    dz = np.array(CABLE_ZSE)[None, :, None, None]
    np.testing.assert_allclose(ds.mrso.values, np.sum(theta * dz * 1000, axis=1), rtol=2e-6)
    top = theta[:, 0] * 22 + theta[:, 1] * 58 + theta[:, 2] * 20
    np.testing.assert_allclose(ds.mrsos.values, top, rtol=2e-6)
    assert ds.lat.values.tolist() == native.LAT.tolist()


def test_cable_pop_annual_is_month_length_weighted(native, tmp_path, truth):
    driver = CablePopDriver()
    (path,) = driver.output_files(run_for(tmp_path), "annual")
    native.cable_files(path, truth)
    ds = assert_passes(conformed(driver, [path], tmp_path, freq="annual"))
    assert ds.sizes["time"] == 2
    days = np.array([(hi - lo).days for lo, hi in native.month_edges()], dtype=float)
    w = days[:12] / 365.0
    expect = np.tensordot(w, truth["hfls"][:12], axes=1)
    np.testing.assert_allclose(ds.hfls.values[0], expect, rtol=2e-6)
    assert Path(ds.encoding["source"]).name == "X.v1_global_2deg_annual_2003-2004_Prior.nc"


def test_cable_csoil_leaves_litter_out_and_pools_add_up(native, tmp_path, truth):
    """TotSoilCarb is soil + litter: cSoil must not count the litter twice, and the spin-up
    pools give total carbon = cVeg + cLitter + cSoil = TotLivBiomass + TotSoilCarb."""
    driver = CablePopDriver()
    path = tmp_path / "cable_out.nc"
    native.cable_files(path, truth)
    with xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
        mapped = driver.to_callmip(ds.load())
        total = (ds.TotLivBiomass + ds.TotSoilCarb).values
    np.testing.assert_allclose(mapped.cSoil.values, truth["cSoil"], rtol=2e-6)
    pools = (mapped.cVeg + mapped.cLitter + mapped.cSoil).values
    np.testing.assert_allclose(pools, total, rtol=2e-6)


def test_missing_native_variable_names_file_and_variable(native, tmp_path, truth):
    driver = CablePopDriver()
    path = tmp_path / "cable_out.nc"
    native.cable_files(path, truth)
    with xr.open_dataset(path) as ds:
        ds.load().drop_vars("HeteroResp").to_netcdf(tmp_path / "no_rh.nc")
    with pytest.raises(NativeOutputError) as err:
        conformed(driver, [tmp_path / "no_rh.nc"], tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "no_rh.nc") in msg
    assert "'HeteroResp'" in msg and "reco" in msg and "cable_pop" in msg
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


# ------------------------------------------------------------------------------- ORCHIDEE
def test_orchidee_round_trip_weights_pfts_by_veget_max(native, tmp_path, truth):
    driver = OrchideeDriver()
    files = driver.output_files(run_for(tmp_path), "monthly")
    files_written, vm = native.orchidee_files(files[0].parent, truth)
    assert files_written == files
    ds = assert_passes(conformed(driver, files, tmp_path))
    assert_truth(ds, truth, fire_in_rh=False)
    np.testing.assert_allclose(ds.mrso.values, truth["_orc_mrso"], rtol=2e-6)
    # nep includes natural fire: nep = gpp - reco - fFire
    np.testing.assert_allclose(ds.nep.values, (ds.gpp - ds.reco).values - truth["fire"],
                               rtol=1e-5, atol=1e-14)
    # an independent weighted sum over PFTs of one native field
    with netCDF4.Dataset(files[1]) as nc:
        lai_pft = np.ma.filled(nc["LAI"][:], np.nan)
    manual = np.sum(lai_pft * vm, axis=1)
    np.testing.assert_allclose(ds.lai.values, manual, rtol=2e-6)


# ------------------------------------------------------------------------------- CTSM
def test_clm_round_trip_end_of_month_stamps(native, tmp_path, truth):
    driver = ClmDriver(case_dir="/cases/I2000Clm50BgcCrop")
    run = run_for(tmp_path)
    expected = driver.output_files(run, "monthly")
    files = native.clm_files(expected[0].parent, driver.case, truth)
    assert files == expected
    path = conformed(driver, files, tmp_path)
    assert path.name == "X.v1_global_2deg_monthly_2003-2004_Prior.nc"  # not 2003-2005
    ds = assert_passes(path)
    assert ds.sizes["time"] == 24
    assert [t.month for t in ds.time.values[:2]] == [1, 2]  # January stays January
    assert_truth(ds, truth)
    np.testing.assert_allclose(ds.mrso.values, truth["_clm_mrso"], rtol=2e-6)
    np.testing.assert_allclose(ds.mrsos.values, truth["_clm_mrsos"], rtol=2e-6)


def test_clm_wrong_native_units_are_refused(native, tmp_path, truth):
    driver = ClmDriver(case_dir="/cases/c1")
    files = native.clm_files(tmp_path / "run", "c1", truth, units={"GPP": "gC/m^2/day"})
    with pytest.raises(NativeOutputError, match=r"'GPP' has units 'gC/m\^2/day'"):
        conformed(driver, files, tmp_path)


def test_clm_missing_field_in_one_month_names_that_file(native, tmp_path, truth):
    driver = ClmDriver(case_dir="/cases/c1")
    files = native.clm_files(tmp_path / "run", "c1", truth)
    bad = files[5]
    with xr.open_dataset(bad) as ds:
        ds = ds.load()
    ds.drop_vars("TSKIN").to_netcdf(bad)
    with pytest.raises(NativeOutputError, match=rf"{bad.name}: native variable 'TSKIN'"):
        conformed(driver, files, tmp_path)


# ------------------------------------------------------------------------------- CLASSIC
def test_classic_round_trip_per_variable_files(native, tmp_path, truth):
    driver = ClassicDriver()
    run = run_for(tmp_path)
    files = native.classic_files(run.work_dir / "output", truth)
    assert sorted(files) == sorted(driver.output_files(run, "monthly"))
    ds = assert_passes(conformed(driver, files, tmp_path, stage="Posterior"))
    assert_truth(ds, truth)
    # mrsos: top 0.1 m is CLASS's whole first layer
    np.testing.assert_allclose(ds.mrsos.values, truth["_classic_mrsol"][:, 0], rtol=2e-6)
    assert ds.attrs["Calibration_stage"] == "Posterior"


def test_classic_missing_variable_file(native, tmp_path, truth):
    driver = ClassicDriver()
    run = run_for(tmp_path)
    native.classic_files(run.work_dir / "output", truth)
    (run.work_dir / "output" / "cStem_monthly.nc").unlink()
    with pytest.raises(FileNotFoundError, match=r"cStem_monthly\.nc"):
        conformed(driver, driver.output_files(run, "monthly"), tmp_path)


def test_classic_file_lacking_its_variable(native, tmp_path, truth):
    driver = ClassicDriver()
    run = run_for(tmp_path)
    files = native.classic_files(run.work_dir / "output", truth)
    target = run.work_dir / "output" / "rh_monthly.nc"
    with xr.open_dataset(target) as ds:
        ds = ds.load()
    ds.rename({"rh": "rh_wrong"}).to_netcdf(target)
    with pytest.raises(NativeOutputError, match=r"native variable 'rh' \(needed for reco"):
        conformed(driver, files, tmp_path)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_driver_gives_nep_positive_into_land(native, tmp_path, seed):
    """Where the land takes up carbon (gpp > reco), nep > 0 after every driver's mapping."""
    t = native.make_truth(seed)
    driver = CablePopDriver()
    path = tmp_path / "c.nc"
    native.cable_files(path, t)
    ds = xr.open_dataset(conformed(driver, [path], tmp_path / "c"))
    sink = (ds.gpp - ds.reco).values > 1e-9
    assert sink.any()
    assert (ds.nep.values[sink] > 0).all()
