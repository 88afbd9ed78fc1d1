"""Reference-free comparisons: global annual totals, prior against posterior, and SSP futures.

Contract: :func:`global_annual` reads one CalLMIP file and returns, per variable and calendar
year, the global land total (carbon fluxes in PgC yr-1, carbon stocks in PgC, water fluxes and
storage in 10^15 kg (yr-1), i.e. 1000 km3) or, for intensive variables (heat fluxes,
temperature, leaf area index), the area-weighted mean. :func:`prior_posterior_totals` compares
each model's prior and posterior over the years both cover, and :func:`scenario_divergence`
follows the posterior-minus-prior difference of each total through an SSP run to its last year
and its spread across models - the CalLMIP question for the future runs (protocol Section 9,
Note 1: the difference between prior and posterior, and how calibration changes future
predictions, not "improvement").

Cells are weighted by their area times the land fraction when the file carries one (``sftlf``
or ``landfrac``, or ``areacella``); otherwise every cell with data counts whole, which the
``note`` column says (CalLMIP values are means over the land of a cell).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd

from benchmarks.errors import BenchmarkError
from benchmarks.fields import cell_areas
from benchmarks.gridded import read_model_variable
from callmip.constants import SECONDS_PER_DAY


@dataclass(frozen=True)
class Total:
    """How one variable becomes a global number."""

    kind: str  # flux (area x time integral per year), stock (area integral), mean
    factor: float  # from (value x m2 [x s]) to the reported units
    units: str
    label: str


KG_PER_PG = 1e12
TOTALS: dict[str, Total] = {
    "gpp": Total("flux", 1 / KG_PER_PG, "PgC yr-1", "GPP"),
    "nep": Total("flux", 1 / KG_PER_PG, "PgC yr-1", "NEP"),
    "reco": Total("flux", 1 / KG_PER_PG, "PgC yr-1", "Ecosystem respiration"),
    "cLiveBioAbove": Total("stock", 1 / KG_PER_PG, "PgC", "Above-ground live biomass C"),
    "cSoil": Total("stock", 1 / KG_PER_PG, "PgC", "Soil C"),
    "tran": Total("flux", 1e-15, "1e15 kg yr-1", "Transpiration"),
    "evspsblsoi": Total("flux", 1e-15, "1e15 kg yr-1", "Soil evaporation"),
    "mrso": Total("stock", 1e-15, "1e15 kg", "Soil water"),
    "hfls": Total("mean", 1.0, "W m-2", "Latent heat (mean)"),
    "hfss": Total("mean", 1.0, "W m-2", "Sensible heat (mean)"),
    "ts": Total("mean", 1.0, "K", "Surface temperature (mean)"),
    "lai": Total("mean", 1.0, "1", "LAI (mean)"),
}
COLUMNS = ["source", "stage", "experiment", "variable", "label", "year", "value", "units",
           "note"]


def _land_area(path: Path, lat_b: np.ndarray, lon_b: np.ndarray, lat: np.ndarray
               ) -> tuple[np.ndarray, str]:
    """(lat, lon) land area [m2] of the cells, and how it was obtained."""
    area = cell_areas(lat_b, lon_b)
    with netCDF4.Dataset(path) as ds:
        file_lat = np.asarray(ds.variables["lat"][:]) if "lat" in ds.variables else lat
        flip = file_lat.size > 1 and file_lat[0] > file_lat[-1]

        def field(name: str) -> np.ndarray | None:
            if name in ds.variables and ds.variables[name].shape == area.shape:
                out = np.ma.filled(ds.variables[name][:].astype(float), 0.0)
                return out[::-1] if flip else out
            return None

        note = "cell areas from the grid"
        for name in ("areacella", "area"):
            got = field(name)
            if got is not None:
                area, note = got, f"cell areas from '{name}'"
                break
        for name in ("sftlf", "landfrac"):
            frac = field(name)
            if frac is not None:
                if np.nanmax(frac) > 1.5:  # percent
                    frac = frac / 100.0
                return area * frac, f"{note} x '{name}'"
    return area, f"{note}; no land fraction in the file: cells with data count whole"


def global_annual(
    path: Path, source: str, stage: str, experiment: str,
    variables: Sequence[str] | None = None, years: tuple[int, int] | None = None,
    unusable: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Global annual totals (or means) of every variable present; and why others are absent."""
    rows: list[dict] = []
    skipped: list[str] = []
    area = None
    for name in variables or TOTALS:
        spec = TOTALS[name]
        if unusable and name in unusable:
            skipped.append(f"{path}: {name}: {unusable[name]}")
            continue
        try:
            series = read_model_variable(path, name, years)
        except (BenchmarkError, OSError, ValueError) as exc:
            if "has no variable" not in str(exc):
                skipped.append(str(exc))
            continue
        if area is None:
            area, note = _land_area(path, series.lat_bounds, series.lon_bounds, series.lat)
        values = series.values.astype(np.float64)
        ok = np.isfinite(values)
        days = series.days if series.days is not None else np.full(series.year.size, 30.0)
        for year in np.unique(series.year):
            sel = np.flatnonzero(series.year == year)
            if not series.annual and sel.size != 12:
                continue
            block = np.where(ok[sel], values[sel], 0.0)
            w = area[None] * ok[sel]
            if spec.kind == "flux":
                seconds = days[sel] * SECONDS_PER_DAY
                value = float(np.einsum("t,tij->", seconds, block * area[None])) * spec.factor
            elif spec.kind == "stock":
                value = float((block * area[None]).sum(axis=(1, 2)).mean()) * spec.factor
            else:
                tw = days[sel][:, None, None]
                value = float((block * w * tw).sum() / max((w * tw).sum(), 1e-300))
            rows.append({"source": source, "stage": stage, "experiment": experiment,
                         "variable": name, "label": spec.label, "year": int(year),
                         "value": value, "units": spec.units, "note": note})
    return pd.DataFrame(rows, columns=COLUMNS), skipped


