"""PLUMBER2's empirical regressions on site meteorology, fitted out of sample.

Contract: :func:`regression_benchmarks` predicts one site's daily flux from its daily met with
models trained on *all other* sites that have met and observations (never the site itself),
as PLUMBER (Best et al. 2015, J. Hydrometeorol. 16, 1425) and PLUMBER2 (Abramowitz et al. 2024,
Biogeosciences 21, 5517) do:

* ``1lin``: flux = a + b SWdown;
* ``2lin``: flux = a + b SWdown + c Tair;
* ``3km27``: k-means of (SWdown, Tair, RH), standardised with the training mean and SD, into 27
  clusters; in each cluster flux = a + b SWdown + c Tair + d RH (a cluster with fewer than 5
  training days predicts its mean); a day is predicted by the regression of its nearest
  centroid. k-means is seeded (k-means++ initialisation), so the benchmark is reproducible.

Simplification, stated: PLUMBER2 fits on half-hourly steps; CalLMIP's observations are daily
means, so the fit is on daily means of the met.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.cluster.vq import kmeans2

from benchmarks.site_level.met import DailyMet
from callmip.fluxobs import FluxObservations

N_CLUSTERS = 27
MIN_CLUSTER_DAYS = 5
SEED = 20240101
REGRESSORS = {"1lin": ("SWdown",), "2lin": ("SWdown", "Tair"),
              "3km27": ("SWdown", "Tair", "RH")}


def _design(x: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(x)), x])


def fit_linear(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients [intercept, slopes...]."""
    coef, *_ = np.linalg.lstsq(_design(x), y, rcond=None)
    return coef


def predict_linear(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _design(x) @ coef


class KMeansRegression:
    """27 k-means clusters of the standardised regressors, a linear regression in each."""

    def __init__(self, x: np.ndarray, y: np.ndarray, k: int = N_CLUSTERS, seed: int = SEED):
        self.mean = x.mean(axis=0)
        self.sd = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        z = (x - self.mean) / self.sd
        k = min(k, len(x))
        self.centroids, labels = kmeans2(z, k, minit="++", seed=np.random.default_rng(seed))
        self.models: list[tuple[str, np.ndarray]] = []
        for c in range(len(self.centroids)):
            sel = labels == c
            if sel.sum() >= MIN_CLUSTER_DAYS:
                self.models.append(("linear", fit_linear(x[sel], y[sel])))
            elif sel.any():
                self.models.append(("mean", np.array([y[sel].mean()])))
            else:
                self.models.append(("mean", np.array([y.mean()])))

    def labels(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.sd
        return ((z[:, None, :] - self.centroids[None]) ** 2).sum(axis=2).argmin(axis=1)

    def predict(self, x: np.ndarray) -> np.ndarray:
        labels = self.labels(x)
        out = np.empty(len(x))
        for c, (kind, coef) in enumerate(self.models):
            sel = labels == c
            if sel.any():
                out[sel] = coef[0] if kind == "mean" else predict_linear(coef, x[sel])
        return out


def training_data(sites: list[str], variable: str, met: Mapping[str, DailyMet],
                  observations: Mapping[str, FluxObservations], columns: tuple[str, ...]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Stacked (X, y) over ``sites`` on days with valid met and observation."""
    xs, ys = [], []
    for s in sites:
        obs = observations[s]
        frame = met[s].frame.reindex(obs.dates)
        x = frame[list(columns)].to_numpy()
        y = obs.series[variable].value
        ok = np.isfinite(x).all(axis=1) & np.isfinite(y)
        xs.append(x[ok])
        ys.append(y[ok])
    if not xs:
        return np.empty((0, len(columns))), np.empty(0)
    return np.vstack(xs), np.concatenate(ys)


def regression_benchmarks(site: str, variable: str, met: Mapping[str, DailyMet],
                          observations: Mapping[str, FluxObservations]
                          ) -> dict[str, tuple[np.ndarray | None, str]]:
    """``{'1lin': (series on the site's observation days, note), '2lin': ..., '3km27': ...}``."""
    if site not in met:
        return {name: (None, f"no met file for {site}") for name in REGRESSORS}
    others = [s for s in sorted(met) if s != site and s in observations
              and variable in observations[s].series]
    out: dict[str, tuple[np.ndarray | None, str]] = {}
    target = met[site].frame.reindex(observations[site].dates)
    for name, columns in REGRESSORS.items():
        x, y = training_data(others, variable, met, observations, columns)
        need = (len(columns) + 1) * (N_CLUSTERS if name == "3km27" else 1)
        if len(y) < need:
            out[name] = (None, f"{len(y)} training days at {len(others)} other sites with met: "
                               f"too few for {name}")
            continue
        xt = target[list(columns)].to_numpy()
        ok = np.isfinite(xt).all(axis=1)
        pred = np.full(len(xt), np.nan)
        if name == "3km27":
            pred[ok] = KMeansRegression(x, y).predict(xt[ok])
        else:
            pred[ok] = predict_linear(fit_linear(x, y), xt[ok])
        note = f"fitted on {len(y)} days at {', '.join(others)} (daily means)"
        if met[site].note:
            note += f"; {met[site].note}"
        out[name] = (pred, note)
    return out
