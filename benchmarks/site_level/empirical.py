"""Empirical benchmarks a model should beat, in the spirit of PLUMBER2 (Abramowitz et al. 2024).

Contract: :func:`seasonal_benchmark` predicts a site's daily series, without meteorology, as the
mean seasonal cycle of the *other* sites of the same IGBP class (out of sample: the site's own
observations are never used). Each site's cycle is built from its valid observation days:
day-of-year bins on a 365-day year (29 February joins 28 February), pooled over years and
smoothed with a centred, circular 31-day window (the towers keep few good NEE days - CH-Dav has
91 - so a single day's bin is too noisy), then the class cycle is the plain mean of the sites'
cycles (each site counts once, however long its record). Southern-hemisphere cycles are shifted
by half a year onto the northern calendar and back, so seasons line up. A site alone in its
class has no benchmark, and the verdict says so.

:func:`verdicts` compares a model and a benchmark on the *same* days (observation, model and
benchmark all valid): the model beats the benchmark when its RMSE is lower (the headline, as
PLUMBER2 ranks on such error metrics); the row also counts how many of four metrics the model
wins (|bias|, RMSE, correlation, |SD ratio - 1|).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from benchmarks.site_level.upload import SiteRun
from callmip.conform.phase1_sites import Phase1Site, canonical_code
from callmip.fluxobs import FluxObservations

DAYS = 365
WINDOW = 31
HALF_YEAR = 182
SEASONAL = "seasonal cycle of same-IGBP sites"


def season_day(dates: pd.DatetimeIndex, lat: float) -> np.ndarray:
    """0..364: day of a 365-day year, 29 Feb as 28 Feb, shifted half a year south of the equator."""
    doy = dates.day_of_year.to_numpy() - 1
    leap_after = dates.is_leap_year & (dates.month > 2)
    doy = np.where(leap_after | ((dates.month == 2) & (dates.day == 29)), doy - 1, doy)
    if lat < 0:
        doy = (doy + HALF_YEAR) % DAYS
    return doy.astype(int)


def site_cycle(dates: pd.DatetimeIndex, values: np.ndarray, lat: float) -> np.ndarray:
    """The smoothed mean seasonal cycle (365 values, northern calendar; NaN where no data)."""
    ok = np.isfinite(values)
    day = season_day(dates, lat)[ok]
    sums = np.bincount(day, weights=values[ok], minlength=DAYS)
    counts = np.bincount(day, minlength=DAYS).astype(float)
    kernel = np.ones(WINDOW)
    half = WINDOW // 2

    def circular(x: np.ndarray) -> np.ndarray:
        padded = np.concatenate([x[-half:], x, x[:half]])
        return np.convolve(padded, kernel, mode="valid")

    s, c = circular(sums), circular(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / c, np.nan)


def class_members(site: str, table: Mapping[str, Phase1Site],
                  observations: Mapping[str, FluxObservations], variable: str) -> list[str]:
    """The other observed sites of ``site``'s IGBP class that observe ``variable``."""
    code = canonical_code(site, table)
    if code is None:
        return []
    igbp = table[code].igbp
    out = []
    for other, obs in sorted(observations.items()):
        other_code = canonical_code(other, table)
        if other_code is None or other_code == code or table[other_code].igbp != igbp:
            continue
        if variable in obs.series and np.isfinite(obs.series[variable].value).any():
            out.append(other)
    return out


def seasonal_benchmark(site: str, variable: str, table: Mapping[str, Phase1Site],
                       observations: Mapping[str, FluxObservations]
                       ) -> tuple[np.ndarray | None, str]:
    """The benchmark series on ``site``'s observation days, and a note naming its sites."""
    members = class_members(site, table, observations, variable)
    code = canonical_code(site, table)
    igbp = table[code].igbp if code else "unlisted"
    if not members:
        return None, f"no other observed {igbp} site with {variable}: no benchmark"
    cycles = np.vstack([
        site_cycle(observations[m].dates, observations[m].series[variable].value,
                   observations[m].lat) for m in members
    ])
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(cycles).sum(axis=0)
        cycle = np.where(counts > 0, np.nansum(cycles, axis=0) / np.maximum(counts, 1), np.nan)
    target = observations[site]
    return cycle[season_day(target.dates, target.lat)], f"{igbp}: mean cycle of " + \
        ", ".join(members)


