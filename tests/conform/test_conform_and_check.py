"""Conform -> checker round trip on native-style files, and the checker's failure messages."""

from pathlib import Path

import cftime
import netCDF4
import numpy as np
import pytest
import xarray as xr

from callmip.conform import GlobalAttrs, check_file, conform_run
from callmip.conform.conform import ConformError
from callmip.drivers import CelmDriver

REPO = Path(__file__).resolve().parents[2]


def native_year(path: Path, year: int, rng: np.random.Generator) -> Path:
    """A CELM-style monthly file on a 30-degree grid with ocean NaNs."""
    lat = np.arange(-75.0, 90.0, 30.0)
    lon = np.arange(-165.0, 180.0, 30.0)
    shape = (12, lat.size, lon.size)
    land = rng.random(shape[1:]) > 0.4
    gpp = rng.uniform(0.5, 8.0, shape)
    ra, rh = 0.5 * gpp, rng.uniform(0.5, 3.0, shape)

    def f(x):
        return (("time", "lat", "lon"), np.where(land, x, np.nan).astype("float32"))

    time = [cftime.DatetimeNoLeap(year, m, 15) for m in range(1, 13)]
    bnds = [[cftime.DatetimeNoLeap(year, m, 1),
             cftime.DatetimeNoLeap(year + (m == 12), m % 12 + 1, 1)] for m in range(1, 13)]
    ds = xr.Dataset(
        {
            "GPP": f(gpp), "RA": f(ra), "RH": f(rh), "NEE": f(ra + rh - gpp),
            "QLE": f(rng.uniform(0, 120, shape)), "QH": f(rng.uniform(-10, 80, shape)),
            "QG": f(rng.uniform(-5, 5, shape)), "TRANSP": f(rng.uniform(0, 3, shape)),
            "ESOIL": f(rng.uniform(0, 1, shape)), "TSURF": f(rng.uniform(250, 310, shape)),
            "LAI": f(rng.uniform(0, 6, shape)), "C_LEAF": f(rng.uniform(0, 300, shape)),
            "C_WOOD": f(rng.uniform(0, 9000, shape)), "C_SOM": f(rng.uniform(1000, 20000, shape)),
            "C_LABILE": f(rng.uniform(0, 100, shape)), "C_ROOT": f(rng.uniform(0, 500, shape)),
            "C_LITTER": f(rng.uniform(0, 900, shape)), "C_TOTAL": f(rng.uniform(0, 3e4, shape)),
            "SOILW": f(rng.uniform(10, 500, shape)), "SOILW_TOP": f(rng.uniform(1, 40, shape)),
            "time_bnds": (("time", "nv"), np.array(bnds)),
        },
        coords={"time": time, "lat": lat, "lon": lon},
    )
    ds.to_netcdf(path)
    return path


@pytest.fixture
def conformed(tmp_path):
    rng = np.random.default_rng(1)
    files = [native_year(tmp_path / f"monthly_{y}.nc", y, rng) for y in (2003, 2004)]
    attrs = GlobalAttrs(model="CELM-A", version="v1", stage="Prior")
    return conform_run(CelmDriver(), files, tmp_path / "out", attrs, 2, "monthly", 20)


def test_round_trip_passes_checker_with_callmip_names_and_units(conformed):
    assert conformed.name == "CELM-A.v1_global_2deg_monthly_2003-2004_Prior.nc"
    report = check_file(conformed)
    assert report.ok, report.render()
    with netCDF4.Dataset(conformed) as ds:
        assert ds.variables["nep"].units == "kgC m-2 s-1"
        assert ds.variables["hfls"].units == "W m-2"
        assert ds.variables["cSoil"].units == "kg m-2"
        assert ds.Calibration_stage == "Prior"
        assert ds.variables["time"].calendar == "noleap"


def test_nep_positive_into_land_and_reco_is_ra_plus_rh(conformed):
    ds = xr.open_dataset(conformed)
    balance = ds.gpp - ds.reco
    np.testing.assert_allclose(ds.nep, balance, rtol=1e-5, atol=1e-12)


def _edit(src: Path, dst: Path, fn) -> Path:
    dst.write_bytes(src.read_bytes())
    with netCDF4.Dataset(dst, "a") as ds:
        fn(ds)
    return dst


def test_wrong_unit_fails(conformed, tmp_path):
    bad = _edit(conformed, tmp_path / conformed.name,
                lambda ds: ds.variables["hfls"].setncattr("units", "W/m2"))
    report = check_file(bad)
    assert not report.ok
    assert "hfls: units 'W/m2'; the protocol requires 'W m-2' exactly" in report.render()


def test_flipped_nep_sign_fails(conformed, tmp_path):
    def flip(ds):
        ds.variables["nep"][:] = -ds.variables["nep"][:]

    report = check_file(_edit(conformed, tmp_path / conformed.name, flip))
    assert not report.ok
    assert "sign looks flipped" in report.render()


def test_missing_variable_fails(conformed, tmp_path):
    ds = xr.open_dataset(conformed, decode_times=False).drop_vars("mrsos")
    path = tmp_path / conformed.name
    ds.to_netcdf(path)
    assert "mrsos: required variable is missing" in check_file(path).render()


def test_wrong_file_name_fails(conformed, tmp_path):
    path = tmp_path / "CELM-A_global_monthly.nc"
    path.write_bytes(conformed.read_bytes())
    report = check_file(path)
    assert not report.ok
    assert "does not follow <model>.<version>_global_" in report.render()


def test_conform_refuses_to_publish_failing_file(tmp_path):
    rng = np.random.default_rng(2)
    f = native_year(tmp_path / "monthly_2003.nc", 2003, rng)
    with xr.open_dataset(f) as ds:
        ds = ds.load()
    ds["QLE"] = ds["QLE"] * 1e6  # a unit mistake: far outside the plausible range
    ds.to_netcdf(f)
    attrs = GlobalAttrs(model="CELM-A", version="v1", stage="Posterior")
    with pytest.raises(ConformError, match=r"hfls: values .* outside plausible range"):
        conform_run(CelmDriver(), [f], tmp_path / "out", attrs, 2, "monthly", 20)
    assert not list((tmp_path / "out").glob("*.nc"))
    assert not list((tmp_path / "out").glob(".*"))


def test_checker_on_real_classic_template_is_specific():
    report = check_file(REPO / "data" / "CLASSIC.v2_Phase1b_Scen1_DK-Sor_Cal_Prior.nc")
    text = report.render()
    assert not report.ok
    # the cSoil units attribute hides a zero-width space after 'kg m-2'
    assert "cSoil: units 'kg m-2\\\\u200b' (contains invisible/non-ASCII characters)" in text
    # lat/lon are scalar variables without units in this file: a warning for a site file (the
    # protocol's example puts the units on the (latitude) coordinate, which the file has)
    assert "WARNING lat: scalar lat has no units attribute" in text
    assert [f.where for f in report.findings if f.level == "ERROR"] == ["cSoil"]
    # every other units attribute is right
    for name in ("nep", "hfls", "hfss", "gpp", "reco", "tran", "evspsblsoi", "hfg", "ts", "lai",
                 "cLiveBioAbove", "mrso", "mrsos"):
        assert f"{name}: units" not in text
