"""Are the prior-to-posterior changes and the change in inter-model spread larger than noise?

Contract: pure functions from the year-by-year score table of
:func:`benchmarks.confront.confront_all` (one score per model, stage, variable, product,
region, score name and year) to tidy tables with bootstrap confidence intervals:

* :func:`change_intervals` - per model, variable, product and score: the posterior-minus-prior
  change, its mean over (year, region) samples and the 95% interval of that mean;
* :func:`spread_intervals` - per variable, product and score: the spread across models (their
  population standard deviation) before and after calibration, the change of the spread, and
  their 95% intervals.

The bootstrap resamples *years and regions* (each with replacement, independently; 2000
resamples, a fixed seed so the report is reproducible): a score difference that depends on one
wet year or on one region is then not mistaken for a systematic one. The statistic of a resample
is the mean of the change over the resampled (year, region) pairs (the regions are the
confrontation's regional scores; 'global' stands in when there is none). A change "lies within
the noise" when its interval contains 0.

Year-by-year scores have no interannual-variability score (it needs two years) and the
ilamb3-mode RMSE needs 24 months, so those changes come without an interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N_BOOT = 2000
LEVEL = 0.95
SEED = 20240521

CHANGE_COLUMNS = ["source", "variable", "product", "name", "mode", "n_years", "n_regions",
                  "mean_change", "ci_low", "ci_high", "within_noise"]
SPREAD_COLUMNS = ["variable", "product", "name", "mode", "n_models", "n_years", "n_regions",
                  "spread_prior", "spread_posterior", "spread_change", "ci_low", "ci_high",
                  "spread_prior_ci", "spread_posterior_ci", "within_noise"]


def _resample_counts(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) counts of how often each item is drawn in each resample."""
    draws = rng.integers(0, n, size=(n_boot, n))
    counts = np.zeros((n_boot, n))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n), draws.ravel()), 1.0)
    return counts


def _bootstrap_means(
    cube: np.ndarray, cy: np.ndarray, cr: np.ndarray
) -> np.ndarray:
    """Mean of ``cube[..., year, region]`` over each resample's (year, region) pairs, NaN-aware.

    ``cube`` has any leading dimensions; the result is (n_boot, *leading).
    """
    finite = np.isfinite(cube)
    values = np.where(finite, cube, 0.0)
    num = np.einsum("by,...yr,br->b...", cy, values, cr)
    den = np.einsum("by,...yr,br->b...", cy, finite.astype(float), cr)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    ok = samples[np.isfinite(samples)]
    if ok.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(ok, [tail, 100 - tail])
    return float(lo), float(hi)


def _regions(frame: pd.DataFrame) -> list[str]:
    regions = sorted(set(frame["region"]) - {"global"})
    return regions or ["global"]


def _cube(frame: pd.DataFrame, years: list[int], regions: list[str]) -> np.ndarray:
    """(year, region) values of one model/stage (NaN where missing)."""
    wide = frame.pivot_table(index="year", columns="region", values="value", aggfunc="mean")
    return wide.reindex(index=years, columns=regions).to_numpy(dtype=float)


def change_intervals(
    yearly: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = SEED
) -> pd.DataFrame:
    """Per model/variable/product/score: the prior-to-posterior change with its interval."""
    if yearly is None or yearly.empty:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    rng = np.random.default_rng(seed)
    rows = []
    keys = ["source", "variable", "product", "name", "mode"]
    for key, group in yearly.groupby(keys, sort=True):
        prior, post = (group[group["stage"] == s] for s in ("Prior", "Posterior"))
        if prior.empty or post.empty:
            continue
        years = sorted(set(prior["year"]) & set(post["year"]))
        regions = _regions(group)
        if not years:
            continue
        delta = _cube(post, years, regions) - _cube(prior, years, regions)
        if not np.isfinite(delta).any():
            continue
        cy = _resample_counts(len(years), n_boot, rng)
        cr = _resample_counts(len(regions), n_boot, rng)
        samples = _bootstrap_means(delta, cy, cr)
        lo, hi = _interval(samples)
        rows.append({
            **dict(zip(keys, key, strict=True)),
            "n_years": len(years),
            "n_regions": len(regions),
            "mean_change": float(np.nanmean(delta)),
            "ci_low": lo,
            "ci_high": hi,
            "within_noise": bool(np.isfinite(lo) and lo <= 0.0 <= hi),
        })
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def spread_intervals(
    yearly: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = SEED
) -> pd.DataFrame:
    """Per variable/product/score: the spread across models prior vs posterior, with intervals.

    Needs at least two models with both stages; the spread of a resample is the standard
    deviation across models of each model's mean score over the resampled (year, region) pairs.
    """
    if yearly is None or yearly.empty:
        return pd.DataFrame(columns=SPREAD_COLUMNS)
    rng = np.random.default_rng(seed)
    rows = []
    keys = ["variable", "product", "name", "mode"]
    for key, group in yearly.groupby(keys, sort=True):
        both = [
            m for m, g in group.groupby("source")
            if {"Prior", "Posterior"} <= set(g["stage"])
        ]
        if len(both) < 2:
            continue
        sel = group[group["source"].isin(both)]
        years = sorted(set(sel["year"]))
        regions = _regions(sel)
        cubes = {
            stage: np.stack([
                _cube(sel[(sel["source"] == m) & (sel["stage"] == stage)], years, regions)
                for m in both
            ])
            for stage in ("Prior", "Posterior")
        }
        cy = _resample_counts(len(years), n_boot, rng)
        cr = _resample_counts(len(regions), n_boot, rng)
        spread = {
            stage: np.nanstd(_bootstrap_means(cube, cy, cr), axis=1)
            for stage, cube in cubes.items()
        }
        point = {stage: float(np.nanstd(np.nanmean(cube, axis=(1, 2))))
                 for stage, cube in cubes.items()}
        lo, hi = _interval(spread["Posterior"] - spread["Prior"])
        rows.append({
            **dict(zip(keys, key, strict=True)),
            "n_models": len(both),
            "n_years": len(years),
            "n_regions": len(regions),
            "spread_prior": point["Prior"],
            "spread_posterior": point["Posterior"],
            "spread_change": point["Posterior"] - point["Prior"],
            "ci_low": lo,
            "ci_high": hi,
            "spread_prior_ci": "{:.3f}-{:.3f}".format(*_interval(spread["Prior"])),
            "spread_posterior_ci": "{:.3f}-{:.3f}".format(*_interval(spread["Posterior"])),
            "within_noise": bool(np.isfinite(lo) and lo <= 0.0 <= hi),
        })
    return pd.DataFrame(rows, columns=SPREAD_COLUMNS)


def noise_verdict(change: float, within_noise: bool | None) -> str:
    """'improved' / 'worse' / 'within noise' / 'unchanged' for a score change."""
    if within_noise:
        return "within noise"
    if not np.isfinite(change) or abs(change) < 1e-4:
        return "unchanged"
    return "improved" if change > 0 else "worse"
