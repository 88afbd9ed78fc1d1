"""CRU-JRA reader: layout, round trip of generated files, and the clear errors for bad files."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forcing.checks import Locator, check_land_block
from forcing.conventions import CRUJRA_FILL_VALUE, CRUJRA_SPECS, CRUJRA_VARIABLES
from forcing.crujra import (
    CrujraReader,
    check_crujra_header,
    crujra_filename,
    crujra_path,
    open_crujra,
)
from forcing.errors import ForcingError
from forcing.grids import lat_centres, lon_centres
from forcing.landmask import crujra_land_mask
from forcing.synthetic import bitround, write_crujra_years
from forcing.weather import Cells, WeatherModel

from .conftest import RES


def _land_cell(path: Path, variable: str) -> tuple[int, int, float, float]:
    with CrujraReader(path, variable) as r:
        cell = int(r.land_index[len(r.land_index) // 3])
        i, j = divmod(cell, r.lon.size)
        return i, j, float(r.lat[i]), float(r.lon[j])


def test_filename_and_path(crujra_dir: Path) -> None:
    assert crujra_filename("tmp", 1901) == "crujra.v2.5.5d.tmp.1901.365d.noc.nc"
    assert crujra_path(crujra_dir, "pre", 1902).name == "crujra.v2.5.5d.pre.1902.365d.noc.nc"
    with pytest.raises(ForcingError, match=r"variable 'pre'.*missing input.*1950"):
        crujra_path(crujra_dir, "pre", 1950)


def test_generated_files_round_trip(crujra_dir: Path) -> None:
    """What the generator simulated is exactly what the reader returns (up to BitRound)."""
    mask = crujra_land_mask(RES)
    lat2, lon2 = np.meshgrid(lat_centres(RES), lon_centres(RES), indexing="ij")
    model = WeatherModel(Cells.from_points(lat2[mask], lon2[mask]), 1902, seed=3)
    expected = {v: [] for v in CRUJRA_VARIABLES}
    for block in model.blocks(32):
        for v in CRUJRA_VARIABLES:
            expected[v].append(bitround(block.six_hourly(v), 12))
    for v in CRUJRA_VARIABLES:
        da = open_crujra(crujra_path(crujra_dir, v, 1902), v)
        assert da.dims == ("time", "lat", "lon") and da.shape == (1460, 36, 72)
        assert da.time.dt.calendar == "noleap"
        assert str(da.time.values[0]) == "1902-01-01 00:00:00"
        assert str(da.time.values[-1]) == "1902-12-31 18:00:00"
        values = da.values.reshape(1460, -1)
        np.testing.assert_array_equal(np.isnan(values), ~mask.ravel()[None, :].repeat(1460, 0))
        np.testing.assert_array_equal(values[:, mask.ravel()], np.concatenate(expected[v]))
        assert da.attrs["units"] == CRUJRA_SPECS[v].units


def test_layout_matches_real_crujra(crujra_dir: Path) -> None:
    with netCDF4.Dataset(crujra_path(crujra_dir, "tmp", 1901)) as ds:
        assert list(ds.variables) == ["time", "lon", "lat", "tmp"]  # varids 1..4 as real
        assert ds["time"].units == "days since 1901-01-01 00:00:00"
        assert ds["time"].calendar == "365_day"
        assert ds["lat"][0] == pytest.approx(-87.5) and ds["lon"][0] == pytest.approx(-177.5)
        assert ds["tmp"]._FillValue == CRUJRA_FILL_VALUE == ds["tmp"].missing_value
        assert ds.dimensions["time"].isunlimited()


def test_gzipped_classic_files_read_the_same(crujra_dir: Path, tmp_path: Path) -> None:
    paths = write_crujra_years(tmp_path, [1902], res_deg=RES, seed=3, gzip=True, variables=["pre"])
    assert paths[0].name.endswith(".365d.noc.nc.gz")
    with gzip.open(paths[0]) as fh:
        assert fh.read(3) == b"CDF"  # classic netCDF inside, as distributed
    a = open_crujra(paths[0], "pre", cache_dir=tmp_path / "cache")
    b = open_crujra(crujra_path(crujra_dir, "pre", 1902), "pre")
    np.testing.assert_array_equal(a.values, b.values)
    assert not list((tmp_path / "cache").glob("*"))  # decompressed copy removed


def test_compressed_netcdf4_reads_the_same(crujra_dir: Path, tmp_path: Path) -> None:
    (path,) = write_crujra_years(tmp_path, [1902], RES, seed=3, variables=["tmax"])
    with netCDF4.Dataset(path) as ds:
        assert ds.data_model == "NETCDF4" and ds["tmax"].filters()["zlib"]
    a = open_crujra(path, "tmax")
    b = open_crujra(crujra_path(crujra_dir, "tmax", 1902), "tmax")
    np.testing.assert_array_equal(a.values, b.values)


@pytest.mark.parametrize("compress", [False, True], ids=["classic", "netcdf4"])
def test_truncated_file(tmp_path: Path, compress: bool) -> None:
    (path,) = write_crujra_years(
        tmp_path, [1901], RES, seed=3, variables=["tmp"], compress=compress
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ForcingError) as err, CrujraReader(path, "tmp") as r:
        r.check_all()
    msg = str(err.value)
    assert path.name in msg and "'tmp'" in msg and "truncated or corrupted" in msg


def test_truncated_gzip(crujra_dir: Path, tmp_path: Path) -> None:
    (path,) = write_crujra_years(tmp_path, [1901], RES, seed=3, gzip=True, variables=["dlwrf"])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ForcingError, match=r"dlwrf.*cannot decompress \(truncated"):
        open_crujra(path, "dlwrf", cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*"))


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / crujra_filename("tmp", 1901)
    path.write_bytes(b"this is not netCDF" * 100)
    with pytest.raises(ForcingError, match="cannot open as netCDF"):
        check_crujra_header(path, "tmp")


def test_wrong_units_attribute(crujra_copy: Path) -> None:
    path = crujra_path(crujra_copy, "tmp", 1901)
    with netCDF4.Dataset(path, "a") as ds:
        ds["tmp"].units = "degC"
    with pytest.raises(ForcingError) as err:
        open_crujra(path, "tmp")
    assert "wrong units 'degC'" in str(err.value) and path.name in str(err.value)


def test_values_in_wrong_units(crujra_copy: Path) -> None:
    """Celsius values under a 'K' label fail the range check, naming value and place."""
    path = crujra_path(crujra_copy, "tmin", 1901)
    with netCDF4.Dataset(path, "a") as ds:
        v = ds["tmin"]
        v.set_auto_mask(False)
        block = v[:8]
        v[:8] = np.where(block == CRUJRA_FILL_VALUE, block, block - 273.15)
    with pytest.raises(ForcingError) as err:
        open_crujra(path, "tmin")
    msg = str(err.value)
    assert "below the physical minimum 170 K" in msg and "1901-01-01" in msg
    assert re.search(r"value -?\d+\.\d+", msg)


def test_missing_variable(crujra_copy: Path) -> None:
    path = crujra_path(crujra_copy, "spfh", 1901)
    with netCDF4.Dataset(path, "a") as ds:
        ds.renameVariable("spfh", "qair")
    with pytest.raises(ForcingError, match=r"variable 'spfh': missing variable.*qair"):
        open_crujra(path, "spfh")


def test_nan_over_land(crujra_copy: Path) -> None:
    path = crujra_path(crujra_copy, "pres", 1901)
    i, j, lat, lon = _land_cell(path, "pres")
    with netCDF4.Dataset(path, "a") as ds:
        ds["pres"][100, i, j] = np.nan
    with pytest.raises(ForcingError) as err:
        open_crujra(path, "pres")
    msg = str(err.value)
    assert "NaN over land" in msg and path.name in msg and "'pres'" in msg
    assert f"lat {lat:.3f}, lon {lon:.3f}" in msg and "(step 100)" in msg
    assert "1901-01-26 00:00:00" in msg  # step 100 = day 25, 00 UTC


def test_negative_precipitation(crujra_copy: Path) -> None:
    path = crujra_path(crujra_copy, "pre", 1901)
    i, j, lat, _ = _land_cell(path, "pre")
    with netCDF4.Dataset(path, "a") as ds:
        ds["pre"][1000, i, j] = -0.5
    with pytest.raises(
        ForcingError, match=r"below the physical minimum 0 mm/6h \(negative\)"
    ) as err:
        open_crujra(path, "pre")
    assert "value -0.5" in str(err.value) and f"lat {lat:.3f}" in str(err.value)


def test_fill_value_over_land(crujra_copy: Path) -> None:
    path = crujra_path(crujra_copy, "ugrd", 1901)
    i, j, _, _ = _land_cell(path, "ugrd")
    with netCDF4.Dataset(path, "a") as ds:
        ds["ugrd"].set_auto_mask(False)
        ds["ugrd"][7, i, j] = CRUJRA_FILL_VALUE
    with pytest.raises(ForcingError, match=r"missing value \(fill\) over a land cell"):
        open_crujra(path, "ugrd")


def test_wrong_calendar_and_length(crujra_copy: Path) -> None:
    path = crujra_path(crujra_copy, "dswrf", 1901)
    with netCDF4.Dataset(path, "a") as ds:
        ds["time"].calendar = "gregorian"
    with pytest.raises(ForcingError, match="calendar 'gregorian', expected a 365-day calendar"):
        check_crujra_header(path, "dswrf")


def test_file_of_another_year(crujra_copy: Path) -> None:
    src = crujra_path(crujra_copy, "tmp", 1901)
    dst = src.with_name(crujra_filename("tmp", 1903))
    shutil.copy(src, dst)
    with pytest.raises(ForcingError, match=r"first time step is 1901-01-01.*expected 1903"):
        check_crujra_header(dst, "tmp")


# --------------------------------------------------------------- property tests of the checks
_LAT = np.array([-30.0, 10.0, 50.0])
_LON = np.array([-100.0, 0.0, 100.0, 170.0])


@st.composite
def _blocks(draw):
    nt = draw(st.integers(4, 12))
    land = np.array(sorted(draw(st.sets(st.integers(0, 11), min_size=1, max_size=11))))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    raw = np.full((nt, 12), CRUJRA_FILL_VALUE, dtype=np.float32)
    raw[:, land] = rng.uniform(250.0, 300.0, (nt, land.size)).astype(np.float32)
    s = draw(st.integers(0, nt - 1))
    k = draw(st.integers(0, land.size - 1))
    return raw, land, s, k


_FILLS = np.array([CRUJRA_FILL_VALUE], dtype=np.float32)


def _loc() -> Locator:
    return Locator("f.nc", "tmp", _LAT, _LON, [f"t{i}" for i in range(20)])


@given(_blocks(), st.sampled_from(["nan", "cold", "hot"]))
@settings(max_examples=60, deadline=None)
def test_checks_report_the_injected_value(block, kind) -> None:
    raw, land, s, k = block
    bad = {"nan": np.nan, "cold": 100.0, "hot": 400.0}[kind]
    raw[s, land[k]] = bad
    with pytest.raises(ForcingError) as err:
        check_land_block(raw, _FILLS, land, 12 - land.size, 0, _loc(), CRUJRA_SPECS["tmp"])
    i, j = divmod(int(land[k]), 4)
    assert f"time t{s} (step {s}), lat {_LAT[i]:.3f}, lon {_LON[j]:.3f}" in str(err.value)


@given(_blocks())
@settings(max_examples=30, deadline=None)
def test_checks_pass_clean_blocks_and_return_land_values(block) -> None:
    raw, land, _, _ = block
    vals = check_land_block(raw, _FILLS, land, 12 - land.size, 0, _loc(), CRUJRA_SPECS["tmp"])
    np.testing.assert_array_equal(vals, raw[:, land])


@given(_blocks(), st.sampled_from(["fill on land", "data on ocean", "NaN on ocean"]))
@settings(max_examples=40, deadline=None)
def test_checks_catch_a_changing_land_sea_mask(block, kind) -> None:
    raw, land, s, k = block
    ocean = np.setdiff1d(np.arange(12), land)
    if kind == "fill on land":
        raw[s, land[k]] = CRUJRA_FILL_VALUE
        match = "fill"
    elif ocean.size == 0:
        return
    else:
        raw[s, ocean[k % ocean.size]] = 280.0 if kind == "data on ocean" else np.nan
        match = "land-sea mask changes"
    with pytest.raises(ForcingError, match=match):
        check_land_block(raw, _FILLS, land, 12 - land.size, 0, _loc(), CRUJRA_SPECS["tmp"])
