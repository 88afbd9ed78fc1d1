"""Regridder on xarray objects: dims, dask, Datasets, CF metadata, cache, errors."""

from __future__ import annotations

import logging

import dask
import numpy as np
import pytest
import xarray as xr

from regrid import Grid, GridMismatchError, Regridder, RegridError, regrid_to
from regrid.weights import read_weights

SRC = Grid.global_regular(2.0)
DST = Grid.global_regular(5.0, lon0=0.0)


@pytest.fixture
def ds(make_land_field):
    return make_land_field(SRC.lat, SRC.lon, n_time=6)


def test_dataarray_dims_coords_and_attrs(ds):
    da = ds["tas"].transpose("lat", "time", "lon")  # unusual order is kept
    out = Regridder(SRC, DST)(da)
    assert out.dims == ("lat", "time", "lon")
    assert out.shape == (36, 6, 72)
    np.testing.assert_array_equal(out["lat"], DST.lat)
    np.testing.assert_array_equal(out["lon"], DST.lon)
    xr.testing.assert_identical(out["time"], da["time"])
    assert out.dtype == np.float32
    assert out.attrs["units"] == "K" and out.attrs["standard_name"] == "air_temperature"
    assert out.attrs["cell_methods"] == "time: mean area: mean"
    assert out.attrs["regrid_method"] == "conservative"
    assert out["lat"].attrs["units"] == "degrees_north"
    assert da.attrs["cell_methods"] == "time: mean"  # input untouched


def test_dask_chunked_equals_eager_and_stays_lazy(ds):
    regridder = Regridder(SRC, DST)
    eager = regridder(ds["tas"])
    lazy = regridder(ds["tas"].chunk({"time": 2, "lat": 30}))
    assert lazy.chunks is not None and lazy.chunks[0] == (2, 2, 2)
    with dask.config.set(scheduler="threads"):
        xr.testing.assert_identical(lazy.compute(), eager)


def test_dataset_regrids_spatial_variables_and_passes_others(ds, caplog):
    ds = ds.assign(
        co2=("time", np.arange(6.0)),
        zonal=("lat", np.ones(SRC.lat.size)),
    )
    ds = xr.merge([ds, SRC.to_dataset()])  # carries lat_bnds/lon_bnds like a CF file
    with caplog.at_level(logging.WARNING):
        out = Regridder(SRC, DST)(ds)
    assert set(out.data_vars) == {"tas", "co2"}
    assert "zonal" in caplog.text
    xr.testing.assert_identical(out["co2"], ds["co2"])
    np.testing.assert_array_equal(out["lat_bnds"], DST.lat_bounds)
    assert out.attrs["history"].startswith(tuple("0123456789"))
    assert out.attrs["history"].endswith("made by the regrid tests")
    assert out.attrs["title"] == "synthetic land field"
    assert Grid.from_dataset(out) == DST


def test_netcdf_round_trip_of_output(ds, tmp_path):
    out = Regridder(SRC, DST)(ds)
    path = tmp_path / "out.nc"
    out.to_netcdf(path)
    back = xr.open_dataset(path)
    assert Grid.from_dataset(back) == DST
    np.testing.assert_array_equal(back["tas"].values, out["tas"].values)


def test_valid_fraction_conserves_and_matches_nan_pattern(ds):
    regridder = Regridder(SRC, DST)
    out = regridder(ds["tas"])
    frac = regridder.valid_fraction(ds["tas"])
    assert frac.dims == ("lat", "lon") and frac.attrs["units"] == "1"
    assert float(frac.min()) >= 0.0 and float(frac.max()) <= 1.0 + 1e-12
    coastal = (frac > 0.01) & (frac < 0.99)
    assert int(coastal.sum()) > 50
    np.testing.assert_array_equal(np.isnan(out.isel(time=0).values), frac.values == 0)
    x = ds["tas"].isel(time=0).values.astype(float)
    src_int = np.nansum(SRC.cell_area() * x)
    dst_int = np.nansum(DST.cell_area() * frac.values * out.isel(time=0).values)
    assert dst_int == pytest.approx(src_int, rel=1e-6)  # float32 output
    mask = ds["tas"].isel(time=0).notnull()
    xr.testing.assert_allclose(regridder.valid_fraction(mask), frac)


