"""A small campaign with ``esmvaltool: {enabled: true}`` through the real CLI and Prefect flow.

After the benchmark stage the campaign writes and runs the ESMValTool recipe; the recipe's
bias/RMSE table must equal the campaign's own ``benchmark/scores.csv`` (global, ilamb27) to
1e-6, and the manifest records the stage.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_campaign_runs_the_recipe_after_the_benchmark(tmp_path, campaign_cli):
    if importlib.util.find_spec("esmvalcore") is None:
        if os.environ.get("CI"):
            pytest.fail("ESMValCore (extra 'esmvaltool') must be installed on CI")
        pytest.skip("ESMValCore (extra 'esmvaltool') not installed")
    path = campaign_cli.write(
        tmp_path, "esmv",
        forcing={"seed": 3},
        periods={"spinup_cycle": [1901, 1901], "transient_start": 1995,
                 "historical": [2004, 2005]},
        spinup={"mode": "accelerated", "analytic_cycles": 2, "max_cycles": 4},
        references={"variables": ["hfls", "hfss"]},
        esmvaltool={"enabled": True, "scheme": "area_weighted"},
    )  # fmt: skip
    proc = campaign_cli.run(path, tmp_path, timeout=1800, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    run_dir = tmp_path / "runs" / "esmv"
    assert "ESMValTool output:" in proc.stderr

    stage = json.loads((run_dir / "manifest.json").read_text())["stages"]["esmvaltool"]
    with open(stage["table"]) as fh:
        rows = list(csv.DictReader(fh))
    scores = pd.read_csv(run_dir / "benchmark" / "scores.csv")
    scores = scores[scores["region"] == "global"]
    assert len(rows) == 4  # CELM-A.v1 x {Prior, Posterior} x {hfls, hfss}
    for row in rows:
        for ours_name, column in (("Bias", "bias"), ("RMSE", "rmse")):
            sel = scores[(scores["source"] == row["model"]) & (scores["stage"] == row["stage"])
                         & (scores["variable"] == row["variable"])
                         & (scores["product"] == "FLUXCOM") & (scores["name"] == ours_name)]
            assert len(sel) == 1
            assert abs(float(row[column]) - float(sel["value"].iloc[0])) <= 1e-6, (row, sel)
