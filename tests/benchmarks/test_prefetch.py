"""Reading in worker processes gives the same scores and skips as reading in the caller."""

from __future__ import annotations

import dataclasses
import glob
import tempfile
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest

from benchmarks.confront import ModelOutput, confront
from benchmarks.errors import ModelOutputError
from benchmarks.gridded import read_model_variable, read_reference
from benchmarks.prefetch import WORKERS_ENV, FieldReader, default_workers
from benchmarks.testing import write_callmip_monthly

YEARS = (2001, 2003)


def _leftovers() -> set[str]:
    return {
        *glob.glob("/dev/shm/callmip-field-*"),
        *glob.glob(f"{tempfile.gettempdir()}/callmip-field-*"),
    }


def _model(tmp_path: Path, name: str, lat, lon, **variables) -> ModelOutput:
    path = write_callmip_monthly(
        tmp_path / f"{name}.v1_global_4deg_monthly_{YEARS[0]}-{YEARS[1]}_Prior.nc",
        model=f"{name}.v1", stage="Prior", lat=lat, lon=lon, years=YEARS, variables=variables,
    )
    return ModelOutput(name, "Prior", path)


def test_reader_processes_return_the_fields_and_raise_the_readers_errors(
    tmp_path, grid4, hfls_reference
) -> None:
    lat, lon, _ = grid4
    product, values = hfls_reference
    good = _model(tmp_path, "G", lat, lon, hfls=values)
    bad = _model(tmp_path / "b", "B", lat, lon, hfls=values)
    with netCDF4.Dataset(bad.monthly_path, "a") as ds:
        ds["hfls"].units = "W/m2"
    before = _leftovers()
    with FieldReader(workers=2) as reader:
        ref = reader.submit(read_reference, product.paths, "hfls", "W m-2", None, YEARS)
        model = reader.submit(read_model_variable, good.monthly_path, "hfls", YEARS)
        broken = reader.submit(read_model_variable, bad.monthly_path, "hfls", YEARS)
        unread = reader.submit(read_model_variable, good.monthly_path, "hfls", YEARS)
        direct = read_model_variable(good.monthly_path, "hfls", YEARS)
        got = model.result()
        np.testing.assert_array_equal(got.values, direct.values)
        np.testing.assert_array_equal(got.month, direct.month)
        assert got.values.flags.writeable
        np.testing.assert_array_equal(
            ref.result().values,
            read_reference(product.paths, "hfls", "W m-2", None, YEARS).values,
        )
        with pytest.raises(ModelOutputError, match="units 'W/m2'"):
            broken.result()
        del unread  # never asked for: its file must still go
    assert _leftovers() == before


def test_confront_with_reading_processes_equals_reading_in_the_caller(
    tmp_path, grid4, hfls_reference, monkeypatch
) -> None:
    lat, lon, _ = grid4
    product, values = hfls_reference
    other = dataclasses.replace(product, variable="hfss", product="TEST2")
    good = _model(tmp_path, "G", lat, lon, hfls=values, hfss=0.5 * values)
    bad = _model(tmp_path / "b", "B", lat, lon, hfls=values)
    with netCDF4.Dataset(bad.monthly_path, "a") as ds:
        ds["hfls"].units = "W/m2"
    tables = {}
    for workers in ("0", "2"):
        monkeypatch.setenv(WORKERS_ENV, workers)
        assert default_workers(1) == int(workers)
        tables[workers] = confront([good, bad], [product, other], tmp_path / f"o{workers}",
                                   regions=("global",))
    pd.testing.assert_frame_equal(tables["0"], tables["2"])
    skipped = tables["2"][tables["2"]["type"] == "skipped"]
    assert skipped["note"].str.contains("units 'W/m2'").any()
    assert (tables["2"][tables["2"]["type"] == "score"]["value"].notna()).all()


def test_small_inputs_or_one_cpu_read_in_the_caller(monkeypatch) -> None:
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert default_workers(10 * 2**20) == 0
    monkeypatch.setattr("benchmarks.prefetch.usable_cpus", lambda: 1)
    assert default_workers(10 * 2**30) == 0
    monkeypatch.setattr("benchmarks.prefetch.usable_cpus", lambda: 8)
    assert default_workers(10 * 2**30) == 2
