"""The generated recipe through the real ESMValCore, compared with a computation of our own.

``callmip esmvaltool <run-dir>`` writes the layout and the recipe and runs ESMValCore (without
ESMF); its bias and RMSE tables must equal, to 1e-6, the same definitions computed here from
the same model files, reference product and period with the project's ``regrid`` package:
the model regridded conservatively to the reference grid (as ESMValCore's ``area_weighted``
scheme does), period means weighted by month length, area-weighted means over the cells valid
in both, RMSE of the mean annual cycles. (The benchmark itself compares on ILAMB's composed
grid instead - nearest copy, not conservative remapping - so it is not the yardstick here.)
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def esmvaltool_run(run_dir):
    if importlib.util.find_spec("esmvalcore") is None:
        if os.environ.get("CI"):
            pytest.fail("ESMValCore (extra 'esmvaltool') must be installed on CI")
        pytest.skip("ESMValCore (extra 'esmvaltool') not installed")
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "callmip_app.cli", "esmvaltool", str(run_dir)],
        capture_output=True, text=True, timeout=1500, cwd=REPO,
    )
    seconds = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    table = Path(re.search(r"^bias/RMSE table: (.+)$", proc.stdout, re.M).group(1))
    output = Path(re.search(r"^output: (.+)$", proc.stdout, re.M).group(1))
    with open(table) as fh:
        rows = list(csv.DictReader(fh))
    print(f"esmvaltool recipe run: {seconds:.1f} s")
    return {"table": table, "rows": rows, "output": output, "stdout": proc.stdout}


@pytest.fixture(scope="module")
def ours(run_dir, recipe_yardstick):
    """Bias, period means and RMSE of every model file and product, computed here."""
    return recipe_yardstick(run_dir)


def _our_value(ours, row: dict, name: str) -> float:
    sel = ours[(ours["source"] == row["model"]) & (ours["stage"] == row["stage"])
               & (ours["variable"] == row["variable"]) & (ours["product"] == row["product"])
               & (ours["name"] == name)]
    assert len(sel) == 1, (row, name)
    return float(sel["value"].iloc[0])


def test_bias_table_equals_our_benchmark(esmvaltool_run, ours):
    rows = esmvaltool_run["rows"]
    products = {"hfls": ("FLUXCOM", "W m-2"), "hfss": ("FLUXCOM", "W m-2"),
                "evspsbl": ("GLEAM4.2a", "mm d-1")}  # GLEAM E vs the model's hfls / L_v
    assert {(r["model"], r["stage"], r["variable"]) for r in rows} == {
        (m, s, v) for m in ("CELM-A.v1", "CELM-B.v1") for s in ("Prior", "Posterior")
        for v in products
    }
    for row in rows:
        assert (row["product"], row["units"]) == products[row["variable"]]
        assert row["period"] == "2004-2005"
        bias = _our_value(ours, row, "Bias")
        assert abs(float(row["bias"]) - bias) <= 1e-6, (row, bias)
        assert abs(float(row["bias_from_maps"]) - bias) <= 1e-6, (row, bias)
        assert abs(float(row["reference_mean"]) - _our_value(ours, row, "Reference Period Mean")
                   ) <= 1e-6
        assert abs(float(row["model_mean"]) - _our_value(ours, row, "Period Mean")) <= 1e-6
        # the models differ from the reference: a real, non-trivial comparison
        assert abs(bias) > 1e-3


def test_rmse_table_equals_our_benchmark(esmvaltool_run, ours):
    for row in esmvaltool_run["rows"]:
        rmse = _our_value(ours, row, "RMSE")
        assert abs(float(row["rmse"]) - rmse) <= 1e-6, (row, rmse)


def test_plots_and_provenance_are_written(esmvaltool_run):
    out = esmvaltool_run["output"]
    plots = sorted(out.glob("plots/**/bias_*.png"))
    assert [p.name for p in plots] == ["bias_evspsbl_GLEAM.png", "bias_hfls_FLUXCOM.png",
                                       "bias_hfss_FLUXCOM.png"]
    assert all(p.stat().st_size > 10_000 for p in plots)
    # ESMValCore turns the diagnostic's records into W3C-PROV files next to each output
    table = esmvaltool_run["table"]
    prov = table.with_name(table.stem + "_provenance.xml")
    assert prov.is_file(), sorted(p.name for p in table.parent.iterdir())
    text = prov.read_text()
    assert "callmip-global" in text  # the author resolved from our config-references.yml
    assert "OBS6_FLUXCOM" in text  # the reference product is an ancestor
    records = yaml.safe_load(
        next(out.glob("run/callmip_benchmark/bias_rmse/diagnostic_provenance.yml")).read_text()
    )
    assert str(table) in records and records[str(table)]["ancestors"]
    log = (out / "run" / "main_log.txt").read_text()
    assert "Run was successful" in log
    assert "esmpy" not in log.lower()
