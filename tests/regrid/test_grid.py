"""Grid: bounds derivation, clipping, conventions, CF round trip, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from regrid import EARTH_RADIUS_M, Grid, GridError

FLUXCOM_LE = (Path(__file__).resolve().parents[2]
              / "data/ILAMB_ROOT/DATA/Latent_Heat/FLUXCOM/le.nc")


def test_global_regular_edges_and_area():
    g = Grid.global_regular(0.5)
    assert g.shape == (360, 720)
    assert g.lat_bounds[0, 0] == -90.0 and g.lat_bounds[-1, 1] == 90.0
    assert g.lon_bounds[0, 0] == -180.0 and g.lon_bounds[-1, 1] == 180.0
    assert g.is_global_lon
    area = g.cell_area()
    assert area.shape == g.shape
    assert area.sum() == pytest.approx(4 * np.pi * EARTH_RADIUS_M**2, rel=1e-13)
    # symmetric about the equator, largest at the equator
    np.testing.assert_allclose(area[:, 0], area[::-1, 0], rtol=1e-12)
    assert area[180, 0] == area[:, 0].max()


def test_fluxcom_reference_grid_bounds_are_clipped_at_the_pole():
    ds = xr.open_dataset(FLUXCOM_LE)
    g = Grid.from_dataset(ds)
    assert g.shape == (90, 180)
    assert g.lat[0] == -89.75 and g.lat[-1] == 88.25
    # the derived first bound would be -90.75: clipped to -90
    np.testing.assert_array_equal(g.lat_bounds[0], [-90.0, -88.75])
    np.testing.assert_array_equal(g.lat_bounds[-1], [87.25, 89.25])
    np.testing.assert_array_equal(g.lon_bounds[0], [-180.75, -178.75])
    assert g.is_global_lon  # 180 x 2 degrees close the circle despite the offset
    # the grid covers everything but the 89.25..90 cap
    cap = 2 * np.pi * EARTH_RADIUS_M**2 * (1 - np.sin(np.deg2rad(89.25)))
    assert g.cell_area().sum() == pytest.approx(4 * np.pi * EARTH_RADIUS_M**2 - cap,
                                                rel=1e-12)


def test_bounds_from_cf_attribute_and_round_trip():
    g = Grid.regional(0.25, 10.0, 12.0, 350.0, 370.0)  # crosses the 0 meridian in 0..360
    ds = g.to_dataset()
    assert ds["lat"].attrs["bounds"] == "lat_bnds"
    assert ds["lon"].attrs["units"] == "degrees_east"
    back = Grid.from_dataset(ds)
    assert back == g
    np.testing.assert_array_equal(back.lon_bounds, g.lon_bounds)


def test_file_bounds_are_used_not_derived(tmp_path):
    # irregular centres that could not be bounded, but the file has bounds: fine
    edges = np.array([0.0, 1.0, 2.0, 10.0, 11.0])
    lat = 0.5 * (edges[1:] + edges[:-1])
    ds = xr.Dataset(coords={
        "lat": ("lat", lat, {"bounds": "lat_bnds", "units": "degrees_north"}),
        "lon": ("lon", [0.5, 1.5], {"units": "degrees_east"}),
        "lat_bnds": (("lat", "nv"), np.column_stack([edges[:-1], edges[1:]])),
    })
    path = tmp_path / "irregular.nc"
    ds.to_netcdf(path)
    g = Grid.from_dataset(xr.open_dataset(path))
    np.testing.assert_array_equal(g.lat_bounds[2], [2.0, 10.0])
    assert not g.is_global_lon


def test_irregular_spacing_without_bounds_names_the_coordinate(tmp_path):
    ds = xr.Dataset(coords={"latitude": ("latitude", [0.5, 1.5, 2.5, 9.5, 10.5],
                                         {"standard_name": "latitude"}),
                            "longitude": ("longitude", [0.5, 1.5],
                                          {"standard_name": "longitude"})})
    path = tmp_path / "gappy.nc"
    ds.to_netcdf(path)
    with pytest.raises(GridError, match=r"gappy\.nc.*'latitude'.*irregular spacing.*from 1 to 7 degrees"):
        Grid.from_dataset(xr.open_dataset(path))


def test_smoothly_varying_spacing_uses_midpoints():
    lat = np.array([-80.0, -60.0, -41.0, -22.5, -4.5, 13.0])  # Gaussian-like, not regular
    g = Grid.from_centres(lat, np.arange(0.5, 360, 1.0))
    np.testing.assert_allclose(g.lat_bounds[1], [-70.0, -50.5])
    assert g.lat_bounds[0, 0] == -90.0  # -80 - 10 = -90


@pytest.mark.parametrize("lon0", [-180.0, 0.0, 37.5])
def test_longitude_conventions_give_global_grids(lon0):
    lon = lon0 + 0.25 + 0.5 * np.arange(720)
    lon = np.where(lon >= 180.0, lon - 360.0, lon) if lon0 == 37.5 else lon  # wrapped
    g = Grid.from_centres(np.arange(-89.75, 90, 0.5), lon)
    assert g.is_global_lon
    west, width = g.lon_intervals()
    np.testing.assert_allclose(width, 0.5)
    assert np.all((g.lon - west) == pytest.approx(0.25))


def test_north_to_south_latitude():
    g = Grid.from_centres(np.arange(89.75, -90, -0.5), np.arange(-179.75, 180, 0.5))
    assert g.lat_bounds[0].tolist() == [90.0, 89.5]
    assert g.lat_bounds[-1].tolist() == [-89.5, -90.0]
    assert g.cell_area().sum() == pytest.approx(4 * np.pi * EARTH_RADIUS_M**2, rel=1e-13)


def test_float32_coordinates_snap_to_the_exact_grid():
    exact = Grid.global_regular(0.05)
    g = Grid.from_centres(exact.lat.astype(np.float32), exact.lon.astype(np.float32))
    np.testing.assert_allclose(g.lat_bounds, exact.lat_bounds, atol=1e-9)
    np.testing.assert_allclose(g.lon_bounds, exact.lon_bounds, atol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lat": [0.0, 1.0, 1.0], "lon": [0.0, 1.0]}, "strictly monotonic"),
        ({"lat": [0.0, 1.0], "lon": [3.0, 2.0, 1.0]}, "increase eastwards"),
        ({"lat": [[0.0, 1.0]], "lon": [0.0, 1.0]}, "1-D"),
        ({"lat": [5.0], "lon": [0.0, 1.0]}, "single value"),
    ],
)
def test_bad_centres(kwargs, match):
    with pytest.raises(GridError, match=match):
        Grid.from_centres(**kwargs)


def test_bad_bounds():
    with pytest.raises(GridError, match="outside its bounds"):
        Grid(np.array([0.5, 5.0]), np.array([0.5]), np.array([[0, 1], [1, 2]]),
             np.array([[0, 1]]))
    with pytest.raises(GridError, match="overlap"):
        Grid(np.array([0.5, 1.5]), np.array([0.5]), np.array([[0, 1.2], [1, 2]]),
             np.array([[0, 1]]))
    with pytest.raises(GridError, match="outside \\[-90, 90\\]"):
        Grid(np.array([89.0]), np.array([0.5]), np.array([[88, 91]]), np.array([[0, 1]]))
    with pytest.raises(GridError, match="> 360"):
        Grid(np.array([0.5]), np.array([90.0, 270.0]), np.array([[0, 1]]),
             np.array([[0.0, 190.0], [180.0, 360.0]]))


def test_regional_requires_whole_cells():
    with pytest.raises(GridError, match="not a whole number"):
        Grid.regional(0.3, 0, 1, 0, 1)


def test_hash_is_geometry_only_and_stable():
    a = Grid.global_regular(1.0)
    b = Grid.from_centres(a.lat, a.lon, lat_name="latitude", lon_name="longitude")
    assert a.hash() == b.hash() and a == b
    assert a.hash() != Grid.global_regular(1.0, lon0=0.0).hash()
    assert len({a, b}) == 1


def test_curvilinear_is_rejected_with_a_pointer():
    lat2 = np.zeros((2, 3))
    ds = xr.Dataset(coords={"lat": (("y", "x"), lat2, {"standard_name": "latitude"}),
                            "lon": (("y", "x"), lat2, {"standard_name": "longitude"})})
    with pytest.raises(GridError, match="curvilinear"):
        Grid.from_dataset(ds)


def test_missing_coordinate_is_reported():
    with pytest.raises(GridError, match="no latitude coordinate"):
        Grid.from_dataset(xr.Dataset(coords={"x": [1, 2]}))
