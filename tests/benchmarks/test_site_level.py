"""Phase 1 site-level submissions: an upload of 3 models x 4 sites x prior/posterior built from
the real FLUXNET2015 observations with known perturbations, scored by ``callmip sites``; every
number checked against an independent computation here. Plus the official CLASSIC template and
each kind of bad file."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest

from benchmarks.site_level.run import load_observations, score_upload
from benchmarks.site_level.testing import truth, write_site_file
from callmip.conform import check_file
from callmip.conform.phase1_sites import PROTOCOL_V2_SITES, SiteTableError, load_site_table

REPO = Path(__file__).resolve().parents[2]
OBS = REPO / "data/flux-sites"
TEMPLATE = REPO / "data/CLASSIC.v2_Phase1b_Scen1_DK-Sor_Cal_Prior.nc"
SITES = {"DK-Sor": "Cal", "CH-Dav": "Cal", "DE-Hai": "Val", "DE-Tha": "Val"}
VARS = ("nep", "hfls", "hfss")
UNIT = {"nep": 1.0, "hfls": 10.0, "hfss": 10.0}  # offsets in obs units: gC m-2 d-1, W m-2
#: (model, stage) -> (scale, offset in UNIT): A and B improve, C gets worse
PERTURB = {
    ("ModA", "Prior"): (1.3, 1.0), ("ModA", "Posterior"): (1.05, 0.1),
    ("ModB", "Prior"): (0.6, -1.0), ("ModB", "Posterior"): (0.95, -0.1),
    ("ModC", "Prior"): (1.0, 0.5), ("ModC", "Posterior"): (1.0, 0.8),
}
SIGMA = {"nep": 0.8, "hfls": 12.0, "hfss": 12.0}  # ModA's posterior _post_unc, obs units


@pytest.fixture(scope="module")
def observations():
    return load_observations(OBS)


@pytest.fixture(scope="module")
def site_table_csv(tmp_path_factory) -> Path:
    """Protocol v2's table, but DE-Hai and DE-Tha held out as validation sites."""
    path = tmp_path_factory.mktemp("table") / "sites.csv"
    with path.open("w") as fh:
        w = csv.writer(fh)
        w.writerow(["site", "role", "igbp", "record_years"])
        for s in PROTOCOL_V2_SITES.values():
            role = "Validation" if SITES.get(s.code) == "Val" else s.role
            w.writerow([s.code, role, s.igbp, s.record_years])
    return path


def _pred(obs, model, stage, var):
    a, b = PERTURB[(model, stage)]
    return a * truth(obs, var) + b * UNIT[var]


@pytest.fixture(scope="module")
def upload(tmp_path_factory, observations, site_table_csv):
    root = tmp_path_factory.mktemp("upload")
    for (model, stage) in PERTURB:
        for site, calval in SITES.items():
            obs = observations[site]
            series = {v: _pred(obs, model, stage, v) for v in VARS}
            unc = ({v: np.full(obs.n_days, SIGMA[v]) for v in VARS}
                   if model == "ModA" and stage == "Posterior" else None)
            write_site_file(root / model, obs, model, "v1", stage, calval, series, post_unc=unc)
    out = root / "report"
    result = score_upload([root / m for m in ("ModA", "ModB", "ModC")], OBS, out,
                          site_table=site_table_csv, n_boot=500, seed=1)
    return root, out, result


def _independent(obs, pred, var):
    o, u = obs.series[var].value, obs.series[var].uncertainty
    ok = np.isfinite(o)
    e = pred[ok] - o[ok]
    return {
        "Days": ok.sum(), "Bias": e.mean(), "RMSE": np.sqrt((e**2).mean()),
        "Correlation": np.corrcoef(pred[ok], o[ok])[0, 1],
        "Nash-Sutcliffe Efficiency": 1 - (e**2).sum() / ((o[ok] - o[ok].mean()) ** 2).sum(),
        "Fraction Within Uncertainty": np.mean(np.abs(e) <= u[ok]),
        "Chi-square per day": np.mean((e / u[ok]) ** 2),
    }


