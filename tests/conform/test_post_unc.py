"""Posterior uncertainty (<var>_post_unc) from ensemble members, and how the checker judges it."""

from __future__ import annotations

from pathlib import Path

import cftime
import netCDF4
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from callmip.conform import (
    ConformError,
    GlobalAttrs,
    RunningSpread,
    check_file,
    conform_run,
)
from callmip.drivers import CelmDriver

LAT = np.arange(-75.0, 90.0, 30.0)
LON = np.arange(-165.0, 180.0, 30.0)


def celm_year(path: Path, year: int, base: dict[str, np.ndarray], qle_shift: float = 0.0,
              nee_shift: float = 0.0) -> Path:
    """A CELM-style monthly file; members differ from the centre by known shifts."""
    time = [cftime.DatetimeNoLeap(year, m, 15) for m in range(1, 13)]
    bnds = [[cftime.DatetimeNoLeap(year, m, 1),
             cftime.DatetimeNoLeap(year + (m == 12), m % 12 + 1, 1)] for m in range(1, 13)]
    v = {k: (("time", "lat", "lon"), a.astype("float32")) for k, a in base.items()}
    v["QLE"] = (("time", "lat", "lon"), (base["QLE"] + qle_shift).astype("float32"))
    v["NEE"] = (("time", "lat", "lon"), (base["NEE"] + nee_shift).astype("float32"))
    v["time_bnds"] = (("time", "nv"), np.array(bnds))
    path.parent.mkdir(parents=True, exist_ok=True)
    xr.Dataset(v, coords={"time": time, "lat": LAT, "lon": LON}).to_netcdf(path)
    return path


