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

from collections.abc import Iterable, Sequence
from functools import lru_cache

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


def _pairs(scores: pd.DataFrame) -> list[tuple[dict, dict]]:
    """(prior row, posterior row) of every scored posterior that has its prior (module doc)."""
    ok = scores[scores["status"] == "scored"]
    index: dict[tuple, list[dict]] = {}
    for row in ok[ok["stage"] == "Prior"].to_dict("records"):
        index.setdefault((row["model"], row["site"], row["variable"]), []).append(row)
    out = []
    for post in ok[ok["stage"] == "Posterior"].to_dict("records"):
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
    groups: dict[tuple, list[tuple[dict, dict]]] = {}
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


@lru_cache(maxsize=64)
def _resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    """The (n_boot, n) site indices of the bootstrap: one draw per sample size, reused for every
    quantity of that size (each quantity resamples with the same seed, as it would alone)."""
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    idx.flags.writeable = False
    return idx


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
    means = v[_resamples(v.size, n_boot, seed)].mean(axis=1)
    lo, hi = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return mean, float(lo), float(hi)


def _class_order(igbps: Iterable[str]) -> list[str]:
    return ["all sites", *sorted(set(igbps))]


def _with_classes(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` twice: once as class 'all sites', once under each row's IGBP class."""
    return pd.concat([frame.assign(cls="all sites"), frame.assign(cls=frame["igbp"])],
                     ignore_index=True)


def _series_by_prefix(series: pd.Series) -> dict[tuple, np.ndarray]:
    """A Series on a sorted MultiIndex whose last level is the site -> {other levels: values in
    site order}."""
    out: dict[tuple, list[float]] = {}
    for key, value in zip(series.index, series.to_numpy(dtype=float), strict=True):
        out.setdefault(key[:-1], []).append(value)
    return {k: np.asarray(v) for k, v in out.items()}


def _counts(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, tuple[int, int]]:
    """{group key: (rows improved, rows)} of ``frame`` grouped by ``keys``."""
    agg = frame.groupby(keys)["won"].agg(["sum", "size"])
    return {k: (int(a), int(b)) for k, a, b in zip(agg.index, agg["sum"], agg["size"],
                                                   strict=True)}


def pooled(changes: pd.DataFrame, spread: pd.DataFrame, n_boot: int = 2000,
           seed: int = 0) -> pd.DataFrame:
    """Pooled changes by IGBP class and over all sites, per role, with bootstrap intervals.

    Per model: the mean over sites of the site's change. Over all models: the mean over sites of
    the across-model mean change at each site. Spread: the mean over sites of the relative
    change of the inter-model spread. The per-site means come from one grouping of the whole
    table (pandas' group mean, as a per-class grouping would give) and the bootstrap draws are
    shared by quantities with as many sites, so the cost does not grow with classes x models.
    """
    group = ["scenario", "role", "variable"]
    rows = []
    for metric, kind in POOLED_QUANTITIES.items():
        sel = changes[changes["metric"] == metric]
        if sel.empty:
            continue
        frame = _with_classes(sel.assign(won=sel["improved"].eq(True)))
        per_model = _series_by_prefix(frame.groupby([*group, "cls", "model", "site"])[kind].mean())
        all_models = _series_by_prefix(frame.groupby([*group, "cls", "site"])[kind].mean())
        won = {**_counts(frame, [*group, "cls", "model"]), **_counts(frame, [*group, "cls"])}
        for key, g in sel.groupby(group)["igbp"]:
            for cls in _class_order(g):
                names = sorted(k[-1] for k in per_model if k[:-1] == (*key, cls))
                for model in [*names, "all models"]:
                    if model == "all models":
                        per_site, n_won = all_models[(*key, cls)], won[(*key, cls)]
                    else:
                        per_site = per_model[(*key, cls, model)]
                        n_won = won[(*key, cls, model)]
                    mean, lo, hi = bootstrap_mean(per_site, n_boot, seed)
                    rows.append({
                        "scenario": key[0], "role": key[1], "variable": key[2], "class": cls,
                        "model": model, "quantity": f"{metric} {kind.replace('_', ' ')}",
                        "sites": int((~np.isnan(per_site)).sum()), "mean": mean, "ci_low": lo,
                        "ci_high": hi, "improved": f"{n_won[0]}/{n_won[1]}",
                    })
    spread_rows: dict[tuple, list[tuple[float, float]]] = {}
    for rec in spread[[*group, "igbp", "relative_change", "change"]].itertuples(index=False):
        for cls in ("all sites", rec.igbp):
            spread_rows.setdefault((rec.scenario, rec.role, rec.variable, cls), []).append(
                (rec.relative_change, rec.change))
    for key in sorted({k[:3] for k in spread_rows}):
        for cls in _class_order(k[3] for k in spread_rows
                                if k[:3] == key and k[3] != "all sites"):
            members = spread_rows[(*key, cls)]
            rel = np.array([m[0] for m in members], dtype=float)
            mean, lo, hi = bootstrap_mean(rel, n_boot, seed)
            rows.append({
                "scenario": key[0], "role": key[1], "variable": key[2], "class": cls,
                "model": "all models", "quantity": "inter-model spread relative change",
                "sites": len(members), "mean": mean, "ci_low": lo, "ci_high": hi,
                "improved": f"{sum(1 for m in members if m[1] < 0)}/{len(members)}",
            })
    cols = ["scenario", "role", "variable", "class", "model", "quantity", "sites", "mean",
            "ci_low", "ci_high", "improved"]
    return pd.DataFrame(rows, columns=cols)