def test_upload_is_checked_clean_and_fully_scored(upload) -> None:
    _, out, result = upload
    assert len(result.runs) == 24
    assert result.n_errors == 0, result.findings[result.findings["level"] == "ERROR"]
    scored = result.scores[result.scores["status"] == "scored"]
    assert len(scored) == 24 * 3
    assert set(scored["role"]) == {"Calibration", "Validation"}
    assert set(scored.loc[scored["site"].isin(["DE-Hai", "DE-Tha"]), "role"]) == {"Validation"}
    for name in ("site_scores.csv", "site_changes.csv", "site_spread.csv", "site_pooled.csv",
                 "site_benchmarks.csv", "site_findings.csv", "index.html"):
        assert (out / name).stat().st_size > 0
    html = (out / "index.html").read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert "Did calibration reduce the misfit" in html
    # the day count is stated for every file
    info = result.findings[(result.findings["level"] == "INFO")
                           & (result.findings["where"] == "time")]
    assert len(info) == 24 and info["message"].str.contains("6574 days incl. 4 leap days").any()


def test_metrics_match_independent_computation(upload, observations) -> None:
    _, out, _ = upload
    table = pd.read_csv(out / "site_scores.csv")
    for (model, stage) in PERTURB:
        for site in SITES:
            obs = observations[site]
            for var in VARS:
                row = table[(table["model"] == f"{model}.v1") & (table["stage"] == stage)
                            & (table["site"] == site) & (table["variable"] == var)].iloc[0]
                want = _independent(obs, _pred(obs, model, stage, var), var)
                for k, v in want.items():
                    assert row[k] == pytest.approx(v, rel=1e-7, abs=1e-9), (model, site, var, k)


def test_posterior_band_coverage_only_where_post_unc(upload, observations) -> None:
    _, _, result = upload
    s = result.scores
    a_post = s[(s["model"] == "ModA.v1") & (s["stage"] == "Posterior")]
    assert len(a_post) == 4 * 3
    for row in a_post.to_dict("records"):
        obs = observations[row["site"]]
        o = obs.series[row["variable"]].value
        ok = np.isfinite(o)
        e = np.abs(_pred(obs, "ModA", "Posterior", row["variable"])[ok] - o[ok])
        sigma = SIGMA[row["variable"]]
        assert row["Posterior Band Coverage 1 sigma"] == pytest.approx(np.mean(e <= sigma))
        assert row["Posterior Band Coverage 2 sigma"] == pytest.approx(np.mean(e <= 2 * sigma))
    others = s[~((s["model"] == "ModA.v1") & (s["stage"] == "Posterior"))]
    assert others["Posterior Band Coverage 1 sigma"].isna().all()


def test_prior_posterior_changes_and_improvement(upload, observations) -> None:
    _, _, result = upload
    ch = result.changes[result.changes["metric"] == "RMSE"]
    assert len(ch) == 3 * 4 * 3
    for row in ch.itertuples():
        model = row.model.split(".")[0]
        obs = observations[row.site]
        prior = _independent(obs, _pred(obs, model, "Prior", row.variable), row.variable)["RMSE"]
        post = _independent(obs, _pred(obs, model, "Posterior", row.variable),
                            row.variable)["RMSE"]
        assert row.change == pytest.approx(post - prior, rel=1e-9, abs=1e-9)
        assert row.relative_change == pytest.approx((post - prior) / prior)
        assert row.improved == (post < prior)
    assert ch[ch["model"] == "ModA.v1"]["improved"].all()
    assert not ch[ch["model"] == "ModC.v1"]["improved"].any()


def test_intermodel_spread_matches_independent(upload, observations) -> None:
    _, _, result = upload
    sp = result.spread
    assert len(sp) == 4 * 3 and (sp["n_models"] == 3).all()
    for row in sp.itertuples():
        obs = observations[row.site]
        for stage, col in (("Prior", "spread_prior"), ("Posterior", "spread_posterior")):
            stack = np.vstack([_pred(obs, m, stage, row.variable) for m in ("ModA", "ModB",
                                                                             "ModC")])
            assert getattr(row, col) == pytest.approx(stack.std(axis=0).mean(), rel=1e-9)
        assert row.spread_posterior < row.spread_prior  # the perturbations converge
    assert "inter-model spread relative change" in set(result.pooled["quantity"])


