"""The coordinators' intercomparison: ``callmip benchmark`` on an upload of real-data files.

The upload (benchmarks.testing.write_upload_set) holds three models on three grids - ALPHA at
0.5 degrees, BETA at 1 degree on 0-360 longitudes with latitudes north to south, a 360_day
calendar, no time_bnds and lai in 'm2 m-2', GAMMA at 2 degrees offset half a cell from the
reference with a standard calendar and fill value -9999 - each prior and posterior: the real
FLUXCOM heat fluxes regridded and perturbed differently per model and stage, plus synthetic
carbon fields, and annual SSP370 runs of BETA and GAMMA to 2100. ALPHA's calibration helps,
BETA's posterior equals its prior, GAMMA's seasonal phase improves. Next to them: a truncated
NetCDF file, a text file, wrong dimensions, wrong units, an all-missing variable and an older
duplicate. The real CLI runs once on all of it (module fixture); the tests read its report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest

from benchmarks.testing import write_bad_files, write_upload_set

REPO = Path(__file__).resolve().parents[2]
GOOD = ("ALPHA.v1", "BETA.v2", "GAMMA.v1")


@pytest.fixture(scope="module")
def upload(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("upload")
    files = write_upload_set(root / "groups")
    bad = write_bad_files(root / "groups" / "bad", files[("GAMMA", "Prior")])
    out = root / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "callmip_app.cli", "benchmark", str(root / "groups"), "--out",
         str(out), "--title", "test upload"],
        capture_output=True, text=True, timeout=1800, cwd=REPO,
    )
    return {"files": files, "bad": bad, "out": out, "proc": proc,
            "scores": pd.read_csv(out / "scores.csv") if (out / "scores.csv").exists() else None}


pytestmark = pytest.mark.slow


def test_cli_writes_the_report_with_intercomparison_sections(upload) -> None:
    proc = upload["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (upload["out"] / "index.html").read_text()
    for section in ('id="uploads"', 'id="change-ci"', 'id="spread-ci"', 'id="totals"',
                    'id="ssp"', 'id="headline"'):
        assert section in html
    assert "http://" not in html and "https://" not in html
    scores = upload["scores"]
    overall = scores[(scores["name"] == "Overall Score") & (scores["region"] == "global")]
    for model in GOOD:
        for stage in ("Prior", "Posterior"):
            got = overall[(overall["source"] == model) & (overall["stage"] == stage)]
            assert {"hfls", "hfss", "evspsbl"} <= set(got["variable"]), (model, stage)
    # GFED and Giorgi regions are scored next to global
    assert {"bona", "aust", "AMZ"} <= set(scores["region"])


def test_headline_matches_an_independent_aggregation(upload) -> None:
    """The headline's means, counts and spreads, recomputed here from the per-model scores."""
    scores = upload["scores"]
    headline = pd.read_csv(upload["out"] / "scores.csv").pipe(lambda s: s)  # same table
    overall = scores[(scores["name"] == "Overall Score") & (scores["region"] == "global")
                     & scores["source"].isin(GOOD)]
    summary = (upload["out"] / "summary.md").read_text()
    for (variable, product), g in overall.groupby(["variable", "product"]):
        wide = g.pivot_table(index="source", columns="stage", values="value")
        prior, post = wide["Prior"], wide["Posterior"]
        improved = int(((post - prior) > 1e-4).sum())
        line = next(x for x in summary.splitlines()
                    if x.startswith(f"| {variable} | {product} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert int(cells[3]) == 3  # models with both stages (single-stage bad files excluded)
        assert float(cells[4]) == pytest.approx(prior.mean(), abs=1e-3)
        assert float(cells[5]) == pytest.approx(post.mean(), abs=1e-3)
        assert cells[6] == f"{improved}/3"
        assert float(cells[7]) == pytest.approx(np.std(prior.to_numpy()), abs=1e-3)
        assert float(cells[8]) == pytest.approx(np.std(post.to_numpy()), abs=1e-3)
    assert headline is not None
    # calibration helped ALPHA beyond the noise; BETA's identical posterior lies within it
    changes = overall.pivot_table(index=["source", "variable"], columns="stage",
                                  values="value")
    assert (changes.loc["ALPHA.v1", "Posterior"] > changes.loc["ALPHA.v1", "Prior"]).all()
    ci = pd.read_html(upload["out"] / "index.html", match="mean_change")[0]
    ci = ci[ci["name"] == "Overall Score"]
    alpha = ci[ci["source"] == "ALPHA.v1"]
    beta = ci[ci["source"] == "BETA.v2"]
    assert (alpha["ci_low"].astype(float) > 0).all() and (alpha["verdict"] == "improved").all()
    assert (beta["verdict"] == "within noise").all()


def _gpp_total(path: Path) -> pd.Series:
    """Global annual GPP [PgC/yr] computed here from the file: cell areas from its bounds."""
    with netCDF4.Dataset(path) as ds:
        lat_b = ds["lat_bnds"][:].astype(float)
        lon_b = ds["lon_bnds"][:].astype(float)
        gpp = np.ma.filled(ds["gpp"][:].astype(float), 0.0)
        t = ds["time"]
        dates = netCDF4.num2date(t[:], t.units, t.calendar)
        cal = t.calendar
    area = 6.371e6**2 * np.abs(np.outer(
        np.sin(np.radians(lat_b[:, 1])) - np.sin(np.radians(lat_b[:, 0])),
        np.radians(lon_b[:, 1] - lon_b[:, 0])))
    days = {"noleap": [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
            "360_day": [30] * 12}.get(cal)
    out = {}
    for k, d in enumerate(dates):
        if days is not None:
            n = days[d.month - 1]
        else:
            n = (pd.Timestamp(d.year, d.month, 1) + pd.offsets.MonthEnd(0)).day
        out[d.year] = out.get(d.year, 0.0) + float((gpp[k] * area).sum()) * n * 86400 / 1e12
    return pd.Series(out)


def test_reference_free_totals_match_an_independent_computation(upload) -> None:
    html = upload["out"] / "index.html"
    totals = pd.read_html(html, match="relative")[0]
    gpp = totals[(totals["variable"] == "gpp")
                 & (totals["experiment"] == "historical")].set_index("source")
    for model, key in (("ALPHA.v1", "ALPHA"), ("GAMMA.v1", "GAMMA")):
        prior = _gpp_total(upload["files"][(key, "Prior")]).mean()
        post = _gpp_total(upload["files"][(key, "Posterior")]).mean()
        assert float(gpp.loc[model, "prior"]) == pytest.approx(prior, rel=2e-3)
        assert float(gpp.loc[model, "posterior"]) == pytest.approx(post, rel=2e-3)
        assert 20 < prior < 400  # plausible global GPP, PgC/yr
    ssp = pd.read_html(html, match="divergence_mean")[0]
    row = ssp[(ssp["variable"] == "gpp") & (ssp["experiment"] == "ssp370")].iloc[0]
    assert int(row["n_models"]) == 2
    # BETA's futures do not diverge; GAMMA's posterior trend is steeper: mean > 0
    assert float(row["divergence_min"]) == pytest.approx(0.0, abs=1e-6)
    assert float(row["divergence_max"]) > 0


def test_bad_files_have_reasons_and_the_rest_is_scored(upload) -> None:
    bad = upload["bad"]
    scores = upload["scores"]
    inventory = pd.read_html(upload["out"] / "index.html", match="directory")[0]
    by_file = {(r["directory"], r["file"]): r for r in inventory.to_dict("records")}

    def entry(path: Path) -> dict:
        return by_file[(str(path.parent), path.name)]

    for key in ("truncated", "not_netcdf"):
        row = entry(bad[key])
        assert row["status"] == "skipped"
        assert "not a readable NetCDF file" in row["reason"] and bad[key].name in row["reason"]
    dup = entry(bad["duplicate"])
    assert dup["status"] == "skipped" and "duplicate submission of GAMMA.v1 Prior" in dup["reason"]
    assert str(upload["files"][("GAMMA", "Prior")]) in dup["reason"]
    skipped = scores[scores["type"] == "skipped"]

    def note(model: str, variable: str) -> str:
        rows = skipped[(skipped["source"] == model) & (skipped["variable"] == variable)
                       & (skipped["product"] == "FLUXCOM")]
        assert len(rows), (model, variable)
        return rows["note"].iloc[0]

    assert "hfls" in note("DIMS.v1", "hfls") and "dimensions" in note("DIMS.v1", "hfls")
    assert "DIMS" in note("DIMS.v1", "hfls")
    assert "'W/m2'" in note("UNITS.v1", "hfls")
    assert "all values are missing" in note("EMPTY.v1", "hfss")
    good = scores[scores["type"] == "score"]
    # the usable variables of the flagged files are still scored
    assert {"DIMS.v1", "UNITS.v1"} <= set(good[good["variable"] == "hfss"]["source"])
    assert "EMPTY.v1" in set(good[good["variable"] == "hfls"]["source"])
