"""How ``callmip sites`` reads and pools, kept fast without changing a number: each site file is
opened once and every variable read once (missing values as NaN, never a fill value), the pooled
bootstrap shares its draws, the headline figure is inline SVG, and checking a file does not
import the conform stage's heavy dependencies. Site files are real NetCDF built from the real
DK-Sor observations."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.site_level import compare
from benchmarks.site_level.empirical import season_day
from benchmarks.site_level.figure import bar_chart_svg, ticks
from benchmarks.site_level.run import load_observations, score_upload
from benchmarks.site_level.testing import truth, write_site_file
from callmip.conform.check import FileValues, check_file
from callmip.fluxobs import leap_days

REPO = Path(__file__).resolve().parents[2]
OBS = REPO / "data/flux-sites"
VARS = ("nep", "hfls", "hfss")


@pytest.fixture(scope="module")
def dk_sor():
    return load_observations(OBS)["DK-Sor"]


def _write(directory: Path, obs, model: str = "ModX", **kw) -> Path:
    series = {v: truth(obs, v) for v in VARS}
    return write_site_file(directory, obs, model, "v1", "Prior", "Cal", series, **kw)


def test_fill_values_are_missing_days_not_values(tmp_path, dk_sor) -> None:
    """Days a model writes as _FillValue are left out of the scores (they were once scored as
    1e20): the metrics equal an independent computation on the remaining days."""
    gaps = np.flatnonzero(np.isfinite(dk_sor.series["hfls"].value))[:25]

    def mask_days(ds):
        v = ds.variables["hfls"]
        data = v[:]
        data[gaps] = np.ma.masked
        v[:] = data

    path = _write(tmp_path, dk_sor, mutate=mask_days)
    with netCDF4.Dataset(path) as ds:  # the file really holds the fill value there
        ds.set_auto_mask(False)
        assert (ds.variables["hfls"][gaps].ravel() == 1e20).all()
    result = score_upload([path], OBS)
    row = result.scores.set_index("variable").loc["hfls"]
    assert row["status"] == "scored"
    model = truth(dk_sor, "hfls")
    model[gaps] = np.nan
    o = dk_sor.series["hfls"].value
    ok = np.isfinite(o) & np.isfinite(model)
    e = model[ok] - o[ok]
    assert row["Days"] == ok.sum() == np.isfinite(o).sum() - len(gaps)
    assert row["RMSE"] == pytest.approx(np.sqrt(np.mean(e**2)), abs=1e-9)
    assert row["Bias"] == pytest.approx(e.mean(), abs=1e-9)
    assert row["Model Mean"] == pytest.approx(model[ok].mean(), rel=1e-12)


def test_masked_tower_coordinate_is_an_error(tmp_path, dk_sor) -> None:
    def mask_lat(ds):
        ds.variables["lat"].setncattr("missing_value", ds.variables["lat"][0])

    path = _write(tmp_path, dk_sor, mutate=mask_lat)
    errors = [f.message for f in check_file(path, obs_dir=OBS).findings
              if f.level == "ERROR" and f.where == "lat"]
    assert errors and "missing" in errors[0]
    assert (score_upload([path], OBS).scores["status"] == "unscored").all()


def test_file_values_missing_means_nan_and_site_reads_are_cached(tmp_path) -> None:
    path = tmp_path / "v.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("t", 6)
        a = ds.createVariable("a", "f8", ("t",), fill_value=-1.0)
        a.missing_value = -2.0
        a.valid_max = 100.0
        a[:] = np.ma.masked_array([1.0, -1.0, -2.0, 500.0, np.nan, np.inf], mask=[0, 1, 0, 0, 0, 0])
        b = ds.createVariable("b", "i4", ("t",), fill_value=-9)
        b[:] = np.ma.masked_array([1, 2, 3, 4, 5, 6], mask=[0, 0, 0, 0, 0, 1])
        b.units = "1"
    with netCDF4.Dataset(path) as ds:
        cached = FileValues(ds, cache=True)
        assert cached.data("a").tolist()[0] == 1.0
        assert np.isnan(cached.data("a")[1:]).all()  # fill, missing_value, range, NaN, inf
        assert cached.data("b").dtype == np.float64 and np.isnan(cached.data("b")[5])
        assert cached.data("a") is cached.data("a") and cached.attrs("b") == {"_FillValue": -9,
                                                                             "units": "1"}
        uncached = FileValues(ds, cache=False)
        assert uncached.data("a") is not uncached.data("a")
        cached.detach()
        uncached.detach()
    assert cached.data("b")[0] == 1.0 and cached.shape("a") == (6,)  # readable after close
    with pytest.raises(RuntimeError, match="not read"):
        uncached.data("a")
    assert "a" in cached and "c" not in cached


def test_site_file_opened_once_per_check_and_score(tmp_path, dk_sor, monkeypatch) -> None:
    path = _write(tmp_path, dk_sor)
    opened: list[str] = []
    real = netCDF4.Dataset

    def counting(filename, *args, **kw):
        opened.append(str(filename))
        return real(filename, *args, **kw)

    monkeypatch.setattr(netCDF4, "Dataset", counting)
    observations = load_observations(OBS)
    opened.clear()
    result = score_upload([path], OBS)
    assert opened.count(str(path)) == 1
    run = result.runs[0]
    assert run.report.values is None  # what the checker read is not kept beyond the scoring
    assert set(run.values) == set(VARS)
    report = check_file(path, observations=observations, keep_values=True)
    assert report.values is not None and {"nep", "time", "lat"} <= set(report.values.names)


def _pooled_reference(changes: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """The pooling written the plain way: a pandas group per class, model and site."""
    rows = []
    for metric, kind in compare.POOLED_QUANTITIES.items():
        sel = changes[changes["metric"] == metric]
        for (scenario, role, variable), g in sel.groupby(["scenario", "role", "variable"]):
            classes = [("all sites", g), *((str(c), gc) for c, gc in g.groupby("igbp"))]
            for cls, gc in classes:
                per_model = [(m, gm.groupby("site")[kind].mean())
                             for m, gm in gc.groupby("model")]
                per_model.append(("all models", gc.groupby("site")[kind].mean()))
                for model, per_site in per_model:
                    v = per_site.to_numpy(dtype=float)
                    v = v[np.isfinite(v)]
                    mean = v.mean() if v.size else np.nan
                    lo = hi = np.nan
                    if v.size >= 2:
                        idx = np.random.default_rng(seed).integers(0, v.size, (n_boot, v.size))
                        lo, hi = np.percentile(v[idx].mean(axis=1), [2.5, 97.5])
                    sub = gc if model == "all models" else gc[gc["model"] == model]
                    rows.append((scenario, role, variable, cls, model, int(per_site.notna().sum()),
                                 mean, lo, hi, f"{int((sub['improved'] == True).sum())}/"  # noqa: E712
                                                f"{len(sub)}"))
    return pd.DataFrame(rows, columns=["scenario", "role", "variable", "class", "model", "sites",
                                       "mean", "ci_low", "ci_high", "improved"])


def test_pooled_equals_the_plain_computation() -> None:
    rng = np.random.default_rng(3)
    sites = {f"S{i:02d}": ("DBF", "ENF", "GRA")[i % 3] for i in range(11)}
    rows = []
    for site, igbp in sites.items():
        for model in ("M1", "M2", "M3", "M4"):
            if rng.random() < 0.15:
                continue  # not every model at every site
            for variable in ("nep", "hfls"):
                for metric in compare.POOLED_QUANTITIES:
                    change = rng.normal() if rng.random() > 0.05 else np.nan
                    rows.append({"model": model, "scenario": "Scen1",
                                 "role": "Calibration" if site < "S07" else "Validation",
                                 "igbp": igbp, "site": site, "variable": variable,
                                 "metric": metric, "change": change,
                                 "relative_change": change / 3,
                                 "improved": None if np.isnan(change) else bool(change < 0)})
    changes = pd.DataFrame(rows)
    spread = pd.DataFrame(columns=["scenario", "role", "variable", "igbp", "relative_change",
                                   "change"])
    got = compare.pooled(changes, spread, n_boot=300, seed=5)
    want = _pooled_reference(changes, 300, 5)
    assert len(got) == len(want)
    for col in ("scenario", "role", "variable", "class", "model", "sites", "improved"):
        assert got[col].tolist() == want[col].tolist(), col
    for col in ("mean", "ci_low", "ci_high"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-12, atol=1e-15)


def test_shared_bootstrap_draws_are_the_fresh_draws() -> None:
    v = np.array([0.3, -1.2, 0.8, 2.0, -0.1])
    mean, lo, hi = compare.bootstrap_mean(v, n_boot=400, seed=9)
    idx = np.random.default_rng(9).integers(0, 5, size=(400, 5))
    q = [50 * (1 - 0.95), 50 * (1 + 0.95)]  # the function's level=0.95, rounded alike
    assert (lo, hi) == tuple(np.percentile(v[idx].mean(axis=1), q))
    assert compare.bootstrap_mean(v, n_boot=400, seed=9) == (mean, lo, hi)
    with pytest.raises(ValueError):
        compare._resamples(5, 400, 9)[0, 0] = 1  # shared draws cannot be altered


@settings(max_examples=60, deadline=None)
@given(start=st.dates(min_value=pd.Timestamp("1850-01-01").date(),
                      max_value=pd.Timestamp("2150-01-01").date()),
       n=st.integers(0, 3000), lat=st.sampled_from([51.0, -33.0]))
def test_season_day_and_leap_days_agree_with_pandas_calendar(start, n, lat) -> None:
    dates = pd.date_range(start, periods=n, freq="D")
    assert leap_days(dates) == int(((dates.month == 2) & (dates.day == 29)).sum())
    doy = dates.day_of_year.to_numpy() - 1
    doy = np.where((dates.is_leap_year & (dates.month > 2))
                   | ((dates.month == 2) & (dates.day == 29)), doy - 1, doy)
    if lat < 0:
        doy = (doy + 182) % 365
    assert np.array_equal(season_day(dates, lat), doy)


def test_bar_chart_svg_draws_values_and_intervals() -> None:
    labels = ["NEE <A&B>", "Qle M2", "Qh M3", "gap"]
    values = [-40.0, 10.0, -5.0, np.nan]
    lows = [-60.0, np.nan, -9.0, np.nan]
    highs = [-20.0, np.nan, -1.0, np.nan]
    svg = bar_chart_svg(labels, values, lows, highs, title="Cal & Val", ylabel="change (%)")
    root = ET.fromstring(svg)  # well-formed, labels escaped
    ns = "{http://www.w3.org/2000/svg}" if root.tag.startswith("{") else ""
    bars = root.findall(f"{ns}rect[@class='bar']")
    assert len(bars) == 3  # no bar for NaN
    heights = [float(b.get("height")) for b in bars]
    assert heights[0] / heights[1] == pytest.approx(4.0, rel=0.02)
    assert [b.get("fill") for b in bars] == ["#1a7f5a", "#b42318", "#1a7f5a"]
    assert len(root.findall(f"{ns}line[@class='ci']")) == 2 * 3  # two whiskers, 3 lines each
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "NEE <A&B>" in texts and "Cal & Val" in texts
    assert "<script" not in svg and "http" not in svg


@given(lo=st.floats(-1e6, 1e6), span=st.floats(1e-3, 1e6))
def test_ticks_cover_the_range_in_round_steps(lo, span) -> None:
    t = ticks(lo, lo + span)
    assert t[0] <= lo and t[-1] >= lo + span and 2 <= len(t) <= 13
    steps = np.diff(t)
    assert np.allclose(steps, steps[0], rtol=1e-6)
    mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]))
    assert min(abs(mantissa - m) for m in (1, 2, 2.5, 5, 10)) < 1e-6


def test_checking_a_file_imports_neither_xarray_nor_the_regridder() -> None:
    code = ("import sys; import callmip.conform.check, benchmarks.site_level.run; "
            "from callmip.conform import check_file, TABLE; "
            "print(sorted(m for m in ('xarray', 'regrid', 'numba', 'scipy', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True).stdout.strip()
    assert out == "[]"
    from callmip import conform

    assert conform.GlobalAttrs.__module__ == "callmip.conform.conform"  # still exported
    with pytest.raises(AttributeError):
        conform.no_such_name  # noqa: B018