def test_pooled_by_igbp_and_overall_with_bootstrap(upload) -> None:
    _, _, result = upload
    ch, pooled = result.changes, result.pooled
    rmse = ch[ch["metric"] == "RMSE"]
    for role in ("Calibration", "Validation"):
        for cls in ("all sites", "DBF", "ENF"):
            sel = rmse[(rmse["role"] == role)
                       & ((rmse["igbp"] == cls) if cls != "all sites" else True)]
            per_site = sel.groupby("site")["relative_change"].mean()
            row = pooled[(pooled["role"] == role) & (pooled["class"] == cls)
                         & (pooled["model"] == "all models")
                         & (pooled["quantity"] == "RMSE relative change")
                         & (pooled["variable"] == "nep")]
            want = sel[sel["variable"] == "nep"].groupby("site")["relative_change"].mean()
            assert len(row) == 1 and len(per_site) >= 1
            row = row.iloc[0]
            assert row["mean"] == pytest.approx(want.mean())
            assert row["sites"] == len(want)
            if len(want) >= 2:
                assert want.min() - 1e-12 <= row["ci_low"] <= row["mean"] <= row["ci_high"] \
                    <= want.max() + 1e-12
            else:
                assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])


def _cycle_independent(obs, var):
    """365-day circular 31-day-window mean by brute force (independent of site_cycle)."""
    d = obs.dates
    doy = np.array([(pd.Timestamp(2001, t.month, min(t.day, 28) if t.month == 2 else t.day)
                     .day_of_year - 1) for t in d])
    v = obs.series[var].value
    ok = np.isfinite(v)
    out = np.full(365, np.nan)
    for k in range(365):
        dist = np.abs(((doy[ok] - k + 182) % 365) - 182)
        near = dist <= 15
        if near.any():
            out[k] = v[ok][near].mean()
    return out, doy


def test_seasonal_benchmark_verdicts_match_independent(upload, observations) -> None:
    _, _, result = upload
    table = load_site_table()
    bench = result.benchmarks
    for site in ("DK-Sor", "CH-Dav"):
        igbp = table[site].igbp
        others = [s for s in observations if s != site and s in table and table[s].igbp == igbp]
        for var in VARS:
            members = [s for s in others if np.isfinite(observations[s].series[var].value).any()]
            cycles = np.vstack([_cycle_independent(observations[s], var)[0] for s in members])
            cycle = np.nanmean(cycles, axis=0)
            _, doy = _cycle_independent(observations[site], var)
            b = cycle[doy]
            o = observations[site].series[var].value
            for model in ("ModA", "ModB", "ModC"):
                for stage in ("Prior", "Posterior"):
                    p = _pred(observations[site], model, stage, var)
                    ok = np.isfinite(o) & np.isfinite(b)
                    rm = np.sqrt(np.mean((p[ok] - o[ok]) ** 2))
                    rb = np.sqrt(np.mean((b[ok] - o[ok]) ** 2))
                    row = bench[(bench["site"] == site) & (bench["variable"] == var)
                                & (bench["model"] == f"{model}.v1") & (bench["stage"] == stage)]
                    row = row.iloc[0]
                    assert row["benchmark_rmse"] == pytest.approx(rb, rel=1e-9)
                    assert row["model_rmse"] == pytest.approx(rm, rel=1e-9)
                    assert bool(row["beats"]) == (rm < rb)
                    assert set(row["note"].split("mean cycle of ")[1].split(", ")) == set(members)
    summary = result.benchmark_summary
    assert {"sites_beaten", "beats_benchmark"} <= set(summary.columns)
    # ModB's prior (scale 0.6) loses to the benchmark at most sites, its posterior wins more
    b = summary[(summary["model"] == "ModB.v1") & (summary["variable"] == "hfls")]
    assert b[b["stage"] == "Posterior"]["sites_beaten"].sum() >= \
        b[b["stage"] == "Prior"]["sites_beaten"].sum()


