"""End-to-end confrontation through real NetCDF files: model files -> long score table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from benchmarks.catalog import load_catalog
from benchmarks.confront import ModelOutput, confront, maps_path
from benchmarks.gridded import read_reference
from benchmarks.table import COLUMNS
from benchmarks.testing import regular_grid, write_callmip_monthly
from benchmarks.units import LATENT_HEAT_VAPORISATION, convert

REPO = Path(__file__).resolve().parents[2]
YEARS = (2001, 2003)


def _model(
    tmp_path: Path, name: str, stage: str, lat, lon, years=YEARS, **variables
) -> ModelOutput:
    path = write_callmip_monthly(
        tmp_path / f"{name}.v1_global_4deg_monthly_{years[0]}-{years[1]}_{stage}.nc",
        model=f"{name}.v1",
        stage=stage,
        lat=lat,
        lon=lon,
        years=years,
        variables=variables,
    )
    return ModelOutput(name, stage, path)


def test_model_equal_to_reference_scores_one(tmp_path, grid4, hfls_reference) -> None:
    lat, lon, _ = grid4
    product, values = hfls_reference
    output = _model(tmp_path, "M", "Prior", lat, lon, hfls=values)
    table = confront([output], [product], tmp_path / "out", regions=("global", "AMZ", "NEU"))
    assert list(table.columns) == COLUMNS
    scores = table[table["type"] == "score"]
    assert set(scores["region"]) == {"global", "AMZ", "NEU"}
    assert len(scores) == 3 * 6
    np.testing.assert_allclose(scores["value"], 1.0, atol=1e-6)
    assert set(table["mode"]) == {"ilamb27"}
    maps = maps_path(tmp_path / "out", "M", "Prior", "hfls", "TEST")
    with netCDF4.Dataset(maps) as ds:
        assert {"ref_mean", "com_mean", "bias", "bias_score", "ref_cycle"} <= set(ds.variables)
        np.testing.assert_allclose(np.ma.filled(ds["bias"][:], 0.0), 0.0, atol=1e-4)


def test_model_on_another_grid_keeps_its_values(tmp_path, grid4, hfls_reference) -> None:
    """A spatially constant model on a 2-degree grid keeps its value on the composed grid."""
    product, _values = hfls_reference
    lat2, lon2 = regular_grid(2.0)
    const = np.full((36, lat2.size, lon2.size), 42.0)
    output = _model(tmp_path, "C", "Prior", lat2, lon2, hfls=const)
    table = confront([output], [product], tmp_path / "out", regions=("global",))
    mean = table[(table["name"] == "Period Mean") & (table["region"] == "global")]["value"]
    assert float(mean.iloc[0]) == pytest.approx(42.0, rel=1e-6)
    ref_mean = table[table["name"] == "Reference Period Mean"]["value"].iloc[0]
    bias = table[table["name"] == "Bias"]["value"].iloc[0]
    assert bias == pytest.approx(42.0 - ref_mean, rel=1e-6)


def test_skips_are_rows_with_reasons(tmp_path, grid4, hfls_reference) -> None:
    lat, lon, _ = grid4
    product, values = hfls_reference
    missing = dataclasses.replace(
        product,
        product="GONE",
        status="missing",
        skip_reason="no file matches DATA/x under ILAMB_ROOT=/r",
    )
    other = dataclasses.replace(product, variable="hfss", product="TEST2")
    late = _model(
        tmp_path,
        "Late",
        "Prior",
        lat,
        lon,
        years=(2010, 2011),
        hfls=np.ones((24, lat.size, lon.size)),
    )
    ok = _model(tmp_path, "M", "Prior", lat, lon, hfls=values)
    table = confront([ok, late], [product, missing, other], tmp_path / "out", regions=("global",))
    skipped = table[table["type"] == "skipped"]
    notes = dict(
        zip(zip(skipped["source"], skipped["product"], strict=False), skipped["note"], strict=True)
    )
    assert "no file matches" in notes[("M", "GONE")]
    assert "has no variable 'hfss'" in notes[("M", "TEST2")]
    assert "no common months with TEST: model 2010-2011" in notes[("Late", "TEST")]
    assert skipped["value"].isna().all()
    assert (table[(table["source"] == "M") & (table["type"] == "score")]["value"] > 0.99).all()


def test_non_conformant_model_files_are_skipped_with_reasons(
    tmp_path, grid4, hfls_reference
) -> None:
    """A bad file never aborts the run: it becomes a skip row naming file, variable, problem."""
    lat, lon, _ = grid4
    product, values = hfls_reference
    output = _model(tmp_path, "M", "Prior", lat, lon, hfls=values)
    good = _model(tmp_path / "good", "G", "Prior", lat, lon, hfls=values)
    table = confront([dataclasses.replace(output, stage="Posterior"), good], [product],
                     tmp_path / "o", regions=("global",))
    skipped = table[table["type"] == "skipped"]
    assert "Calibration_stage is 'Prior'" in skipped["note"].iloc[0]
    assert str(output.monthly_path) in skipped["note"].iloc[0]
    assert (table[(table["source"] == "G") & (table["type"] == "score")]["value"] > 0.99).all()
    with netCDF4.Dataset(output.monthly_path, "a") as ds:
        ds["hfls"].units = "W/m2"
    table = confront([output], [product], tmp_path / "o", regions=("global",))
    note = table[table["type"] == "skipped"]["note"].iloc[0]
    assert "'hfls' has units 'W/m2'; CalLMIP requires 'W m-2'" in note


def test_real_products_perfect_model_through_unit_conversion_and_flipped_grid(tmp_path) -> None:
    """Models built from the shipped FLUXCOM and GLEAM data score 1 against them.

    The GLEAM model is written on GLEAM's own north-to-south grid (read back flipped) and its
    hfls is GLEAM's E (mm per Gregorian month, Feb 2004 = 29 days) turned into W m-2 with L_v:
    a perfect score needs the per-month conversion, the derived evspsbl and the grid
    orientation all right.
    """
    catalog = load_catalog(REPO / "configs/references.yaml", REPO / "data/ILAMB_ROOT")
    le, gleam = (
        next(p for p in catalog if p.key == k) for k in ("hfls/FLUXCOM", "evspsbl/GLEAM4.2a")
    )
    ref_le = read_reference(le.paths, le.file_variable, le.units, "W m-2", (2004, 2005))
    out_le = _model(
        tmp_path, "F", "Prior", ref_le.lat, ref_le.lon, years=(2004, 2005), hfls=ref_le.values
    )
    with netCDF4.Dataset(gleam.paths[0]) as ds:
        glat, glon = ds["lat"][:], ds["lon"][:]
    ref_e = read_reference(gleam.paths, "E", gleam.units, "kg m-2 s-1", (2004, 2005))
    assert glat[0] > glat[-1]  # GLEAM is stored north to south
    hfls = (ref_e.values * LATENT_HEAT_VAPORISATION)[:, ::-1, :]
    out_g = _model(
        tmp_path / "g",
        "G",
        "Prior",
        np.asarray(glat),
        np.asarray(glon),
        years=(2004, 2005),
        hfls=hfls,
    )
    table = confront([out_le], [le], tmp_path / "o1", regions=("global", "AMZ"))
    table_g = confront([out_g], [gleam], tmp_path / "o2", regions=("global",))
    for t, tol in ((table, 1e-5), (table_g, 2e-3)):
        scores = t[t["type"] == "score"]
        assert len(scores) > 0
        # GLEAM has no time bounds and stamps months at their last day: ILAMB 2.7 (and so the
        # ilamb27 mode) centres its steps from that guess, a day or so from the model's
        # mid-month centres, which moves the IAV and cycle of a perfect model by <= 2e-3
        np.testing.assert_allclose(scores["value"], 1.0, atol=tol)
    scores_g = table_g[(table_g["type"] == "score")
                       & table_g["name"].isin(["Bias Score", "RMSE Score",
                                               "Spatial Distribution Score"])]
    np.testing.assert_allclose(scores_g["value"], 1.0, atol=1e-5)
    mean = table_g[table_g["name"] == "Period Mean"]["value"].iloc[0]
    assert table_g[table_g["name"] == "Period Mean"]["units"].iloc[0] == "mm d-1"
    assert 0.5 < mean < 3.0  # global land evaporation is about 1.3-1.5 mm/day
    assert convert(1.0, "mm d-1", "kg m-2 s-1") == pytest.approx(1 / 86400)
