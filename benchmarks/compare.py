"""Comparisons that answer CalLMIP's question: after calibration, is each model closer to the
observations, and is the spread between models smaller?

Contract: pure functions from the long score table (and the per-confrontation map files that
:func:`benchmarks.confront.confront` writes) to small tidy tables:

* :func:`prior_posterior` - per model, variable, product, region and score: prior, posterior
  and their difference (positive = calibration improved the score).
* :func:`ensemble_spread` - per stage, variable, product, region and quantity: the spread of the
  multi-model ensemble (population standard deviation and range across models).
* :func:`spread_change` - the spread before and after calibration side by side.
* :func:`map_spread` - inter-model standard deviation of the period-mean maps, averaged over
  the common cells (area-weighted), prior vs posterior: spread in physical units.
* :func:`bias_change_map` - |posterior bias| - |prior bias| per cell for one model.
* :func:`headline` - the one-line-per-variable answer for the report and the Prefect artifact.

Spread needs at least two models; with one model the spread tables are empty, not an error.
"""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd

from benchmarks.confront import maps_path

KEYS = ["source", "variable", "product", "region", "name", "mode"]
#: Score changes smaller than this are reported as unchanged (scores are in [0, 1]).
SCORE_TOLERANCE = 1e-4
SPREAD_SCALARS = ("Period Mean", "Bias")


def _gridded_scores(scores: pd.DataFrame) -> pd.DataFrame:
    return scores[(scores["type"] == "score") & (scores["analysis"] != "Site")]


def prior_posterior(scores: pd.DataFrame) -> pd.DataFrame:
    """Prior and posterior score per model/variable/product/region/name, and the change."""
    rows = scores[scores["type"] == "score"]
    if rows.empty:
        return pd.DataFrame(columns=[*KEYS, "prior", "posterior", "change", "improved", "status"])
    wide = rows.pivot_table(index=KEYS, columns="stage", values="value", aggfunc="mean")
    if not {"Prior", "Posterior"} <= set(wide.columns):
        return pd.DataFrame(columns=[*KEYS, "prior", "posterior", "change", "improved", "status"])
    out = wide[["Prior", "Posterior"]].dropna().reset_index()
    out = out.rename(columns={"Prior": "prior", "Posterior": "posterior"})
    out.columns.name = None
    out["change"] = out["posterior"] - out["prior"]
    out["improved"] = out["change"] > SCORE_TOLERANCE
    out["status"] = np.select(
        [out["change"] > SCORE_TOLERANCE, out["change"] < -SCORE_TOLERANCE],
        ["improved", "worse"],
        "unchanged",
    )
    return out


def ensemble_spread(scores: pd.DataFrame) -> pd.DataFrame:
    """Spread across models per stage/variable/product/region/quantity (needs >= 2 models)."""
    sel = scores[
        ((scores["type"] == "score") | scores["name"].isin(SPREAD_SCALARS))
        & (scores["analysis"] != "Site")
    ]
    cols = ["stage", "variable", "product", "region", "name", "mode", "units"]
    if sel.empty:
        return pd.DataFrame(columns=[*cols, "n_models", "mean", "std", "min", "max", "range"])
    grouped = sel.groupby(cols, dropna=False)["value"]
    out = grouped.agg(
        n_models="count",
        mean="mean",
        std=lambda v: float(np.std(v.dropna())) if v.notna().sum() > 1 else np.nan,
        min="min",
        max="max",
    ).reset_index()
    out["range"] = out["max"] - out["min"]
    return out[out["n_models"] >= 2].reset_index(drop=True)


def _with_both_stages(scores: pd.DataFrame) -> pd.DataFrame:
    """Rows of the models that have both a prior and a posterior (a spread 'before and after'
    must be over the same models)."""
    stages = scores.groupby("source")["stage"].agg(lambda s: {"Prior", "Posterior"} <= set(s))
    return scores[scores["source"].isin(stages[stages].index)]


