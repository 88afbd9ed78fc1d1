"""ESMF and SCRIP weight files: round trips, foreign layouts, conventions and bad files."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
import xarray as xr

from regrid import Grid, GridMismatchError, Regridder, WeightsFileError, read_weights

SRC = Grid.regional(1.0, -30.0, 40.0, 150.0, 230.0)  # regional, across the dateline
DST = Grid.global_regular(4.0, lon0=0.0)  # partially covered cells on the region's rim


@pytest.fixture(scope="module")
def regridder() -> Regridder:
    return Regridder(SRC, DST)


@pytest.mark.parametrize("fmt", ["esmf", "scrip"])
def test_round_trip_is_exact_in_destination_area_convention(regridder, tmp_path, fmt):
    path = regridder.to_netcdf(tmp_path / f"w_{fmt}.nc", format=fmt)
    wf = read_weights(path)
    assert wf.format == fmt and wf.method == "conservative"
    wf.check_grids(SRC, DST)
    rows = np.asarray(regridder.weights.sum(axis=1)).ravel()
    assert 0 < rows[rows > 0].min() < 0.99  # partial cells are exercised
    np.testing.assert_allclose(wf.weights.toarray(), regridder.weights.toarray(),
                               rtol=1e-14, atol=1e-16)


def test_scrip_file_is_fracarea_as_cdo_applies_it(regridder, tmp_path):
    path = regridder.to_netcdf(tmp_path / "w.nc", format="scrip")
    with netCDF4.Dataset(path) as nc:
        assert nc.conventions == "SCRIP" and nc.normalization == "fracarea"
        assert nc.map_method == "Conservative remapping using clipping on sphere"
        s = nc["remap_matrix"][:, 0]
        dst = nc["dst_address"][:] - 1
        sums = np.bincount(dst, weights=s, minlength=DST.size)
        np.testing.assert_allclose(sums[sums > 0], 1.0, rtol=1e-13)
        frac = nc["dst_grid_frac"][:]
        np.testing.assert_allclose(frac, np.asarray(regridder.weights.sum(axis=1)).ravel())
        assert nc["src_grid_dims"][:].tolist() == [SRC.lon.size, SRC.lat.size]
        np.testing.assert_allclose(nc["src_grid_area"][:].sum() * 6_371_000.0**2,
                                   SRC.cell_area().sum(), rtol=1e-13)


def test_esmf_file_layout(regridder, tmp_path):
    path = regridder.to_netcdf(tmp_path / "w.nc")
    with netCDF4.Dataset(path) as nc:
        for name in ("S", "row", "col", "xc_a", "yc_b", "xv_a", "yv_b", "area_a", "frac_b",
                     "mask_b", "src_grid_dims", "dst_grid_dims"):
            assert name in nc.variables, name
        assert nc.normalization == "destarea" and nc.conventions == "NCAR-CSM"
        assert nc["row"][:].min() >= 1 and nc["col"][:].min() == 1  # 1-based
        assert nc.dimensions["n_a"].size == SRC.size


def test_xesmf_style_file_with_only_s_row_col(regridder, tmp_path):
    w = regridder.weights.tocoo()
    xr.Dataset({"S": ("n_s", w.data), "row": ("n_s", w.row + 1),
                "col": ("n_s", w.col + 1)}).to_netcdf(tmp_path / "xesmf.nc")
    from_file = Regridder.from_weights_file(tmp_path / "xesmf.nc", SRC, DST)
    assert from_file.method == "file"
    x = xr.DataArray(np.random.default_rng(0).normal(size=SRC.shape), dims=("lat", "lon"),
                     coords={"lat": SRC.lat, "lon": SRC.lon})
    xr.testing.assert_allclose(from_file(x), regridder(x))


def test_scrip_none_normalisation_is_divided_by_destination_area(regridder, tmp_path):
    path = regridder.to_netcdf(tmp_path / "w.nc", format="scrip")
    with netCDF4.Dataset(path, "a") as nc:
        frac = nc["dst_grid_frac"][:]
        area = nc["dst_grid_area"][:]
        dst = nc["dst_address"][:] - 1
        nc["remap_matrix"][:, 0] = nc["remap_matrix"][:, 0] * frac[dst] * area[dst]
        nc.normalization = "none"
    np.testing.assert_allclose(read_weights(path).weights.toarray(),
                               regridder.weights.toarray(), rtol=1e-13, atol=1e-16)


def test_wrong_grids_are_named(regridder, tmp_path):
    path = regridder.to_netcdf(tmp_path / "w.nc")
    with pytest.raises(GridMismatchError, match=r"w\.nc.*maps 5600 source cells"):
        Regridder.from_weights_file(path, Grid.global_regular(4.0), DST)
    flipped = Grid(SRC.lat[::-1], SRC.lon, SRC.lat_bounds[::-1], SRC.lon_bounds)
    with pytest.raises(GridMismatchError, match="latitude runs the other way"):
        Regridder.from_weights_file(path, flipped, DST)
    shifted = Grid(SRC.lat, SRC.lon + 1.0, SRC.lat_bounds, SRC.lon_bounds + 1.0)
    with pytest.raises(GridMismatchError, match="source cell 0 is centred"):
        Regridder.from_weights_file(path, shifted, DST)


def test_bad_files_are_named(tmp_path):
    not_nc = tmp_path / "junk.nc"
    not_nc.write_text("hello")
    with pytest.raises(WeightsFileError, match=r"cannot open weights file .*junk\.nc"):
        read_weights(not_nc)
    other = tmp_path / "other.nc"
    xr.Dataset({"tas": ("x", [1.0])}).to_netcdf(other)
    with pytest.raises(WeightsFileError, match=r"other\.nc' is not a weights file"):
        read_weights(other)
    bad = tmp_path / "bad.nc"
    xr.Dataset({"S": ("n_s", [1.0]), "row": ("n_s", [0]), "col": ("n_s", [1])},
               ).to_netcdf(bad)
    with pytest.raises(WeightsFileError, match="destination index out of range"):
        read_weights(bad)


def test_failed_write_leaves_no_partial_file(regridder, tmp_path):
    target = tmp_path / "w.nc"
    target.write_text("previous content")
    with pytest.raises(WeightsFileError):
        regridder.to_netcdf(target, format="grib")  # type: ignore[arg-type]
    assert target.read_text() == "previous content"
    assert list(tmp_path.iterdir()) == [target]
