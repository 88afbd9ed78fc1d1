"""regrid_file: streamed netCDF file-to-file regridding equals the xarray path."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
import xarray as xr

from regrid import Grid, Regridder, RegridError, regrid_file

SRC = Grid.global_regular(2.0)
DST = Grid.global_regular(5.0, lon0=0.0)


def _xarray_path(path, default_fill=None):
    ds = xr.open_dataset(path)
    if default_fill is not None:  # xarray does not mask netCDF's default fill by itself
        ds["tas"] = ds["tas"].where(ds["tas"] != default_fill)
    return Regridder(Grid.from_dataset(ds), DST)(ds)


@pytest.mark.parametrize("fill", [np.float32(1e20), np.float32(np.nan), None])
@pytest.mark.parametrize("chunk_bytes", [2**30, 40_000])
def test_equals_xarray_path(tmp_path, make_land_field, fill, chunk_bytes):
    ds = make_land_field(SRC.lat, SRC.lon, n_time=7)
    ds["time_bnds"] = (("time", "nv"), np.arange(14.0).reshape(7, 2))
    ds["co2"] = ("time", np.linspace(370, 380, 7), {"units": "ppm"})
    encoding = {"tas": {"_FillValue": fill}} if fill is not None else {}
    if fill is None:  # no _FillValue attribute: netCDF's default fill marks missing data
        ds["tas"] = ds["tas"].fillna(netCDF4.default_fillvals["f4"])
        encoding = {"tas": {"_FillValue": None}}
    ds.to_netcdf(tmp_path / "in.nc", encoding=encoding)
    out = regrid_file(tmp_path / "in.nc", tmp_path / "out.nc", DST, chunk_bytes=chunk_bytes)
    got = xr.open_dataset(out)
    default = np.float32(netCDF4.default_fillvals["f4"])
    want = _xarray_path(tmp_path / "in.nc", default if fill is None else None)
    if fill is None:
        got["tas"] = got["tas"].where(got["tas"] != default)
    np.testing.assert_array_equal(np.isnan(got["tas"].values), np.isnan(want["tas"].values))
    np.testing.assert_allclose(got["tas"].values, want["tas"].values, rtol=1e-6)
    assert got["tas"].dtype == np.float32
    assert got["tas"].attrs["cell_methods"] == "time: mean area: mean"
    xr.testing.assert_identical(got["co2"], ds["co2"])
    np.testing.assert_array_equal(got["time_bnds"], ds["time_bnds"])
    assert Grid.from_dataset(got) == DST
    assert "regridded (conservative)" in got.attrs["history"]


def test_packed_int16_is_unpacked(tmp_path, make_land_field):
    ds = make_land_field(SRC.lat, SRC.lon, n_time=2)
    ds.to_netcdf(tmp_path / "in.nc", encoding={"tas": {
        "dtype": "int16", "scale_factor": 0.01, "add_offset": 280.0, "_FillValue": -32768}})
    got = xr.open_dataset(regrid_file(tmp_path / "in.nc", tmp_path / "out.nc", DST))
    want = _xarray_path(tmp_path / "in.nc")
    assert got["tas"].dtype == np.float32 and "scale_factor" not in got["tas"].encoding
    np.testing.assert_array_equal(np.isnan(got["tas"].values), np.isnan(want["tas"].values))
    np.testing.assert_allclose(got["tas"].values, want["tas"].values, rtol=1e-6)


def test_wrong_dimension_order_is_refused_and_nothing_written(tmp_path, make_land_field):
    ds = make_land_field(SRC.lat, SRC.lon, n_time=2)
    ds["tas"].transpose("time", "lon", "lat").to_dataset().to_netcdf(tmp_path / "in.nc")
    (tmp_path / "out.nc").write_text("keep me")
    with pytest.raises(RegridError, match=r"in\.nc.*'tas'.*needs \(\.\.\., lat, lon\) last"):
        regrid_file(tmp_path / "in.nc", tmp_path / "out.nc", DST)
    assert (tmp_path / "out.nc").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.nc", "out.nc"]


def test_prebuilt_regridder_must_match(tmp_path, make_land_field):
    make_land_field(SRC.lat, SRC.lon, n_time=1).to_netcdf(tmp_path / "in.nc")
    wrong = Regridder(Grid.global_regular(4.0), DST)
    with pytest.raises(RegridError, match="differs from the regridder's source grid"):
        regrid_file(tmp_path / "in.nc", tmp_path / "out.nc", DST, regridder=wrong)
    right = Regridder(SRC, DST, "bilinear")
    got = xr.open_dataset(regrid_file(tmp_path / "in.nc", tmp_path / "o.nc", DST,
                                      regridder=right))
    assert got["tas"].attrs["regrid_method"] == "bilinear"
