"""Daily misfit of every scored file and variable against its tower: one row each.

Contract: :func:`score_runs` returns a wide table with one row per (model, scenario, stage,
site, variable) - columns :data:`KEYS`, ``units``, ``Days`` and the metrics of
:func:`benchmarks.sites.site_metrics` (bias, RMSE, correlation, Nash-Sutcliffe efficiency,
fraction of days within the observation uncertainty, chi-square per day) on the days where the
observation is valid, plus, where a posterior file carries ``<var>_post_unc``, the fraction of
observations inside the posterior band ``model +- k sigma_post`` for k = 1 and 2 (68% and 95%
expected if the band alone described the misfit). Files or variables that could not be scored
get a row with ``status = 'unscored'`` and the reason in ``note``; nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from benchmarks.site_level.upload import SiteRun
from benchmarks.sites import site_metrics
from callmip.fluxobs import FluxObservations

KEYS = ["model", "scenario", "stage", "role", "igbp", "site", "variable"]
METRICS = [
    "Bias",
    "RMSE",
    "Correlation",
    "Nash-Sutcliffe Efficiency",
    "Fraction Within Uncertainty",
    "Chi-square per day",
]
BAND = ["Posterior Band Coverage 1 sigma", "Posterior Band Coverage 2 sigma"]
#: metrics where larger is better (the others: smaller absolute value is better)
HIGHER_IS_BETTER = frozenset({"Correlation", "Nash-Sutcliffe Efficiency",
                              "Fraction Within Uncertainty"})
COLUMNS = [*KEYS, "status", "units", "Days", *METRICS, "Observed Mean", "Model Mean", *BAND,
           "note"]


def band_coverage(model: np.ndarray, obs: np.ndarray, sigma: np.ndarray, k: float) -> float:
    """Fraction of valid observation days with ``|obs - model| <= k sigma``."""
    ok = np.isfinite(model) & np.isfinite(obs) & np.isfinite(sigma)
    if not ok.any():
        return np.nan
    return float(np.mean(np.abs(obs[ok] - model[ok]) <= k * sigma[ok]))


def _base(run: SiteRun, variable: str) -> dict:
    return {"model": run.model, "scenario": run.scenario, "stage": run.stage,
            "role": run.role or "unlisted", "igbp": run.igbp or "unlisted", "site": run.site,
            "variable": variable}


def score_runs(runs: Sequence[SiteRun], observations: Mapping[str, FluxObservations]
               ) -> pd.DataFrame:
    """The wide score table of ``runs`` (see the module docstring)."""
    rows: list[dict] = []
    for run in runs:
        if "*" in run.unscored:
            rows.append({**_base(run, "*"), "status": "unscored", "note": run.unscored["*"]})
            continue
        obs = observations[run.site]
        for variable, observed in obs.series.items():
            base = _base(run, variable)
            if variable in run.unscored:
                rows.append({**base, "status": "unscored", "note": run.unscored[variable]})
                continue
            model = run.values[variable]
            m = site_metrics(model, observed.value, observed.uncertainty)
            row = {**base, "status": "scored", "units": observed.spec.units,
                   "Days": m["n"], "note": observed.spec.note}
            row.update({k: m.get(k, np.nan) for k in (*METRICS, "Observed Mean", "Model Mean")})
            if variable in run.post_unc:
                for k, col in zip((1.0, 2.0), BAND, strict=True):
                    row[col] = band_coverage(model, observed.value, run.post_unc[variable], k)
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)
