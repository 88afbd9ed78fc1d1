"""CalLMIP's two site-level questions: did calibration reduce the misfit, did the models converge?

Contract:

* :func:`prior_posterior` - per model, scenario, site and variable, each metric before and after
  calibration, its change (posterior - prior), the relative change and whether it improved
  (|bias|, RMSE and chi-square per day smaller; correlation, NSE and fraction within
  uncertainty larger). A posterior of scenario N is paired with the model's prior of scenario N,
  or - since the protocol says priors need not be repeated per scenario - its only prior.
* :func:`intermodel_spread` - per scenario, site and variable, over the models that have a
  scored prior *and* posterior there: the inter-model standard deviation (population, ddof=0, as
  the global comparison) of the daily values averaged over the period's days, and the SD of the
  models' RMSE, before and after.
* :func:`pooled` - both pooled by IGBP class and over all sites, for calibration and validation
  sites apart, per model and over all models, as the mean over sites with a percentile bootstrap
  interval that resamples *sites* (the unit that was calibrated or held out; days within a site
  are not independent). With one site the interval is undefined (NaN).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmarks.site_level.scores import HIGHER_IS_BETTER, METRICS
from benchmarks.site_level.upload import SiteRun

#: a change smaller than this (relative) counts as unchanged
UNCHANGED = 1e-9
POOLED_QUANTITIES = {
    "RMSE": "relative_change",
    "Chi-square per day": "change",
    "Nash-Sutcliffe Efficiency": "change",
    "Fraction Within Uncertainty": "change",
}


def _improved(metric: str, prior: float, posterior: float) -> bool | None:
    if not (np.isfinite(prior) and np.isfinite(posterior)):
        return None
    a, b = (prior, posterior) if metric in HIGHER_IS_BETTER else (-abs(prior), -abs(posterior))
    if abs(b - a) <= UNCHANGED * max(abs(a), abs(b), 1e-30):
        return False
    return bool(b > a)


def _pairs(scores: pd.DataFrame) -> list[tuple[pd.Series, pd.Series]]:
    ok = scores[scores["status"] == "scored"]
    priors = ok[ok["stage"] == "Prior"]
    posts = ok[ok["stage"] == "Posterior"]
    index = {}
    for _, row in priors.iterrows():
        index.setdefault((row["model"], row["site"], row["variable"]), []).append(row)
    out = []
    for _, post in posts.iterrows():
        cands = index.get((post["model"], post["site"], post["variable"]), [])
        same = [c for c in cands if c["scenario"] == post["scenario"]]
        prior = same[0] if same else (cands[0] if len(cands) == 1 else None)
        if prior is not None:
            out.append((prior, post))
    return out


def prior_posterior(scores: pd.DataFrame) -> pd.DataFrame:
    """Long table: one row per model, scenario, site, variable and metric."""
    rows = []
    for prior, post in _pairs(scores):
        for metric in METRICS:
            a, b = float(prior[metric]), float(post[metric])
            rel = (b - a) / abs(a) if np.isfinite(a) and a != 0 else np.nan
            rows.append({
                "model": post["model"], "scenario": post["scenario"], "role": post["role"],
                "igbp": post["igbp"], "site": post["site"], "variable": post["variable"],
                "metric": metric, "prior": a, "posterior": b, "change": b - a,
                "relative_change": rel, "improved": _improved(metric, a, b),
                "units": post["units"] if metric in ("Bias", "RMSE") else "1",
            })
    cols = ["model", "scenario", "role", "igbp", "site", "variable", "metric", "prior",
            "posterior", "change", "relative_change", "improved", "units"]
    return pd.DataFrame(rows, columns=cols)


def intermodel_spread(runs: Sequence[SiteRun], scores: pd.DataFrame) -> pd.DataFrame:
    """Inter-model spread per scenario, site and variable, before and after calibration."""
    pairs = _pairs(scores)
    groups: dict[tuple, list[tuple[pd.Series, pd.Series]]] = {}
    for prior, post in pairs:
        groups.setdefault((post["scenario"], post["site"], post["variable"]), []).append(
            (prior, post))
    by_key = {(r.model, r.scenario, r.stage, r.site): r for r in runs}
    rows = []
    for (scenario, site, variable), members in sorted(groups.items()):
        if len(members) < 2:
            continue
        prior_runs = [by_key[(p["model"], p["scenario"], "Prior", site)] for p, _ in members]
        post_runs = [by_key[(q["model"], q["scenario"], "Posterior", site)] for _, q in members]
        stacked = {
            "prior": np.vstack([r.values[variable] for r in prior_runs]),
            "posterior": np.vstack([r.values[variable] for r in post_runs]),
        }
        valid = np.isfinite(stacked["prior"]).all(0) & np.isfinite(stacked["posterior"]).all(0)
        sd = {k: float(np.std(v[:, valid], axis=0).mean()) if valid.any() else np.nan
              for k, v in stacked.items()}
        rmse_sd = {k: float(np.std([float(p[1 if k == "posterior" else 0]["RMSE"])
                                    for p in members]))
                   for k in ("prior", "posterior")}
        post0 = members[0][1]
        rows.append({
            "scenario": scenario, "role": post0["role"], "igbp": post0["igbp"], "site": site,
            "variable": variable, "n_models": len(members),
            "models": ", ".join(sorted(q["model"] for _, q in members)),
            "days": int(valid.sum()), "spread_prior": sd["prior"],
            "spread_posterior": sd["posterior"], "change": sd["posterior"] - sd["prior"],
            "relative_change": (sd["posterior"] - sd["prior"]) / sd["prior"]
            if sd["prior"] else np.nan,
            "rmse_spread_prior": rmse_sd["prior"], "rmse_spread_posterior": rmse_sd["posterior"],
            "units": post0["units"],
        })
    cols = ["scenario", "role", "igbp", "site", "variable", "n_models", "models", "days",
            "spread_prior", "spread_posterior", "change", "relative_change",
            "rmse_spread_prior", "rmse_spread_posterior", "units"]
    return pd.DataFrame(rows, columns=cols)


def bootstrap_mean(values: np.ndarray, n_boot: int = 2000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` (one per site) and its percentile bootstrap interval."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.nan, np.nan, np.nan
    mean = float(v.mean())
    if v.size < 2:
        return mean, np.nan, np.nan
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    lo, hi = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return mean, float(lo), float(hi)


def _classes(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    out = [(str(c), g) for c, g in frame.groupby("igbp", sort=True)]
    return [("all sites", frame), *out]


def pooled(changes: pd.DataFrame, spread: pd.DataFrame, n_boot: int = 2000,
           seed: int = 0) -> pd.DataFrame:
    """Pooled changes by IGBP class and over all sites, per role, with bootstrap intervals.

    Per model: the mean over sites of the site's change. Over all models: the mean over sites of
    the across-model mean change at each site. Spread: the mean over sites of the relative
    change of the inter-model spread.
    """
    rows = []
    for metric, kind in POOLED_QUANTITIES.items():
        sel = changes[changes["metric"] == metric]
        for (scenario, role, variable), g in sel.groupby(["scenario", "role", "variable"]):
            for cls, gc in _classes(g):
                per_model = [(m, gm.groupby("site")[kind].mean()) for m, gm in
                             gc.groupby("model", sort=True)]
                per_model.append(("all models", gc.groupby("site")[kind].mean()))
                for model, per_site in per_model:
                    mean, lo, hi = bootstrap_mean(per_site.to_numpy(), n_boot, seed)
                    improved = gc if model == "all models" else gc[gc["model"] == model]
                    rows.append({
                        "scenario": scenario, "role": role, "variable": variable, "class": cls,
                        "model": model, "quantity": f"{metric} {kind.replace('_', ' ')}",
                        "sites": int(per_site.notna().sum()), "mean": mean, "ci_low": lo,
                        "ci_high": hi,
                        "improved": f"{int(improved['improved'].fillna(False).sum())}/"
                                    f"{len(improved)}",
                    })
    for (scenario, role, variable), g in spread.groupby(["scenario", "role", "variable"]):
        for cls, gc in _classes(g):
            mean, lo, hi = bootstrap_mean(gc["relative_change"].to_numpy(), n_boot, seed)
            rows.append({
                "scenario": scenario, "role": role, "variable": variable, "class": cls,
                "model": "all models", "quantity": "inter-model spread relative change",
                "sites": len(gc), "mean": mean, "ci_low": lo, "ci_high": hi,
                "improved": f"{int((gc['change'] < 0).sum())}/{len(gc)}",
            })
    cols = ["scenario", "role", "variable", "class", "model", "quantity", "sites", "mean",
            "ci_low", "ci_high", "improved"]
    return pd.DataFrame(rows, columns=cols)
