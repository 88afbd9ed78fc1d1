"""ISIMIP3b scenario forcing: naming, reader (leap days), warming per SSP, model-ready output."""

from __future__ import annotations

import shutil
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from forcing.errors import ForcingError
from forcing.grids import lat_centres, lon_centres
from forcing.isimip import IsimipReader, isimip_decade, isimip_filename, isimip_path
from forcing.landmask import crujra_land_mask
from forcing.landregrid import LandRegridder
from forcing.modelready import check_model_ready
from forcing.prepare import prepare_year
from forcing.scenario import prepare_isimip_year

from .conftest import ISIMIP_RES as RES


def test_naming_and_decades(isimip_dir: Path) -> None:
    assert isimip_decade(2015) == (2015, 2020) and isimip_decade(2020) == (2015, 2020)
    assert isimip_decade(2021) == (2021, 2030) and isimip_decade(2100) == (2091, 2100)
    with pytest.raises(ValueError, match="outside the ISIMIP3b scenario period"):
        isimip_decade(2014)
    assert (
        isimip_filename("gfdl-esm4", "ssp585", "sfcwind", 2015, 2020)
        == "gfdl-esm4_r1i1p1f1_w5e5_ssp585_sfcwind_global_daily_2015_2020.nc"
    )
    assert "ukesm1-0-ll_r1i1p1f2_w5e5" in isimip_filename("ukesm1-0-ll", "ssp126", "pr", 2091, 2100)
    assert isimip_path(isimip_dir, "gfdl-esm4", "ssp126", "tas", 2016).exists()
    with pytest.raises(ForcingError, match="missing input"):
        isimip_path(isimip_dir, "gfdl-esm4", "ssp370", "tas", 2016)


def test_layout(isimip_dir: Path) -> None:
    path = isimip_path(isimip_dir, "gfdl-esm4", "ssp585", "pr", 2016)
    with netCDF4.Dataset(path) as ds:
        assert ds["time"].units == "days since 1601-1-1 00:00:00"
        assert ds["time"].calendar == "proleptic_gregorian"
        assert ds["lat"][0] > ds["lat"][-1]  # north to south
        assert ds["pr"].units == "kg m-2 s-1" and ds["pr"]._FillValue == np.float32(1e20)
        assert ds.dimensions["time"].size == 366  # 2016 is a leap year
        assert not np.ma.is_masked(ds["pr"][0])  # global: ocean included


def test_reader_drops_29_february_and_flips_latitude(isimip_dir: Path) -> None:
    path = isimip_path(isimip_dir, "gfdl-esm4", "ssp585", "tas", 2016)
    mask = crujra_land_mask(RES)
    with IsimipReader(path, "tas") as r:
        vals = r.read_year(2016, mask)
        assert np.all(np.diff(r.lat) > 0)
    assert vals.shape == (365, int(mask.sum()))
    with netCDF4.Dataset(path) as ds:
        raw = np.asarray(ds["tas"][:])[:, ::-1, :].reshape(366, -1)[:, mask.ravel()]
    np.testing.assert_array_equal(vals[:59], raw[:59])  # to 28 February
    np.testing.assert_array_equal(vals[59:], raw[60:])  # 1 March onwards


def test_warming_differs_by_ssp(isimip_dir: Path) -> None:
    mask = crujra_land_mask(RES)

    def mean_tas(ssp: str, year: int) -> float:
        with IsimipReader(isimip_path(isimip_dir, "gfdl-esm4", ssp, "tas", year), "tas") as r:
            return float(r.read_year(year, mask).mean())

    w126 = mean_tas("ssp126", 2100) - mean_tas("ssp126", 2016)
    w585 = mean_tas("ssp585", 2100) - mean_tas("ssp585", 2016)
    assert 0.0 < w126 < 2.0 and w585 > 4.0 and w585 - w126 > 3.0


def test_scenario_model_ready_matches_historical_layout(
    isimip_dir: Path, crujra_dir: Path, tmp_path: Path
) -> None:
    out = prepare_isimip_year(isimip_dir, "gfdl-esm4", "ssp585", 2100, 20.0, tmp_path / "scen")
    check_model_ready(out)
    hist = prepare_year(crujra_dir, 1901, 20.0, tmp_path / "hist")
    a, b = xr.open_dataset(out), xr.open_dataset(hist)
    assert list(a.data_vars) == list(b.data_vars) and "sfcWind" in a
    assert a.sizes == b.sizes
    # the same land definition as a CRU-JRA source on the ISIMIP grid would have
    mask = crujra_land_mask(RES)
    lr = LandRegridder(lat_centres(RES), lon_centres(RES), np.flatnonzero(mask.ravel()), 20.0)
    np.testing.assert_array_equal(a.landfrac.values, lr.landfrac)
    assert "ISIMIP3b bias-adjusted gfdl-esm4 ssp585" in a.attrs["source"]
    mtime = out.stat().st_mtime_ns
    prepare_isimip_year(isimip_dir, "gfdl-esm4", "ssp585", 2100, 20.0, tmp_path / "scen")
    assert out.stat().st_mtime_ns == mtime  # idempotent


def test_wrong_units_and_nan(isimip_dir: Path, tmp_path: Path) -> None:
    src = isimip_path(isimip_dir, "gfdl-esm4", "ssp126", "rsds", 2016)
    path = tmp_path / src.name
    shutil.copy(src, path)
    mask = crujra_land_mask(RES)
    with netCDF4.Dataset(path, "a") as ds:
        ds["rsds"].units = "J m-2"
    with (
        pytest.raises(ForcingError, match=r"rsds.*wrong units 'J m-2'"),
        IsimipReader(path, "rsds"),
    ):
        pass
    with netCDF4.Dataset(path, "a") as ds:
        ds["rsds"].units = "W m-2"
        i, j = np.argwhere(mask[::-1])[2]  # a land cell in the file's north-to-south order
        ds["rsds"][40, i, j] = np.nan
    with (
        pytest.raises(ForcingError, match=r"NaN over land.*2016-02-10"),
        IsimipReader(path, "rsds") as r,
    ):
        r.read_year(2016, mask)