def test_official_template_one_error_and_scored_against_dk_sor(tmp_path) -> None:
    report = check_file(TEMPLATE, obs_dir=OBS)
    errors = [f for f in report.findings if f.level == "ERROR"]
    assert len(errors) == 1 and errors[0].where == "cSoil" and "\\u200b" in errors[0].message
    assert {f.where for f in report.findings if f.level == "WARNING"} >= {"lat", "lon"}
    info = [f.message for f in report.findings if f.level == "INFO"]
    assert any("6574 days incl. 4 leap days" in m and "matches the DK-Sor" in m for m in info)
    result = score_upload([TEMPLATE], OBS, tmp_path / "out")
    scored = result.scores[result.scores["status"] == "scored"]
    assert set(scored["variable"]) == {"nep", "hfls", "hfss"}
    assert set(scored["site"]) == {"DK-Sor"}
    nep = scored[scored["variable"] == "nep"].iloc[0]
    assert nep["Days"] == np.isfinite(load_observations(OBS)["DK-Sor"].series["nep"].value).sum()
    assert nep["Correlation"] > 0.5  # -nep follows observed NEE: the sign convention holds


def _bad(tmp_path, observations, **kw):
    obs = observations[kw.pop("site_obs", "DK-Sor")]
    series = {v: truth(obs, v) for v in VARS}
    series.update(kw.pop("series", {}))
    return write_site_file(tmp_path, obs, "Bad", "v1", "Prior", kw.pop("calval", "Cal"), series,
                           **kw)


def _errors(path, where=None):
    rep = check_file(path, obs_dir=OBS)
    return [f.message for f in rep.findings if f.level == "ERROR"
            and (where is None or f.where == where)]


def test_bad_wrong_site_code(tmp_path, observations) -> None:
    unknown = _bad(tmp_path, observations, site="XX-Abc")
    assert any("wrong site code" in m for m in _errors(unknown, "site"))
    # DK-Sor data named DE-Gri: wrong period and far from the DE-Gri tower
    mislabelled = _bad(tmp_path, observations, site="DE-Gri")
    msgs = _errors(mislabelled)
    assert any("km from the DE-Gri tower" in m for m in msgs)
    assert any("wrong period" in m for m in msgs)
    result = score_upload([unknown, mislabelled], OBS)
    assert (result.scores["status"] == "unscored").all()
    assert len(result.scores) == 2


def test_bad_wrong_period_and_missing_leap_days(tmp_path, observations) -> None:
    shifted = _bad(tmp_path / "a", observations, time_units="days since 1998-01-01 00:00:00",
                   time_values=np.arange(6574.0))
    msg = _errors(shifted, "time")
    assert msg and "wrong period" in msg[0] and "1998-01-01" in msg[0] and "6574 days" in msg[0]
    obs = observations["DK-Sor"]
    noleap = _bad(tmp_path / "b", observations, calendar="noleap",
                  time_values=np.arange(obs.n_days - obs.n_leap_days, dtype=float),
                  time_units="days since 1997-01-01")
    assert any("29 February" in m for m in _errors(noleap, "time"))
    short = _bad(tmp_path / "c", observations,
                 time_values=np.arange(obs.n_days - obs.n_leap_days, dtype=float),
                 time_units="days since 1997-01-01")
    assert any("wrong period" in m for m in _errors(short, "time"))
    fractional = _bad(tmp_path / "d", observations, time_values=np.arange(6574.0) + 0.4583333,
                      time_units="days since 1997-01-01")
    assert any("not accepted" in m for m in _errors(fractional, "time"))
    for path in (shifted, noleap, short, fractional):
        result = score_upload([path], OBS)
        assert (result.scores["status"] == "unscored").all(), path


def test_end_of_day_stamps_are_accepted(tmp_path, observations) -> None:
    path = _bad(tmp_path, observations, time_values=np.arange(1.0, 6575.0),
                time_units="days since 1997-01-01 00:00:00")
    rep = check_file(path, obs_dir=OBS)
    assert rep.ok
    assert any("end-of-day stamps" in f.message for f in rep.findings if f.level == "INFO")


def test_bad_missing_variable_scores_the_rest(tmp_path, observations) -> None:
    def drop_hfls(ds):
        ds.renameVariable("hfls", "latent")

    path = _bad(tmp_path, observations, mutate=drop_hfls)
    assert _errors(path, "hfls") == ["required variable is missing"]
    s = score_upload([path], OBS).scores
    assert s.set_index("variable").loc["hfls", "status"] == "unscored"
    assert (s[s["variable"] != "hfls"]["status"] == "scored").all()


