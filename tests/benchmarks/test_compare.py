"""Prior vs posterior and inter-model spread: CalLMIP's two questions on small real runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import compare
from benchmarks.catalog import ReferenceProduct
from benchmarks.confront import ModelOutput, confront
from benchmarks.markdown import artifact_tables, markdown_table, summary_markdown
from benchmarks.testing import seasonal_field, write_callmip_monthly, write_reference

YEARS = (2001, 2003)


@pytest.fixture(scope="module")
def campaign_scores(tmp_path_factory, grid4) -> tuple[pd.DataFrame, Path]:
    """Two models whose posteriors move towards the reference (and each other)."""
    lat, lon, mask = grid4
    tmp_path = tmp_path_factory.mktemp("campaign")
    ref = seasonal_field(lat, lon, YEARS, mean=50, amplitude=30, seed=1, mask=mask)
    path = write_reference(
        tmp_path / "root/DATA/hfls/TEST/hfls.nc",
        name="hfls",
        values=ref,
        lat=lat,
        lon=lon,
        years=YEARS,
        units="W m-2",
    )
    product = ReferenceProduct(
        variable="hfls",
        product="TEST",
        paths=(path,),
        file_variable="hfls",
        units="W m-2",
        display_units="W m-2",
        period=YEARS,
        weight=1.0,
        citation="synthetic",
    )
    outputs = []
    for model, prior_bias, post_bias in (("A", 12.0, 2.0), ("B", -9.0, -1.0)):
        for stage, bias in (("Prior", prior_bias), ("Posterior", post_bias)):
            path = write_callmip_monthly(
                tmp_path / f"{model}.v1_global_4deg_monthly_2001-2003_{stage}.nc",
                model=f"{model}.v1",
                stage=stage,
                lat=lat,
                lon=lon,
                years=YEARS,
                variables={"hfls": ref + bias},
            )
            outputs.append(ModelOutput(model, stage, path))
    out = tmp_path / "bench"
    return confront(outputs, [product], out, regions=("global",)), out


def test_prior_posterior_change(campaign_scores) -> None:
    scores, _ = campaign_scores
    pp = compare.prior_posterior(scores)
    bias = pp[pp["name"] == "Bias Score"].set_index("source")
    assert (bias["change"] > 0).all() and bias["improved"].all()
    assert set(bias["status"]) == {"improved"}
    rmse = pp[pp["name"] == "RMSE Score"]
    assert set(rmse["status"]) == {"unchanged"}  # a constant bias leaves the centred RMSE alone


def test_spread_shrinks_and_headline_says_so(campaign_scores) -> None:
    scores, maps_dir = campaign_scores
    sc = compare.spread_change(scores)
    bias = sc[sc["name"] == "Bias"].iloc[0]
    assert bias["spread_prior"] == pytest.approx(np.std([12.0, -9.0]), rel=1e-4)
    assert bias["spread_posterior"] == pytest.approx(np.std([2.0, -1.0]), rel=1e-4)
    ms = compare.map_spread(maps_dir, scores).iloc[0]
    assert ms["spread_prior"] == pytest.approx(10.5, rel=1e-4)
    assert ms["spread_posterior"] == pytest.approx(1.5, rel=1e-4)
    head = compare.headline(scores, maps_dir).iloc[0]
    assert head["closer_to_obs"] and head["spread_smaller"]
    assert head["models_improved"] == "2/2"
    change = compare.bias_change_map(maps_dir, "A", "hfls", "TEST")
    assert change is not None
    np.testing.assert_allclose(change[0][np.isfinite(change[0])], -10.0, atol=1e-4)


def test_single_model_has_no_spread(campaign_scores) -> None:
    scores, _ = campaign_scores
    only_a = scores[scores["source"] == "A"]
    assert compare.ensemble_spread(only_a).empty
    assert compare.spread_change(only_a).empty


def test_markdown_and_artifact_tables(campaign_scores) -> None:
    scores, _ = campaign_scores
    md = summary_markdown(scores, campaign={"name": "t"})
    assert md.startswith("# Benchmark summary: t")
    assert "ilamb27" in md and "| hfls | TEST |" in md
    tables = artifact_tables(scores)
    for key, rows in tables.items():
        assert key == key.lower() and " " not in key
        for row in rows:
            for value in row.values():
                assert not (isinstance(value, float) and np.isnan(value))
    assert tables["benchmark-headline"][0]["closer_to_obs"] is True
    assert markdown_table(pd.DataFrame({"a": [1.0, np.nan]})).splitlines()[-1] == "| - |"
