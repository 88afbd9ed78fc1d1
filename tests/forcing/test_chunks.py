"""The direct chunk reader returns exactly what netCDF4 returns, or declines the layout."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forcing.chunks import DirectChunkError, DirectChunks

FILL = np.float32(1e20)


def _write(path, values, chunk_steps, shuffle=True, fill=True, **extra) -> None:
    _, ny, nx = values.shape
    dtype = extra.pop("dtype", "f4")
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", None)
        ds.createDimension("lat", ny)
        ds.createDimension("lon", nx)
        kw = {"zlib": True, "complevel": 1, "shuffle": shuffle, "chunksizes": (chunk_steps, ny, nx)}
        kw.update(extra)
        v = ds.createVariable("tmp", dtype, ("time", "lat", "lon"),
                              fill_value=FILL if fill else None, **kw)
        v[:] = values


def _netcdf4(path, t0, t1) -> np.ndarray:
    with netCDF4.Dataset(path) as ds:
        v = ds["tmp"]
        v.set_auto_maskandscale(False)
        return np.asarray(v[t0:t1], dtype=np.float32)


@settings(max_examples=25, deadline=None)
@given(nt=st.integers(1, 30), chunk=st.integers(1, 9), shuffle=st.booleans(),
       data=st.data())
def test_any_block_equals_netcdf4_bit_for_bit(tmp_path_factory, nt, chunk, shuffle, data):
    rng = np.random.default_rng(nt * 100 + chunk)
    values = (rng.normal(280, 15, (nt, 6, 10))).astype(np.float32)
    values[:, :2, :3] = FILL  # ocean
    values[rng.random(values.shape) < 0.02] = np.nan
    path = tmp_path_factory.mktemp("c") / "f.nc"
    _write(path, values, chunk, shuffle)
    t0 = data.draw(st.integers(0, nt - 1))
    t1 = data.draw(st.integers(t0 + 1, nt))
    with DirectChunks.open(path, "tmp") as direct:
        got = direct.read(t0, t1)
    want = _netcdf4(path, t0, t1)
    assert got.shape == want.shape
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_chunks_never_written_read_as_the_fill_value(tmp_path):
    path = tmp_path / "f.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", 6)
        ds.createDimension("lat", 3)
        ds.createDimension("lon", 4)
        v = ds.createVariable("tmp", "f4", ("time", "lat", "lon"), zlib=True,
                              chunksizes=(2, 3, 4), fill_value=FILL)
        v[0:2] = np.ones((2, 3, 4), np.float32)  # steps 2-5 never written
    with DirectChunks.open(path, "tmp") as direct:
        got = direct.read(0, 6)
    assert np.array_equal(got, _netcdf4(path, 0, 6))
    assert (got[2:] == FILL).all()


@pytest.mark.parametrize("layout", ["split map", "int16", "fletcher32", "classic", "no deflate"])
def test_other_layouts_are_declined(tmp_path, layout):
    path = tmp_path / "f.nc"
    values = np.full((4, 6, 10), 280.0, np.float32)
    if layout == "split map":
        _write(path, values, 2, chunksizes=(2, 3, 10))
    elif layout == "int16":
        _write(path, values.astype(np.int16), 2, dtype="i2", fill=False)
    elif layout == "fletcher32":
        _write(path, values, 2, fletcher32=True)
    elif layout == "classic":
        with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as ds:
            for d, n in zip(("time", "lat", "lon"), values.shape, strict=True):
                ds.createDimension(d, n)
            ds.createVariable("tmp", "f4", ("time", "lat", "lon"))[:] = values
    else:
        with netCDF4.Dataset(path, "w") as ds:
            for d, n in zip(("time", "lat", "lon"), values.shape, strict=True):
                ds.createDimension(d, n)
            ds.createVariable("tmp", "f4", ("time", "lat", "lon"), chunksizes=(2, 6, 10))[:] = (
                values)
    assert DirectChunks.open(path, "tmp") is None
    assert DirectChunks.open(tmp_path / "missing.nc", "tmp") is None


def test_a_corrupt_chunk_is_an_error_naming_the_step(tmp_path):
    path = tmp_path / "f.nc"
    rng = np.random.default_rng(0)
    _write(path, rng.normal(280, 15, (4, 30, 40)).astype(np.float32), 1)
    with DirectChunks.open(path, "tmp") as direct:
        offset = direct._dataset.id.get_chunk_info(2).byte_offset
    raw = bytearray(path.read_bytes())
    raw[offset + 10:offset + 60] = b"\x00" * 50
    path.write_bytes(bytes(raw))
    with DirectChunks.open(path, "tmp") as direct:
        direct.read(0, 2)
        with pytest.raises(DirectChunkError, match="chunk at step 2"):
            direct.read(0, 4)
