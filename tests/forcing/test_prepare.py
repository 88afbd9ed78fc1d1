"""Model-ready output from CRU-JRA: values, conservation, land fraction, idempotency, errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import tracemalloc
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from forcing.conventions import CRUJRA_FILL_VALUE, MODEL_VARIABLE_NAMES, MODEL_VARIABLES
from forcing.crujra import CrujraReader, crujra_path, open_crujra
from forcing.errors import ForcingError
from forcing.landregrid import LandRegridder
from forcing.manifest import fingerprint, is_complete, manifest_path, read_manifest
from forcing.modelready import check_model_ready
from forcing.prepare import prepare_variable_year, prepare_year, year_inputs
from regrid import Grid, Regridder

TARGET = 7.5  # does not nest with the 5-degree source: cells overlap partially


@pytest.fixture(scope="module")
def met_1901(crujra_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("met")
    return prepare_year(crujra_dir, 1901, TARGET, out)


def _daily(da: xr.DataArray, how: str) -> xr.DataArray:
    days = da.coarsen(time=4)
    return {"mean": days.mean, "max": days.max, "min": days.min}[how]()


def test_model_ready_layout(met_1901: Path) -> None:
    check_model_ready(met_1901)
    with netCDF4.Dataset(met_1901) as ds:
        assert ds["time"].units == "days since 1901-01-01 00:00:00"
        assert ds["time"].calendar == "noleap" and ds["time"].shape == (365,)
        np.testing.assert_allclose(ds["time"][:2], [0.5, 1.5])
        np.testing.assert_allclose(ds["time_bnds"][0], [0.0, 1.0])
        assert ds["lat"][0] == pytest.approx(-86.25) and ds["lon"][0] == pytest.approx(-176.25)
        np.testing.assert_allclose(ds["lat_bnds"][0], [-90.0, -82.5])
        for name in MODEL_VARIABLE_NAMES:
            var = ds[name]
            assert var.dtype == np.float32 and var.dimensions == ("time", "lat", "lon")
            assert var.units == MODEL_VARIABLES[name].units
            assert var.standard_name == MODEL_VARIABLES[name].standard_name
        assert "SYNTHETIC" in ds.source
        assert "crujra.v2.5.5d.tmp.1901.365d.noc.nc" in ds.provenance_inputs
        assert '"target_res_deg": 7.5' in ds.provenance_params


@pytest.mark.parametrize(
    ("name", "sources", "how", "scale"),
    [
        ("tas", ("tmp",), "mean", 1.0),
        ("tasmax", ("tmax",), "max", 1.0),
        ("tasmin", ("tmin",), "min", 1.0),
        ("pr", ("pre",), "mean", 1.0 / 21600.0),
        ("rsds", ("dswrf",), "mean", 1.0 / 21600.0),
        ("huss", ("spfh",), "mean", 1.0),
        ("sfcWind", ("ugrd", "vgrd"), "mean", 1.0),
    ],
)
def test_values_equal_xarray_plus_regrid_package(
    crujra_dir: Path, met_1901: Path, name: str, sources: tuple, how: str, scale: float
) -> None:
    """Our streamed land-vector pipeline equals the straightforward xarray computation:
    daily reduction, then ``regrid.Regridder(..., 'conservative')(da, skipna=True)``."""
    das = [open_crujra(crujra_path(crujra_dir, v, 1901), v).astype("float64") for v in sources]
    six = np.sqrt(das[0] ** 2 + das[1] ** 2) if name == "sfcWind" else das[0]
    daily = _daily(six, how) * scale
    src = Grid.from_dataset(daily)
    expected = Regridder(src, Grid.global_regular(TARGET), "conservative")(daily, skipna=True)
    got = xr.open_dataset(met_1901)[name]
    np.testing.assert_array_equal(np.isnan(got.values), np.isnan(expected.values))
    np.testing.assert_allclose(got.values, expected.values, rtol=2e-6, equal_nan=True)


def test_land_area_integral_of_precipitation_is_conserved(crujra_dir: Path, met_1901: Path) -> None:
    pre = open_crujra(crujra_path(crujra_dir, "pre", 1901), "pre")
    src_area = Grid.from_dataset(pre).cell_area()
    src_total = (np.nan_to_num(_daily(pre.astype("float64"), "mean").values) * src_area).sum((1, 2))
    met = xr.open_dataset(met_1901)
    dst_area = Grid.from_dataset(met).cell_area()
    dst_total = np.nan_to_num(met.pr.values.astype("float64")) * met.landfrac.values * dst_area
    np.testing.assert_allclose(dst_total.sum((1, 2)) * 21600.0, src_total, rtol=1e-6)
    # and the land area itself
    land = ~np.isnan(pre.isel(time=0).values)
    # landfrac is stored as float32
    np.testing.assert_allclose(
        (met.landfrac.values * dst_area).sum(), src_area[land].sum(), rtol=1e-6
    )
    assert np.all(np.isnan(met.pr.values[:, met.landfrac.values == 0]))
    assert np.all(np.isfinite(met.pr.values[:, met.landfrac.values > 0]))


@given(st.sampled_from([2.0, 2.5, 3.0, 4.0, 6.0, 9.0, 10.0, 12.0, 20.0]), st.integers(0, 2**31))
@settings(max_examples=8, deadline=None)
def test_land_regridding_conserves_integrals_property(res: float, seed: int) -> None:
    """For any target grid and any land field, the conservative land regrid preserves the
    land-area integral (the property the model's water and energy budgets rely on)."""
    rng = np.random.default_rng(seed)
    lat = np.arange(-87.5, 90.0, 5.0)
    lon = np.arange(-177.5, 180.0, 5.0)
    land = np.flatnonzero(rng.random(lat.size * lon.size) < 0.3)
    values = rng.gamma(0.7, 3.0, (3, land.size)).astype(np.float32)
    lr = LandRegridder(lat, lon, land, res)
    out = lr(values).astype(np.float64)
    src_area = Grid.from_centres(lat, lon).cell_area().ravel()[land]
    dst_area = lr.dst.cell_area()
    got = (np.nan_to_num(out) * lr.valid_fraction * dst_area).sum(axis=(1, 2))
    np.testing.assert_allclose(got, (values * src_area).sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose((lr.valid_fraction * dst_area).sum(), src_area.sum(), rtol=1e-12)


def test_six_hourly_step(crujra_dir: Path, met_1901: Path, tmp_path: Path) -> None:
    path = prepare_year(crujra_dir, 1901, TARGET, tmp_path, step="6h")
    check_model_ready(path)
    six = xr.open_dataset(path)
    daily = xr.open_dataset(met_1901)
    assert six.sizes["time"] == 1460
    with netCDF4.Dataset(path) as ds:
        np.testing.assert_allclose(ds["time_bnds"][1], [0.25, 0.5])
    np.testing.assert_allclose(
        six.tas.coarsen(time=4).mean().values, daily.tas.values, rtol=1e-6, equal_nan=True
    )
    np.testing.assert_allclose(
        six.tasmax.coarsen(time=4).max().values, daily.tasmax.values, rtol=1e-6, equal_nan=True
    )


def test_rerun_skips_complete_and_redoes_partial_or_stale(
    crujra_copy: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    out = prepare_year(crujra_copy, 1902, 10.0, out_dir)
    record = read_manifest(out)
    assert record is not None and record["size"] == out.stat().st_size
    mtime = out.stat().st_mtime_ns
    assert prepare_year(crujra_copy, 1902, 10.0, out_dir) == out
    assert out.stat().st_mtime_ns == mtime  # skipped: verified by checksum
    assert not is_complete(out, {**record["params"], "target_res_deg": 12.0}, record["inputs"])

    reference = xr.open_dataset(out).load()
    data = out.read_bytes()
    out.write_bytes(data[: len(data) // 2])  # a partial file
    stale = out_dir / ".met_1902.nc.abc123.tmp"
    stale.write_bytes(b"left over by a killed writer")
    assert not is_complete(out, record["params"], record["inputs"])
    prepare_year(crujra_copy, 1902, 10.0, out_dir)
    check_model_ready(out)
    xr.testing.assert_identical(xr.open_dataset(out).drop_attrs(), reference.drop_attrs())
    assert not stale.exists()
    assert not (out_dir / ".work" / "1902").exists()

    record = read_manifest(out)
    assert is_complete(out, record["params"], fingerprint(year_inputs(crujra_copy, 1902).values()))
    src = crujra_path(crujra_copy, "dlwrf", 1902)  # an input changed: redo
    os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 10**9))
    assert not is_complete(
        out, record["params"], fingerprint(year_inputs(crujra_copy, 1902).values())
    )


def _land(path: Path, var: str) -> tuple[int, int]:
    with CrujraReader(path, var) as r:
        return divmod(int(r.land_index[10]), r.lon.size)


def test_bad_input_writes_nothing(crujra_copy: Path, tmp_path: Path) -> None:
    path = crujra_path(crujra_copy, "dlwrf", 1901)
    i, j = _land(path, "dlwrf")
    with netCDF4.Dataset(path, "a") as ds:
        ds["dlwrf"][1200, i, j] = np.nan
    with pytest.raises(ForcingError, match=r"dlwrf.*NaN over land"):
        prepare_year(crujra_copy, 1901, 10.0, tmp_path)
    assert not (tmp_path / "met_1901.nc").exists()
    assert not manifest_path(tmp_path / "met_1901.nc").exists()
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob(".work/*/.*.tmp"))


def test_missing_variable_file_is_found_before_any_work(crujra_copy: Path, tmp_path: Path) -> None:
    crujra_path(crujra_copy, "vgrd", 1901).unlink()
    out = tmp_path / "out"
    with pytest.raises(ForcingError, match=r"variable 'vgrd': missing input"):
        prepare_year(crujra_copy, 1901, 10.0, out)
    assert not out.exists() or not any(out.iterdir())


def test_humidity_above_saturation(crujra_copy: Path, tmp_path: Path) -> None:
    path = crujra_path(crujra_copy, "spfh", 1901)
    i, j = _land(path, "spfh")
    with netCDF4.Dataset(path, "a") as ds:
        ds["spfh"][600, i, j] = ds["spfh"][600, i, j] * 4.0 + 0.01
    with pytest.raises(ForcingError, match=r"spfh.*above saturation.*step 600"):
        prepare_variable_year(crujra_copy, 1901, "huss", 10.0, tmp_path)


def test_land_masks_must_agree_between_variables(crujra_copy: Path, tmp_path: Path) -> None:
    path = crujra_path(crujra_copy, "dlwrf", 1901)
    i, j = _land(path, "dlwrf")
    with netCDF4.Dataset(path, "a") as ds:
        ds["dlwrf"].set_auto_mask(False)
        ds["dlwrf"][:, i, j] = CRUJRA_FILL_VALUE  # a land cell turned ocean for all time
    out = tmp_path / "out"
    with pytest.raises(ForcingError, match=r"dlwrf.*land mask differs from tmp's \(1 cells\)"):
        prepare_year(crujra_copy, 1901, 10.0, out)
    assert not out.exists() or not any(out.iterdir())  # found in the pre-flight


def test_task_memory_is_bounded_by_the_block(crujra_dir: Path, tmp_path: Path) -> None:
    """Streaming: the task's peak numpy memory is a small fraction of one variable-year."""
    prepare_variable_year(crujra_dir, 1901, "tas", 10.0, tmp_path / "warm")  # warm caches
    full_year = 1460 * 36 * 72 * 4
    tracemalloc.start()
    prepare_variable_year(crujra_dir, 1901, "tas", 10.0, tmp_path, steps_per_block=32)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < full_year / 5, f"peak {peak / 1e6:.1f} MB vs year {full_year / 1e6:.1f} MB"


@pytest.mark.parametrize("corruption", ["land-nan", "units"])
def test_check_model_ready_rejects(met_1901: Path, tmp_path: Path, corruption: str) -> None:
    path = tmp_path / met_1901.name
    path.write_bytes(met_1901.read_bytes())
    with netCDF4.Dataset(path, "a") as ds:
        if corruption == "land-nan":
            lf = ds["landfrac"][:]
            i, j = np.argwhere(lf > 0)[0]
            ds["rsds"][3, i, j] = np.nan
        else:
            ds["pr"].units = "mm/day"
    match = "NaN on a land cell" if corruption == "land-nan" else "units/standard_name 'mm/day'"
    with pytest.raises(ForcingError, match=match):
        check_model_ready(path)


@pytest.mark.skipif(shutil.which("cdo") is None, reason="needs the cdo executable")
def test_daily_means_match_cdo(crujra_dir: Path, met_1901: Path, tmp_path: Path) -> None:
    """Oracle: CDO's ``remapcon,<7.5 deg> -daymean`` on the same file gives the same tas."""
    grid = tmp_path / "grid.txt"
    grid.write_text(
        "gridtype = lonlat\nxsize = 48\nysize = 24\nxfirst = -176.25\nxinc = 7.5\n"
        "yfirst = -86.25\nyinc = 7.5\n"
    )
    out = tmp_path / "cdo.nc"
    src = crujra_path(crujra_dir, "tmp", 1901)
    subprocess.run(
        ["cdo", "-s", "-O", f"remapcon,{grid}", "-daymean", str(src), str(out)], check=True
    )
    with netCDF4.Dataset(out) as ds:
        peer = np.ma.filled(ds["tmp"][:].astype(np.float64), np.nan)
    ours = xr.open_dataset(met_1901).tas.values
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(peer))
    np.testing.assert_allclose(ours, peer, rtol=1e-5, equal_nan=True)