def test_bad_nee_sign_flipped_detected_against_observations(tmp_path, observations) -> None:
    obs = observations["DK-Sor"]
    path = _bad(tmp_path, observations, series={"nep": -truth(obs, "nep")})
    msg = _errors(path, "nep")
    assert len(msg) == 1 and "sign looks flipped" in msg[0] and "DK-Sor" in msg[0]
    s = score_upload([path], OBS).scores.set_index("variable")
    assert s.loc["nep", "status"] == "unscored" and "flipped" in s.loc["nep", "note"]
    assert s.loc["hfls", "status"] == "scored"


def test_bad_units_not_as_in_protocol(tmp_path, observations) -> None:
    def spell(ds):
        ds.variables["hfss"].units = "W/m2"

    def grams(ds):  # nep written in gC m-2 d-1 numbers under the protocol's unit
        ds.variables["nep"][:] = ds.variables["nep"][:] * 1000 * 86400

    a = _bad(tmp_path / "a", observations, mutate=spell)
    assert any("the protocol requires 'W m-2'" in m for m in _errors(a, "hfss"))
    b = _bad(tmp_path / "b", observations, mutate=grams)
    assert any("daily values at one site" in m for m in _errors(b, "nep"))
    for path, var in ((a, "hfss"), (b, "nep")):
        s = score_upload([path], OBS).scores.set_index("variable")
        assert s.loc[var, "status"] == "unscored"


def test_bad_role_and_attributes(tmp_path, observations) -> None:
    val = _bad(tmp_path / "a", observations, calval="Val")  # DK-Sor is a calibration site
    assert any("calibration site" in m for m in _errors(val, "file name"))

    def stage(ds):
        ds.Calibration_stage = "Posterior"

    b = _bad(tmp_path / "b", observations, mutate=stage)
    assert any("Calibration_stage" in m for m in _errors(b, "global attributes"))
    assert (score_upload([val, b], OBS).scores["status"] == "unscored").all()


def test_any_observation_directory_and_missing_obs(tmp_path, observations) -> None:
    obs_dir = tmp_path / "obs"
    obs_dir.mkdir()
    for site in ("DK-Sor", "DE-Hai"):
        shutil.copy(observations[site].path, obs_dir)
    ok = _bad(tmp_path / "a", observations)
    no_obs = _bad(tmp_path / "b", observations, site_obs="CH-Dav")
    result = score_upload([ok, no_obs], obs_dir)
    s = result.scores
    assert (s[s["site"] == "DK-Sor"]["status"] == "scored").all()
    assert s[s["site"] == "CH-Dav"]["note"].str.contains("no observations").all()
    # the seasonal benchmark only sees the sites of this directory (DE-Hai for DK-Sor)
    notes = set(result.benchmarks["note"])
    assert notes == {"DBF: mean cycle of DE-Hai"}


def test_site_table_errors(tmp_path) -> None:
    bad = tmp_path / "t.csv"
    bad.write_text("site,role,igbp\nDK-Sor,Calib,DBF\n")
    with pytest.raises(SiteTableError, match=r"t\.csv:2: role"):
        load_site_table(bad)
    assert load_site_table()["IT-MBo"].igbp == "GRA"
    assert sum(s.role == "Calibration" for s in PROTOCOL_V2_SITES.values()) == 21
    assert sum(s.role == "Validation" for s in PROTOCOL_V2_SITES.values()) == 10


def test_cli_sites_and_check(tmp_path, upload, site_table_csv) -> None:
    root, _, _ = upload
    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "callmip_app.cli", "sites", str(root / "ModA"),
                           str(TEMPLATE), "--obs", str(OBS), "--out", str(out),
                           "--site-table", str(site_table_csv), "--bootstrap", "200"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr  # the template's cSoil error
    assert "9 site files, 9 scored, 1 errors" in proc.stdout
    assert "cSoil" in proc.stdout and (out / "index.html").exists()
    proc = subprocess.run([sys.executable, "-m", "callmip_app.cli", "check", str(TEMPLATE)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "(1 errors," in proc.stdout
    with netCDF4.Dataset(TEMPLATE) as ds:  # the template itself is untouched
        assert ds.variables["cSoil"].units == "kg m-2\u200b"
