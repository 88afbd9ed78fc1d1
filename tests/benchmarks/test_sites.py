"""Site confrontation: signs, units and calendars against the real CalLMIP tower data."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.confront import ModelOutput
from benchmarks.sites import confront_sites, read_site, site_files, site_metrics
from benchmarks.testing import write_callmip_monthly

REPO = Path(__file__).resolve().parents[2]
SITES = REPO / "data/flux-sites"
YEARS = (2004, 2005)


@pytest.fixture(scope="module")
def dk_sor():
    return read_site(next(p for p in site_files(SITES) if p.name.startswith("DK-Sor")))


def _cube(series: np.ndarray, n: int = 3) -> np.ndarray:
    return np.repeat(np.repeat(series[:, None, None], n, axis=1), n, axis=2)


def _site_model(tmp_path: Path, site, sign: float = -1.0, frequency: str = "daily") -> ModelOutput:
    """A 3x3 model around the site whose nep is sign x NEE in CalLMIP units (daily noleap)."""
    sel = (site.dates.year >= YEARS[0]) & (site.dates.year <= YEARS[1])
    nee, qle, qh = (site.series[k][0][sel] for k in ("NEE_daily", "Qle_daily", "Qh_daily"))
    assert nee.size == 730  # Feb 29 2004 dropped: the model's noleap calendar has no such day
    nep = sign * nee / 1000.0 / 86400.0  # gC m-2 d-1 -> kgC m-2 s-1
    lat = np.round(site.lat) + np.array([-1.0, 0.0, 1.0])
    lon = np.round(site.lon) + np.array([-1.0, 0.0, 1.0])
    variables = {"nep": _cube(nep), "hfls": _cube(qle), "hfss": _cube(qh)}
    if frequency == "monthly":
        variables = {k: _monthly_means(v) for k, v in variables.items()}
    path = write_callmip_monthly(
        tmp_path / f"S.v1_global_1deg_{frequency}_2004-2005_Prior.nc",
        model="S.v1",
        stage="Prior",
        lat=lat,
        lon=lon,
        years=YEARS,
        variables=variables,
        frequency=frequency,
    )
    return ModelOutput("S", "Prior", path, path if frequency == "daily" else None)


def _monthly_means(daily: np.ndarray) -> np.ndarray:
    from benchmarks.fields import DAYS_PER_MONTH

    edges = np.concatenate([[0], np.cumsum(np.tile(DAYS_PER_MONTH, 2))]).astype(int)
    return np.stack([np.nanmean(daily[a:b], axis=0) for a, b in itertools.pairwise(edges)])


def _rows(table, site: str, variable: str) -> dict[str, float]:
    sel = table[(table["region"] == site) & (table["variable"] == variable)]
    return dict(zip(sel["name"], sel["value"], strict=True))


def test_model_nep_equal_to_minus_site_nee_scores_perfect(tmp_path, dk_sor) -> None:
    output = _site_model(tmp_path, dk_sor, sign=-1.0)
    table = confront_sites([output], SITES, tmp_path / "out")
    for variable in ("nep", "hfls", "hfss"):
        r = _rows(table, "DK-Sor", variable)
        assert r["Days"] > 100
        assert r["Bias"] == pytest.approx(0.0, abs=1e-6)
        assert r["RMSE"] == pytest.approx(0.0, abs=1e-5)
        assert r["Fraction Within Uncertainty"] == 1.0
        assert r["Bias Score"] == pytest.approx(1.0)
        assert r["Correlation"] == pytest.approx(1.0)
    nep_rows = table[(table["variable"] == "nep") & (table["region"] == "DK-Sor")]
    assert (nep_rows["units"].isin(["gC m-2 d-1", "1"])).all()
    assert nep_rows["note"].str.contains("NEE = -nep").all()
    assert (tmp_path / "out/site_pairs.csv").exists()


def test_wrong_sign_is_caught(tmp_path, dk_sor) -> None:
    """nep = +NEE (a sign error) anticorrelates with the tower and misses the uncertainty."""
    table = confront_sites([_site_model(tmp_path, dk_sor, sign=+1.0)], SITES)
    r = _rows(table, "DK-Sor", "nep")
    assert r["Correlation"] == pytest.approx(-1.0)
    assert r["Fraction Within Uncertainty"] < 0.5


def test_monthly_model_uses_monthly_site_means(tmp_path, dk_sor) -> None:
    table = confront_sites([_site_model(tmp_path, dk_sor, frequency="monthly")], SITES)
    r = _rows(table, "DK-Sor", "hfls")
    assert "Months" in r and 0 < r["Months"] <= 24
    assert set(table[table["region"] == "DK-Sor"]["mode"]) == {"sites-monthly"}
    notes = table[(table["region"] == "DK-Sor") & (table["variable"] == "hfls")]["note"]
    assert notes.str.contains("monthly means of daily site data").all()


def test_sites_off_the_grid_or_out_of_period_are_skipped(tmp_path, dk_sor) -> None:
    table = confront_sites([_site_model(tmp_path, dk_sor)], SITES)
    skipped = table[table["type"] == "skipped"]
    assert set(skipped["region"]) >= {"US-MMS", "US-SRG"}
    us_srg = skipped[skipped["region"] == "US-SRG"]["note"].iloc[0]
    assert "off the grid" in us_srg or "no common days" in us_srg


@settings(max_examples=30, deadline=None)
@given(offset=st.floats(-5, 5, allow_nan=False), seed=st.integers(0, 1000))
def test_site_metrics_properties(offset: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    obs = rng.normal(0, 3, 200)
    unc = np.full(200, 0.5)
    m = site_metrics(obs + offset, obs, unc)
    assert m["Bias"] == pytest.approx(offset, abs=1e-9)
    assert m["RMSE"] == pytest.approx(abs(offset), abs=1e-9)
    if abs(abs(offset) - 0.5) > 1e-9:  # (obs + c) - obs is c only to rounding
        assert m["Fraction Within Uncertainty"] == (1.0 if abs(offset) < 0.5 else 0.0)
    assert m["Bias Score"] == pytest.approx(np.exp(-abs(offset) / obs.std()))