def base_fields(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (12, LAT.size, LON.size)
    land = rng.random(shape[1:]) > 0.3

    def f(lo, hi):
        return np.where(land, rng.uniform(lo, hi, shape), np.nan)

    gpp = f(0.5, 8.0)
    ra, rh = 0.5 * gpp, f(0.5, 3.0)
    return {
        "GPP": gpp, "RA": ra, "RH": rh, "NEE": ra + rh - gpp, "QLE": f(0, 120),
        "QH": f(-10, 80), "QG": f(-5, 5), "TRANSP": f(0, 3), "ESOIL": f(0, 1),
        "TSURF": f(250, 310), "LAI": f(0, 6), "C_LEAF": f(0, 300), "C_WOOD": f(0, 9000),
        "C_SOM": f(1000, 20000), "C_LABILE": f(0, 100), "C_ROOT": f(0, 500),
        "C_LITTER": f(0, 900), "C_TOTAL": f(0, 3e4), "SOILW": f(10, 500),
        "SOILW_TOP": f(1, 40),
    }


# member shifts: QLE by (-a, 0, a) -> sample std a; NEE by (-b, 0, b) -> b
A_QLE, B_NEE = 3.0, 0.2


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ens")
    years = (2003, 2004)
    base = {y: base_fields(y) for y in years}
    central = [celm_year(tmp / "central" / f"monthly_{y}.nc", y, base[y]) for y in years]
    qle = [-A_QLE, 0.0, A_QLE]
    nee = [B_NEE, -B_NEE, 0.0]
    members = [[celm_year(tmp / f"m{k:03d}" / f"monthly_{y}.nc", y, base[y], qle[k], nee[k])
                for y in years] for k in range(3)]
    expect_nep = B_NEE * 1e-3 / 86400.0  # gC m-2 d-1 -> kgC m-2 s-1
    return tmp, central, members, A_QLE, expect_nep


@pytest.fixture(scope="module")
def monthly(ensemble) -> Path:
    tmp, central, members, _, _ = ensemble
    return posterior(tmp, central, members)


def posterior(tmp: Path, central, members, freq="monthly", tag="", **kw) -> Path:
    attrs = GlobalAttrs(model="CELM-A", version="v1", stage="Posterior")
    return conform_run(CelmDriver(), central, tmp / f"out_{freq}{tag}", attrs, 2, freq, 20,
                       members=members, **kw)


def test_post_unc_is_member_std_in_variable_units(ensemble, monthly):
    _, _, _, expect_hfls, expect_nep = ensemble
    path = monthly
    report = check_file(path)
    assert report.ok, report.render()
    assert "post_unc" not in report.render()  # no warning either
    ds = xr.open_dataset(path)
    land = np.isfinite(ds.hfls.values)
    np.testing.assert_allclose(ds.hfls_post_unc.values[land], expect_hfls, rtol=1e-5)
    np.testing.assert_allclose(ds.nep_post_unc.values[land], expect_nep, rtol=1e-4)
    np.testing.assert_allclose(ds.hfss_post_unc.values[land], 0.0, atol=1e-6)
    assert np.isnan(ds.hfls_post_unc.values[~land]).all()  # ocean stays missing
    with netCDF4.Dataset(path) as nc:
        unc = nc["hfls_post_unc"]
        assert unc.units == nc["hfls"].units == "W m-2"
        assert unc.standard_name == "surface_upward_latent_heat_flux standard_error"
        assert unc.ensemble_members == 3
        assert nc["hfls"].ancillary_variables == "hfls_post_unc"
        assert nc["nep_post_unc"].units == "kgC m-2 s-1"
        assert "gpp_post_unc" not in nc.variables  # not optimised


def test_annual_post_unc_is_spread_of_annual_means(ensemble):
    """Annual means built from monthly output; a constant shift keeps its spread exactly."""
    tmp, central, members, expect_hfls, _ = ensemble
    attrs = GlobalAttrs(model="CELM-A", version="v1", stage="Posterior")
    path = conform_run(CelmDriver(annual_from_monthly=True), central, tmp / "annual", attrs, 2,
                       "annual", 20, members=members)
    report = check_file(path)
    assert report.ok, report.render()
    ds = xr.open_dataset(path)
    assert ds.sizes["time"] == 2
    land = np.isfinite(ds.hfls.values)
    np.testing.assert_allclose(ds.hfls_post_unc.values[land], expect_hfls, rtol=1e-5)


def test_configurable_post_unc_variables(ensemble):
    tmp, central, members, _, _ = ensemble
    path = posterior(tmp, central, members, tag="_cfg", post_unc_variables=["hfls", "gpp"])
    with netCDF4.Dataset(path) as nc:
        assert {"hfls_post_unc", "gpp_post_unc"} <= set(nc.variables)
        assert "nep_post_unc" not in nc.variables
    with pytest.raises(ConformError, match="not CalLMIP variables"):
        posterior(tmp, central, members, tag="_bad", post_unc_variables=["NEE"])


def test_prior_with_members_and_single_member_are_refused(ensemble):
    tmp, central, members, _, _ = ensemble
    attrs = GlobalAttrs(model="CELM-A", version="v1", stage="Prior")
    with pytest.raises(ConformError, match="Prior run"):
        conform_run(CelmDriver(), central, tmp / "p", attrs, 2, "monthly", 20, members=members)
    with pytest.raises(ConformError, match="at least 2 ensemble members"):
        posterior(tmp, central, members[:1], tag="_one")


def test_member_with_other_years_is_refused(ensemble):
    tmp, central, members, _, _ = ensemble
    short = [members[0][1:], members[1]]
    with pytest.raises(ConformError, match=r"member 0 .* other times"):
        posterior(tmp, central, short, tag="_short")


def _edited(src: Path, dst: Path, fn) -> Path:
    dst.write_bytes(src.read_bytes())
    with netCDF4.Dataset(dst, "a") as nc:
        fn(nc)
    return dst


def test_checker_rejects_bad_post_unc(monthly, tmp_path):
    good = monthly

    def negative(nc):
        nc["hfls_post_unc"][0, 1, 1] = -1.0

    text = check_file(_edited(good, tmp_path / good.name, negative)).render()
    assert "hfls_post_unc: negative values" in text
    text = check_file(_edited(good, tmp_path / good.name,
                              lambda nc: nc["nep_post_unc"].setncattr("units", "gC m-2 d-1"))
                      ).render()
    assert "nep_post_unc: units 'gC m-2 d-1'; must be nep's units 'kgC m-2 s-1'" in text

    def huge(nc):
        nc["hfss_post_unc"][:] = 5000.0

    assert "exceed the plausible spread" in check_file(
        _edited(good, tmp_path / good.name, huge)).render()

    prior_name = good.name.replace("Posterior", "Prior")
    text = check_file(_edited(good, tmp_path / prior_name,
                              lambda nc: nc.setncattr("Calibration_stage", "Prior"))).render()
    assert "posterior uncertainty in a Prior file" in text


def test_posterior_without_post_unc_gets_a_warning_not_an_error(ensemble):
    tmp, central, _, _, _ = ensemble
    attrs = GlobalAttrs(model="CELM-A", version="v1", stage="Posterior")
    path = conform_run(CelmDriver(), central, tmp / "plain", attrs, 2, "monthly", 20)
    report = check_file(path)
    assert report.ok
    assert "hfls: optimised variable without hfls_post_unc" in report.render()


@settings(max_examples=60, deadline=None)
@given(
    members=st.integers(2, 12).flatmap(
        lambda n: arrays("float64", (n, 3, 2), elements=st.floats(-1e3, 1e3))
    )
)
def test_running_spread_equals_numpy_std(members):
    """Welford's streaming update gives numpy's ddof=1 standard deviation, member by member."""
    spread = RunningSpread()
    for m in members:
        spread.add(m)
    assert spread.n == members.shape[0]
    np.testing.assert_allclose(spread.std(), np.std(members, axis=0, ddof=1), rtol=1e-9,
                               atol=1e-9)
    np.testing.assert_allclose(spread.mean, members.mean(axis=0), rtol=1e-9, atol=1e-9)


def test_post_unc_matches_cdo_ensstd1(ensemble, monthly, tmp_path):
    """Oracle: CDO's ensemble standard deviation (divisor n-1) of the members' mapped hfls."""
    import shutil
    import subprocess

    from callmip.conform import native_to_callmip

    if shutil.which("cdo") is None:
        pytest.skip("cdo not installed")
    _, _, members, _, _ = ensemble
    inputs = []
    for k, files in enumerate(members):
        ds = native_to_callmip(CelmDriver(), files, "monthly", 20)[["hfls"]]
        inputs.append(tmp_path / f"m{k}.nc")
        ds.to_netcdf(inputs[-1], encoding={"time": {"units": "days since 2003-01-01",
                                                    "calendar": "noleap"}})
    out = tmp_path / "std.nc"
    subprocess.run(["cdo", "-s", "ensstd1", *map(str, inputs), str(out)], check=True)
    with xr.open_dataset(out) as cdo, xr.open_dataset(monthly) as ours:
        np.testing.assert_allclose(ours.hfls_post_unc.values, cdo.hfls.values, rtol=1e-5,
                                   atol=1e-6)