def spread_change(scores: pd.DataFrame) -> pd.DataFrame:
    """Ensemble spread (std across models) prior vs posterior and its change, over the models
    that have both stages."""
    spread = ensemble_spread(_with_both_stages(scores) if len(scores) else scores)
    keys = ["variable", "product", "region", "name", "mode", "units"]
    if spread.empty:
        return pd.DataFrame(columns=[*keys, "spread_prior", "spread_posterior", "change"])
    wide = spread.pivot_table(index=keys, columns="stage", values="std", aggfunc="mean")
    if not {"Prior", "Posterior"} <= set(wide.columns):
        return pd.DataFrame(columns=[*keys, "spread_prior", "spread_posterior", "change"])
    out = wide[["Prior", "Posterior"]].reset_index()
    out.columns.name = None
    out = out.rename(columns={"Prior": "spread_prior", "Posterior": "spread_posterior"})
    out["change"] = out["spread_posterior"] - out["spread_prior"]
    out["reduced"] = out["change"] < 0
    return out


def _read_map(path: Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    if not path.exists():
        return None
    with netCDF4.Dataset(path) as ds:
        if name not in ds.variables:
            return None
        values = np.ma.filled(ds.variables[name][:].astype(float), np.nan)
        return values, np.asarray(ds.variables["lat"][:]), np.asarray(ds.variables["lon"][:])


def bias_change_map(
    maps_dir: Path, model: str, variable: str, product: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(|posterior bias| - |prior bias|, lat, lon); negative where calibration helped."""
    prior = _read_map(maps_path(maps_dir, model, "Prior", variable, product), "bias")
    post = _read_map(maps_path(maps_dir, model, "Posterior", variable, product), "bias")
    if prior is None or post is None or prior[0].shape != post[0].shape:
        return None
    return np.abs(post[0]) - np.abs(prior[0]), prior[1], prior[2]


def _lat_weights(lat: np.ndarray, nlon: int) -> np.ndarray:
    """Relative cell areas of a regular grid (cos latitude)."""
    return np.repeat(np.cos(np.deg2rad(lat))[:, None], nlon, axis=1)


def map_spread(maps_dir: Path, scores: pd.DataFrame) -> pd.DataFrame:
    """Inter-model std of period-mean maps, area-weighted over cells common to all models."""
    sel = _gridded_scores(scores)
    sel = _with_both_stages(sel) if len(sel) else sel
    rows = []
    for (variable, product), group in sel.groupby(["variable", "product"]):
        models = sorted(group["source"].unique())
        if len(models) < 2:
            continue
        units = scores[
            (scores["variable"] == variable)
            & (scores["product"] == product)
            & (scores["name"] == "Period Mean")
        ]["units"]
        entry = {
            "variable": variable,
            "product": product,
            "n_models": len(models),
            "units": units.iloc[0] if len(units) else "",
        }
        for stage in ("Prior", "Posterior"):
            stack = []
            lat = None
            for model in models:
                got = _read_map(maps_path(maps_dir, model, stage, variable, product), "com_mean")
                if got is None:
                    break
                stack.append(got[0])
                lat = got[1]
            if len(stack) != len(models) or lat is None:
                entry[f"spread_{stage.lower()}"] = np.nan
                continue
            cube = np.stack(stack)
            common = np.isfinite(cube).all(axis=0)
            std = cube.std(axis=0)
            w = _lat_weights(lat, cube.shape[-1])
            entry[f"spread_{stage.lower()}"] = (
                float((std[common] * w[common]).sum() / w[common].sum()) if common.any() else np.nan
            )
        if "spread_prior" in entry and "spread_posterior" in entry:
            entry["change"] = entry["spread_posterior"] - entry["spread_prior"]
            rows.append(entry)
    return pd.DataFrame(
        rows,
        columns=[
            "variable",
            "product",
            "n_models",
            "units",
            "spread_prior",
            "spread_posterior",
            "change",
        ],
    )


def headline(
    scores: pd.DataFrame,
    maps_dir: Path | None = None,
    *,
    intervals: pd.DataFrame | None = None,
    spread_intervals: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per variable/product (global Overall Score): closer to observations? spread smaller?

    With the bootstrap tables of :mod:`benchmarks.intercompare` (``intervals`` of the changes,
    ``spread_intervals``) it
    also says how many models improved beyond the noise and the interval of the spread change.
    """
    overall = scores[
        (scores["name"] == "Overall Score")
        & (scores["region"] == "global")
        & (scores["type"] == "score")
    ]
    cols = [
        "variable",
        "product",
        "mode",
        "n_models",
        "prior_mean",
        "posterior_mean",
        "models_improved",
        "spread_prior",
        "spread_posterior",
        "closer_to_obs",
        "spread_smaller",
    ]
    if overall.empty:
        return pd.DataFrame(columns=cols)
    pp = prior_posterior(overall)
    sc = spread_change(overall)
    rows = []
    for (variable, product, mode), rows_vp in overall.groupby(["variable", "product", "mode"]):
        # models with a prior and a posterior, when there are any: a single-stage file must
        # not move the mean of one stage only
        both = _with_both_stages(rows_vp)
        group = both if len(both) else rows_vp
        prior = group[group["stage"] == "Prior"]["value"]
        post = group[group["stage"] == "Posterior"]["value"]
        changes = pp[(pp["variable"] == variable) & (pp["product"] == product)]
        spread = sc[(sc["variable"] == variable) & (sc["product"] == product)]
        s_prior = float(spread["spread_prior"].iloc[0]) if len(spread) else np.nan
        s_post = float(spread["spread_posterior"].iloc[0]) if len(spread) else np.nan
        rows.append(
            {
                "variable": variable,
                "product": product,
                "mode": mode,
                "n_models": int(group["source"].nunique()),
                "prior_mean": float(prior.mean()) if len(prior) else np.nan,
                "posterior_mean": float(post.mean()) if len(post) else np.nan,
                "models_improved": f"{int(changes['improved'].sum())}/{len(changes)}",
                "spread_prior": s_prior,
                "spread_posterior": s_post,
                "closer_to_obs": bool(len(changes) and changes["improved"].all()),
                "spread_smaller": bool(np.isfinite(s_prior) and s_post < s_prior),
            }
        )
    out = pd.DataFrame(rows, columns=cols)
    out = _with_intervals(out, intervals, spread_intervals)
    if maps_dir is not None:
        ms = map_spread(maps_dir, scores)
        if not ms.empty:
            out = out.merge(
                ms[["variable", "product", "units", "spread_prior", "spread_posterior"]].rename(
                    columns={
                        "spread_prior": "map_spread_prior",
                        "spread_posterior": "map_spread_posterior",
                        "units": "map_spread_units",
                    }
                ),
                on=["variable", "product"],
                how="left",
            )
    return out


def _with_intervals(
    out: pd.DataFrame, changes: pd.DataFrame | None, spread: pd.DataFrame | None
) -> pd.DataFrame:
    """Add 'improved beyond noise' and the spread change's interval (Overall Score)."""
    if changes is not None and not changes.empty and not out.empty:
        ov = changes[changes["name"] == "Overall Score"]
        beyond = []
        for rec in out.itertuples():
            c = ov[(ov["variable"] == rec.variable) & (ov["product"] == rec.product)]
            good = int(((c["ci_low"] > 0) & ~c["within_noise"].astype(bool)).sum())
            beyond.append(f"{good}/{len(c)}")
        out = out.assign(models_improved_beyond_noise=beyond)
    if spread is not None and not spread.empty and not out.empty:
        sp = spread[spread["name"] == "Overall Score"]
        ci, noise = [], []
        for rec in out.itertuples():
            s = sp[(sp["variable"] == rec.variable) & (sp["product"] == rec.product)]
            if len(s):
                ci.append(f"{s['ci_low'].iloc[0]:+.3f} to {s['ci_high'].iloc[0]:+.3f}")
                noise.append(bool(s["within_noise"].iloc[0]))
            else:
                ci.append("-")
                noise.append(None)
        out = out.assign(spread_change_ci=ci, spread_change_within_noise=noise)
    return out