def test_coastal_cells_are_not_diluted(make_land_field):
    src = Grid.global_regular(1.0)
    ds = make_land_field(src.lat, src.lon, n_time=1)
    ds["tas"][:] = ds["tas"].where(ds["tas"].isnull(), 300.0)  # land exactly 300 K
    out = Regridder(src, Grid.global_regular(3.0))(ds["tas"])
    vals = out.values[~np.isnan(out.values)]
    np.testing.assert_allclose(vals, 300.0, rtol=1e-6)
    diluted = Regridder(src, Grid.global_regular(3.0))(ds["tas"].fillna(0.0))
    assert float(diluted.min()) < 299.0  # what NaN-as-zero would have done


def test_src_fraction_in_percent(ds):
    sftlf = xr.DataArray(np.full(SRC.shape, 50.0), dims=("lat", "lon"),
                         coords={"lat": SRC.lat, "lon": SRC.lon}, attrs={"units": "%"})
    regridder = Regridder(SRC, DST)
    half = regridder.valid_fraction(ds["tas"], src_fraction=sftlf)
    full = regridder.valid_fraction(ds["tas"])
    xr.testing.assert_allclose(half, full * 0.5)
    xr.testing.assert_allclose(regridder(ds["tas"], src_fraction=sftlf), regridder(ds["tas"]))


def test_weights_cache_is_written_and_reused(tmp_path, ds):
    first = Regridder(SRC, DST, cache_dir=tmp_path)
    path = first.weights_path
    assert path is not None and path.exists() and path.parent == tmp_path
    assert read_weights(path).format == "esmf"
    stamp = path.stat().st_mtime_ns
    second = Regridder(SRC, DST, cache_dir=tmp_path)
    assert second.weights_path == path and path.stat().st_mtime_ns == stamp
    assert (first.weights != second.weights).nnz == 0
    other = Regridder(SRC, DST, "bilinear", cache_dir=tmp_path)
    assert other.weights_path != path
    assert len(list(tmp_path.glob("*.nc"))) == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_corrupt_cache_entry_is_rebuilt(tmp_path, caplog):
    path = Regridder(SRC, DST, cache_dir=tmp_path).weights_path
    path.write_bytes(b"not netcdf")
    with caplog.at_level(logging.WARNING):
        again = Regridder(SRC, DST, cache_dir=tmp_path)
    assert "ignoring unusable cached weights" in caplog.text
    assert read_weights(path).weights.nnz == again.weights.nnz


def test_regrid_to_with_dataset_target(ds):
    target = DST.to_dataset()
    out = regrid_to(ds, target, method="bilinear")
    assert Grid.from_dataset(out) == DST
    assert out["tas"].attrs["regrid_method"] == "bilinear"
    assert "area: mean" not in out["tas"].attrs["cell_methods"]


def test_mismatched_data_is_rejected(ds):
    regridder = Regridder(SRC, DST)
    with pytest.raises(GridMismatchError, match="other way"):
        regridder(ds["tas"].isel(lat=slice(None, None, -1)))
    with pytest.raises(GridMismatchError, match="has 45 cells"):
        regridder(ds["tas"].isel(lat=slice(0, 45)))
    with pytest.raises(RegridError, match="unknown regridding method"):
        Regridder(SRC, DST, "cubic")  # type: ignore[arg-type]
    with pytest.raises(RegridError, match="unknown regrid backend"):
        Regridder(SRC, DST, backend="esmf")


def test_lon_convention_of_data_may_differ_by_360(ds):
    shifted = ds["tas"].assign_coords(lon=(ds["lon"] % 360.0))
    xr.testing.assert_identical(Regridder(SRC, DST)(shifted), Regridder(SRC, DST)(ds["tas"]))