def prior_posterior_totals(annual: pd.DataFrame) -> pd.DataFrame:
    """Per model, experiment and variable: mean over the years both stages cover, and the
    posterior-minus-prior difference (absolute and relative)."""
    cols = ["source", "experiment", "variable", "label", "units", "years", "prior",
            "posterior", "difference", "relative"]
    if annual.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (source, exp, var), g in annual.groupby(["source", "experiment", "variable"]):
        p = g[g["stage"] == "Prior"].set_index("year")["value"]
        q = g[g["stage"] == "Posterior"].set_index("year")["value"]
        years = sorted(set(p.index) & set(q.index))
        if not years:
            continue
        prior, post = float(p.loc[years].mean()), float(q.loc[years].mean())
        rows.append({
            "source": source, "experiment": exp, "variable": var,
            "label": g["label"].iloc[0], "units": g["units"].iloc[0],
            "years": f"{years[0]}-{years[-1]}", "prior": prior, "posterior": post,
            "difference": post - prior,
            "relative": (post - prior) / abs(prior) if prior else float("nan"),
        })
    return pd.DataFrame(rows, columns=cols)


def scenario_divergence(annual: pd.DataFrame, window: int = 10) -> pd.DataFrame:
    """Per SSP experiment and variable, at the run's end (mean of its last ``window`` years):
    each model's posterior-minus-prior difference, and the spread across models of the prior,
    the posterior and the difference (population standard deviation)."""
    cols = ["experiment", "variable", "label", "units", "end_years", "n_models",
            "divergence_mean", "divergence_min", "divergence_max", "spread_prior",
            "spread_posterior", "spread_change", "models"]
    scen = annual[annual["experiment"] != "historical"] if not annual.empty else annual
    if scen.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (exp, var), g in scen.groupby(["experiment", "variable"]):
        wide = g.pivot_table(index="year", columns=["source", "stage"], values="value")
        models = sorted({m for m, s in wide.columns
                         if (m, "Prior") in wide.columns and (m, "Posterior") in wide.columns})
        if not models:
            continue
        end = sorted(wide.index)[-window:]
        prior = np.array([wide.loc[end, (m, "Prior")].mean() for m in models])
        post = np.array([wide.loc[end, (m, "Posterior")].mean() for m in models])
        div = post - prior
        rows.append({
            "experiment": exp, "variable": var, "label": g["label"].iloc[0],
            "units": g["units"].iloc[0], "end_years": f"{end[0]}-{end[-1]}",
            "n_models": len(models), "divergence_mean": float(div.mean()),
            "divergence_min": float(div.min()), "divergence_max": float(div.max()),
            "spread_prior": float(prior.std()) if len(models) > 1 else float("nan"),
            "spread_posterior": float(post.std()) if len(models) > 1 else float("nan"),
            "spread_change": float(post.std() - prior.std()) if len(models) > 1
            else float("nan"),
            "models": ", ".join(models),
        })
    return pd.DataFrame(rows, columns=cols)