def _metrics(pred: np.ndarray, obs: np.ndarray) -> dict[str, float]:
    err = pred - obs
    sd_o = float(obs.std())
    corr = float(np.corrcoef(pred, obs)[0, 1]) if pred.std() > 0 and sd_o > 0 else np.nan
    return {"abs_bias": abs(float(err.mean())), "rmse": float(np.sqrt((err**2).mean())),
            "corr": corr, "sd_error": abs(float(pred.std()) / sd_o - 1) if sd_o > 0 else np.nan}


def compare_with_benchmark(model: np.ndarray, bench: np.ndarray, obs: np.ndarray
                           ) -> dict[str, float]:
    """Model and benchmark metrics on their common valid days; verdict and metrics won."""
    ok = np.isfinite(model) & np.isfinite(bench) & np.isfinite(obs)
    n = int(ok.sum())
    if n < 3:
        return {"days": n}
    mm, bm = _metrics(model[ok], obs[ok]), _metrics(bench[ok], obs[ok])
    won = 0
    for key in ("abs_bias", "rmse", "sd_error"):
        won += int(mm[key] < bm[key])
    won += int(np.nan_to_num(mm["corr"], nan=-2) > np.nan_to_num(bm["corr"], nan=-2))
    return {"days": n, "model_rmse": mm["rmse"], "benchmark_rmse": bm["rmse"],
            "model_corr": mm["corr"], "benchmark_corr": bm["corr"],
            "beats": bool(mm["rmse"] < bm["rmse"]), "metrics_won": won}


def verdicts(runs: Sequence[SiteRun], observations: Mapping[str, FluxObservations],
             benchmarks: Mapping[tuple[str, str], dict[str, tuple[np.ndarray | None, str]]]
             ) -> pd.DataFrame:
    """One row per scored (model, scenario, stage, site, variable) and benchmark."""
    rows = []
    for run in runs:
        for variable, model in run.values.items():
            obs = observations[run.site].series[variable].value
            for bench_name, (series, note) in benchmarks.get((run.site, variable), {}).items():
                base = {"model": run.model, "scenario": run.scenario, "stage": run.stage,
                        "role": run.role or "unlisted", "igbp": run.igbp or "unlisted",
                        "site": run.site, "variable": variable, "benchmark": bench_name,
                        "note": note}
                if series is None:
                    rows.append({**base, "days": 0, "beats": None})
                    continue
                rows.append({**base, **compare_with_benchmark(model, series, obs)})
    cols = ["model", "scenario", "stage", "role", "igbp", "site", "variable", "benchmark",
            "days", "model_rmse", "benchmark_rmse", "model_corr", "benchmark_corr", "beats",
            "metrics_won", "note"]
    return pd.DataFrame(rows, columns=cols)


def verdict_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per model, scenario, stage, role, variable and benchmark: sites beaten out of scored."""
    sel = table[table["beats"].notna()]
    if sel.empty:
        return pd.DataFrame(columns=["model", "scenario", "stage", "role", "variable",
                                     "benchmark", "sites_beaten", "sites", "beats_benchmark"])
    g = sel.groupby(["model", "scenario", "stage", "role", "variable", "benchmark"], sort=True)
    out = g["beats"].agg(sites_beaten=lambda s: int(s.astype(bool).sum()), sites="size")
    out = out.reset_index()
    out["beats_benchmark"] = out["sites_beaten"] * 2 > out["sites"]
    return out
