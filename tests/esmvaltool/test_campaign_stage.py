"""The shared small campaign with ``esmvaltool: {enabled: true}`` (real CLI and Prefect flow).

After the benchmark stage the campaign writes and runs the ESMValTool recipe; the recipe's
bias/RMSE table must equal, to 1e-6, the same definitions computed from the campaign's files
(``yardstick.py``: conservative regrid to the reference grid, as ESMValCore's ``area_weighted``
scheme; the benchmark's own scores compare on ILAMB's composed grid instead, so they are not the
yardstick), and the manifest records the stage.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def test_campaign_runs_the_recipe_after_the_benchmark(campaign_run, recipe_yardstick):
    """Reads the shared campaign (``campaign_run`` in tests/conftest.py), which enables
    ``esmvaltool: {enabled: true, scheme: area_weighted}`` when ESMValCore is installed."""
    if importlib.util.find_spec("esmvalcore") is None:
        if os.environ.get("CI"):
            pytest.fail("ESMValCore (extra 'esmvaltool') must be installed on CI")
        pytest.skip("ESMValCore (extra 'esmvaltool') not installed")
    run_dir, first, _, _ = campaign_run
    assert "ESMValTool output:" in first.stderr

    stage = json.loads((run_dir / "manifest.json").read_text())["stages"]["esmvaltool"]
    with open(stage["table"]) as fh:
        rows = list(csv.DictReader(fh))
    ours = recipe_yardstick(run_dir, keys=("hfls/FLUXCOM", "hfss/FLUXCOM"))
    scores = pd.read_csv(run_dir / "benchmark" / "scores.csv")
    scores = scores[scores["region"] == "global"]
    assert len(rows) == 4  # CELM-A.v1 x {Prior, Posterior} x {hfls, hfss}
    for row in rows:
        for ours_name, column in (("Bias", "bias"), ("RMSE", "rmse")):
            keys = ((ours["source"] == row["model"]) & (ours["stage"] == row["stage"])
                    & (ours["variable"] == row["variable"]) & (ours["product"] == "FLUXCOM")
                    & (ours["name"] == ours_name))
            assert keys.sum() == 1
            assert abs(float(row[column]) - float(ours.loc[keys, "value"].iloc[0])) <= 1e-6, row
            # the campaign's benchmark scored the same pair (on ILAMB's composed grid)
            assert ((scores["source"] == row["model"]) & (scores["stage"] == row["stage"])
                    & (scores["variable"] == row["variable"]) & (scores["name"] == ours_name)
                    ).sum() == 1
