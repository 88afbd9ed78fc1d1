"""PLUMBER2's 1lin / 2lin / 3km27 benchmarks on PLUMBER2-layout met files.

No site meteorology ships with the project or can be had offline, so the met files here are
*built by the test* from the towers' real observations: SWdown from the observed available
energy (Qle + Qh) / 0.6, Tair from a latitude-dependent seasonal cycle plus the observed Qh
anomaly, RH from the observed evaporative fraction. They are observation-derived stand-ins for
real meteorology, written in the real layout (half-hourly, ``(time, y, x)``, units as PLUMBER2),
so the reader, the daily aggregation and the out-of-sample fits are exercised for real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.site_level.met import met_files, read_daily_met, relative_humidity
from benchmarks.site_level.regressions import (
    KMeansRegression,
    regression_benchmarks,
    training_data,
)
from benchmarks.site_level.run import load_observations, score_upload
from benchmarks.site_level.testing import truth, write_met_file, write_site_file

REPO = Path(__file__).resolve().parents[2]
OBS = REPO / "data/flux-sites"
SITES = ("DK-Sor", "DE-Hai", "CH-Dav", "DE-Tha", "NL-Loo")


def _daily_met(obs) -> pd.DataFrame:
    qle, qh = truth(obs, "hfls"), truth(obs, "hfss")
    doy = obs.dates.day_of_year.to_numpy()
    season = -np.cos(2 * np.pi * (doy - 15) / 365.25) * (0.25 * abs(obs.lat))
    return pd.DataFrame({
        "SWdown": np.clip((qle + qh) / 0.6, 0, None),
        "Tair": 273.15 + 30 - 0.4 * abs(obs.lat) + season + 0.05 * (qh - np.mean(qh)),
        "RH": np.clip(100 * (0.3 + 0.6 * qle / np.maximum(np.abs(qle) + np.abs(qh), 1)), 5, 100),
    }, index=obs.dates)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    observations = load_observations(OBS)
    met_dir = tmp_path_factory.mktemp("met")
    daily = {}
    for s in SITES:
        daily[s] = _daily_met(observations[s])
        write_met_file(met_dir, observations[s], daily[s])
    met = {s: read_daily_met(p) for s, p in met_files(met_dir).items()}
    return observations, met_dir, met, daily


def test_met_reader_daily_means_round_trip(world) -> None:
    _, _, met, daily = world
    for s in SITES:
        got = met[s].frame.reindex(daily[s].index)
        for col in ("SWdown", "Tair", "RH"):
            np.testing.assert_allclose(got[col], daily[s][col], rtol=2e-6, atol=1e-3)


def test_rh_from_specific_humidity() -> None:
    # saturation at 20 degC and 1013.25 hPa: q = 0.622 e / (p - 0.378 e), e = 2338 Pa
    es = 611.2 * np.exp(17.67 * 20 / (20 + 243.5))
    q = 0.622 * es / (101325 - 0.378 * es)
    assert relative_humidity(np.array([q]), np.array([293.15]), np.array([101325.0]))[0] == \
        pytest.approx(100, abs=1e-6)


def test_linear_benchmarks_are_out_of_sample_least_squares(world) -> None:
    observations, _, met, _ = world
    for var in ("hfss", "nep"):
        got = regression_benchmarks("DK-Sor", var, met, observations)
        others = [s for s in SITES if s != "DK-Sor"]
        for name, cols in (("1lin", ["SWdown"]), ("2lin", ["SWdown", "Tair"])):
            xs, ys = [], []
            for s in others:
                f = met[s].frame.reindex(observations[s].dates)[cols].to_numpy()
                y = observations[s].series[var].value
                ok = np.isfinite(f).all(1) & np.isfinite(y)
                xs.append(f[ok])
                ys.append(y[ok])
            x, y = np.vstack(xs), np.concatenate(ys)
            coef = np.linalg.solve(np.c_[np.ones(len(x)), x].T @ np.c_[np.ones(len(x)), x],
                                   np.c_[np.ones(len(x)), x].T @ y)
            xt = met["DK-Sor"].frame.reindex(observations["DK-Sor"].dates)[cols].to_numpy()
            np.testing.assert_allclose(got[name][0], np.c_[np.ones(len(xt)), xt] @ coef,
                                       rtol=1e-7, atol=1e-9)
            assert "DK-Sor" not in got[name][1]


def test_benchmarks_never_see_the_target_site(world) -> None:
    observations, _, met, _ = world
    before = regression_benchmarks("DE-Hai", "hfls", met, observations)
    changed = dict(observations)
    o = observations["DE-Hai"]
    series = dict(o.series)
    series["hfls"] = type(o.series["hfls"])(o.series["hfls"].spec, o.series["hfls"].value * 5,
                                            o.series["hfls"].uncertainty)
    changed["DE-Hai"] = type(o)(o.code, o.path, o.lat, o.lon, o.dates, series)
    after = regression_benchmarks("DE-Hai", "hfls", met, changed)
    for name in ("1lin", "2lin", "3km27"):
        np.testing.assert_array_equal(before[name][0], after[name][0])


def test_3km27_recovers_an_exactly_linear_flux(world) -> None:
    observations, _, met, _ = world
    x, _ = training_data(list(SITES), "hfls", met, observations, ("SWdown", "Tair", "RH"))
    y = 3.0 + 0.2 * x[:, 0] - 0.5 * (x[:, 1] - 280) + 0.1 * x[:, 2]
    model = KMeansRegression(x, y)
    assert len(model.centroids) == 27
    np.testing.assert_allclose(model.predict(x), y, rtol=1e-8, atol=1e-6)
    # every day is predicted by its nearest centroid's regression
    labels = model.labels(x)
    d = (((x - model.mean) / model.sd)[:, None, :] - model.centroids[None]) ** 2
    np.testing.assert_array_equal(labels, d.sum(2).argmin(1))


def test_score_upload_reports_plumber2_verdicts(world, tmp_path) -> None:
    observations, met_dir, _, _ = world
    for stage, scale in (("Prior", 1.3), ("Posterior", 1.0)):
        obs = observations["DK-Sor"]
        write_site_file(tmp_path / "up", obs, "ModA", "v1", stage, "Cal",
                        {v: scale * truth(obs, v) for v in ("nep", "hfls", "hfss")})
    result = score_upload([tmp_path / "up"], OBS, tmp_path / "out", met_dir=met_dir)
    bench = result.benchmarks
    assert set(bench["benchmark"]) == {"seasonal cycle of same-IGBP sites", "1lin", "2lin",
                                       "3km27"}
    assert bench["beats"].notna().all()
    # the posterior equals the observations on observed days: it beats every benchmark
    post = bench[bench["stage"] == "Posterior"]
    assert post["beats"].astype(bool).all()
    assert "met for 5 of 15 observed sites" in result.met_note
