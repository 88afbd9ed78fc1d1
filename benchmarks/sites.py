"""Site confrontation: model grid cells at the CalLMIP flux towers against daily NEE/Qle/Qh.

Contract: :func:`confront_sites` reads the CalLMIP Phase 1 site files (via :mod:`callmip.fluxobs`)
(``<site>_daily_aggregated_<y0>-<y1>_FLUXNET2015_Flux.nc``: ``NEE_daily``, ``Qle_daily``,
``Qh_daily`` with joint uncertainties ``*_uc_daily``), extracts the model grid cell containing
each tower (or the nearest cell with data within two cells, which the note says) and scores the
common days. Model daily files are used when given; otherwise the comparison is on monthly
means of the site data (months with at least 10 valid days) and every row says so.

Signs and units, the classic trap: site NEE is gC m-2 d-1 *positive to the atmosphere*;
CalLMIP nep is kgC m-2 s-1 *positive into the land*. The model is compared in site units as
NEE = -nep x 1000 x 86400. Days are matched by calendar date; 29 February (absent from the
models' noleap calendar) is dropped from the site series.

Metrics per site and variable (and pooled over all sites): number of days/months, bias
(model - obs), RMSE, Pearson correlation, the fraction of days where |model - obs| is within
the site's uncertainty, and the ILAMB-style bias score exp(-|bias| / std_obs).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd

from benchmarks.errors import ModelOutputError
from benchmarks.gridded import check_model_file
from benchmarks.table import COLUMNS
from benchmarks.units import convert
from benchmarks.variables import CALLMIP_UNITS
from callmip.atomic import atomic_path
from callmip.fluxobs import OBS_VARIABLES, ObsVariable, observation_files, read_observations

logger = logging.getLogger(__name__)

PRODUCT = "FLUXNET2015"
#: CalLMIP keeps only good-quality days (NEE: often < 30% of days), so a month counts
#: when it has at least 10 of them.
MIN_DAYS_PER_MONTH = 10
#: a file with one grid point matches a tower within this many degrees (twice the half-width)
SINGLE_POINT_DEG = 0.5


#: how each CalLMIP variable meets a site variable (sign of NEE included): one table, in
#: :mod:`callmip.fluxobs`
SiteVariable = ObsVariable
SITE_VARIABLES: tuple[SiteVariable, ...] = OBS_VARIABLES


@dataclass(frozen=True)
class SiteData:
    """One tower's daily series (Feb 29 removed) and location."""

    code: str
    lat: float
    lon: float
    dates: pd.DatetimeIndex
    series: dict[str, tuple[np.ndarray, np.ndarray]]  # site variable -> (value, uncertainty)


def site_files(sites_dir: Path) -> list[Path]:
    """The CalLMIP site files in ``sites_dir``, sorted by site code."""
    return sorted(observation_files(sites_dir).values(), key=lambda p: p.name)


def read_site(path: Path) -> SiteData:
    """Read one site file; fill values become NaN, leap days are dropped (models are noleap)."""
    obs = read_observations(path)
    keep = ~((obs.dates.month == 2) & (obs.dates.day == 29))
    series = {
        s.spec.site_variable: (s.value[keep], s.uncertainty[keep]) for s in obs.series.values()
    }
    return SiteData(obs.code, obs.lat, obs.lon, obs.dates[keep], series)


def _cell(
    lat: np.ndarray, lon: np.ndarray, site_lat: float, site_lon: float
) -> tuple[int, int] | None:
    """Indices of the cell whose centre is nearest the site, None if the site is off the grid."""
    lon180 = ((lon + 180.0) % 360.0) - 180.0
    dlon = np.abs(((lon180 - site_lon + 180.0) % 360.0) - 180.0)
    dlat = np.abs(lat - site_lat)
    j, i = int(dlat.argmin()), int(dlon.argmin())
    # a one-point (site) file covers its own point, not the globe: a scalar latitude would
    # otherwise match every tower
    half_lat = 0.5 * (float(np.abs(np.diff(lat)).max()) if lat.size > 1 else SINGLE_POINT_DEG)
    half_lon = 0.5 * (float(np.abs(np.diff(lon180)).min()) if lon.size > 1 else SINGLE_POINT_DEG)
    if dlat[j] > half_lat + 1e-9 or dlon[i] > half_lon + 1e-9:
        return None
    return j, i


@dataclass(frozen=True)
class _ModelFile:
    path: Path
    frequency: str
    dates: pd.DatetimeIndex
    lat: np.ndarray
    lon: np.ndarray


def _open_model(path: Path, frequency: str) -> _ModelFile:
    with netCDF4.Dataset(path) as ds:
        t = ds.variables["time"]
        values = np.asarray(t[:], float)
        bname = getattr(t, "bounds", None)
        if bname and bname in ds.variables:
            values = np.asarray(ds.variables[bname][:], float).mean(axis=1)
            if frequency == "daily":
                values = np.asarray(ds.variables[bname][:], float)[:, 0]
        dates = netCDF4.num2date(values, t.units, getattr(t, "calendar", "noleap"))
        index = pd.DatetimeIndex(
            [pd.Timestamp(d.year, d.month, d.day if frequency == "daily" else 1) for d in dates]
        )
        lat = np.asarray(ds.variables["lat"][:], float)
        lon = np.asarray(ds.variables["lon"][:], float)
    return _ModelFile(path, frequency, index, lat, lon)


def _model_series(mf: _ModelFile, variable: str, site: SiteData) -> tuple[np.ndarray, str] | None:
    """The model series at the site's cell (nearest valid cell within 2 cells), or None."""
    with netCDF4.Dataset(mf.path) as ds:
        if variable not in ds.variables:
            return None
        var = ds.variables[variable]
        if getattr(var, "units", None) != CALLMIP_UNITS[variable]:
            raise ModelOutputError(
                f"{mf.path}: variable {variable!r} has units {getattr(var, 'units', None)!r}; "
                f"CalLMIP requires {CALLMIP_UNITS[variable]!r}"
            )
        cell = _cell(mf.lat, mf.lon, site.lat, site.lon)
        if cell is None:
            return None
        j, i = cell
        series = np.ma.filled(var[:, j, i].astype(float), np.nan)
        if np.isfinite(series).any():
            return series, ""
        js = slice(max(j - 2, 0), j + 3)
        i_idx = np.arange(i - 2, i + 3) % mf.lon.size
        block = np.ma.filled(var[:, js, :][:, :, i_idx].astype(float), np.nan)
    valid = np.isfinite(block).any(axis=0)
    if not valid.any():
        return None
    jj, ii = np.nonzero(valid)
    lat_b = mf.lat[js][jj]
    lon_b = mf.lon[i_idx][ii]
    d = (lat_b - site.lat) ** 2 + ((((lon_b - site.lon) + 180) % 360) - 180) ** 2 * np.cos(
        np.deg2rad(site.lat)
    ) ** 2
    k = int(d.argmin())
    note = f"nearest cell with data at {lat_b[k]:.2f}N {lon_b[k]:.2f}E used"
    return block[:, jj[k], ii[k]], note


def _monthly(
    dates: pd.DatetimeIndex, value: np.ndarray, unc: np.ndarray
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Monthly means of valid days (>= MIN_DAYS_PER_MONTH); uncertainty = mean daily one.

    Taking the mean daily uncertainty assumes fully correlated daily errors, the
    conservative choice when the error correlation is unknown.
    """
    frame = pd.DataFrame({"v": value, "u": unc}, index=dates)
    frame = frame[np.isfinite(frame["v"])]
    grouped = frame.groupby([frame.index.year, frame.index.month])
    stats = grouped.agg(v=("v", "mean"), u=("u", "mean"), n=("v", "size"))
    stats = stats[stats["n"] >= MIN_DAYS_PER_MONTH]
    index = pd.DatetimeIndex([pd.Timestamp(y, m, 1) for y, m in stats.index])
    return index, stats["v"].to_numpy(), stats["u"].to_numpy()


def site_metrics(model: np.ndarray, obs: np.ndarray, unc: np.ndarray) -> dict[str, float]:
    """Bias, RMSE, correlation, Nash-Sutcliffe efficiency, fraction within uncertainty,
    chi-square per day and bias score of paired series.

    NSE = 1 - sum(err^2) / sum((obs - mean(obs))^2) (Nash & Sutcliffe 1970): 1 is perfect, 0 is
    no better than the observed mean. Chi-square per day = mean((err / unc)^2) over the days
    with a positive uncertainty: about 1 when the misfit is the size of the measurement error.
    """
    ok = np.isfinite(model) & np.isfinite(obs)
    n = int(ok.sum())
    if n == 0:
        return {"n": 0}
    m, o = model[ok], obs[ok]
    err = m - o
    u = unc[ok]
    within = np.abs(err) <= np.where(np.isfinite(u), u, 0.0)
    std_obs = float(o.std())
    has_unc = np.isfinite(u) & (u > 0)
    chi2 = float(np.mean((err[has_unc] / u[has_unc]) ** 2)) if has_unc.any() else np.nan
    ss_obs = float(((o - o.mean()) ** 2).sum())
    bias = float(err.mean())
    corr = float(np.corrcoef(m, o)[0, 1]) if n > 2 and m.std() > 0 and o.std() > 0 else np.nan
    return {
        "n": n,
        "Bias": bias,
        "RMSE": float(np.sqrt((err**2).mean())),
        "Correlation": corr,
        "Nash-Sutcliffe Efficiency": 1.0 - float((err**2).sum()) / ss_obs if ss_obs > 0 else np.nan,
        "Fraction Within Uncertainty": float(within.mean()),
        "Chi-square per day": chi2,
        "Bias Score": float(np.exp(-abs(bias) / std_obs)) if std_obs > 0 else np.nan,
        "Observed Mean": float(o.mean()),
        "Model Mean": float(m.mean()),
    }


_SCORES = ("Fraction Within Uncertainty", "Bias Score")
DIMENSIONLESS = ("Correlation", "Nash-Sutcliffe Efficiency", "Chi-square per day")


def _rows(base: dict, metrics: dict, units: str, count_name: str) -> list[dict]:
    rows = [
        {**base, "name": count_name, "type": "scalar", "units": "1", "value": float(metrics["n"])}
    ]
    for name, value in metrics.items():
        if name == "n":
            continue
        kind = "score" if name in _SCORES else "scalar"
        unit = "1" if name in (*_SCORES, *DIMENSIONLESS) else units
        rows.append({**base, "name": name, "type": kind, "units": unit, "value": value})
    return rows


def confront_sites(
    model_files: Sequence, sites_dir: Path, out_dir: Path | None = None
) -> pd.DataFrame:
    """Score every model output at every CalLMIP site; return rows of the long table.

    ``model_files`` are :class:`~benchmarks.confront.ModelOutput`. When ``out_dir`` is given,
    the paired series are written to ``out_dir/site_pairs.csv`` for the report's scatter plots.
    """
    sites = [read_site(p) for p in site_files(sites_dir)]
    if not sites:
        logger.warning("no CalLMIP site files in %s", sites_dir)
    rows: list[dict] = []
    pairs: list[pd.DataFrame] = []
    for output in model_files:
        daily = output.daily_path is not None
        path = output.daily_path if daily else output.monthly_path
        check_model_file(path, output.stage)
        mf = _open_model(path, "daily" if daily else "monthly")
        mode = "sites-daily" if daily else "sites-monthly"
        for sv in SITE_VARIABLES:
            pooled: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
            for site in sites:
                if sv.site_variable not in site.series:
                    continue
                base = {
                    "source": output.model,
                    "stage": output.stage,
                    "variable": sv.model_variable,
                    "product": PRODUCT,
                    "region": site.code,
                    "analysis": "Site",
                    "mode": mode,
                }
                got = _model_series(mf, sv.model_variable, site)
                if got is None:
                    rows.append(
                        {
                            **base,
                            "name": "Skipped",
                            "type": "skipped",
                            "units": "",
                            "value": np.nan,
                            "note": (
                                f"{path.name}: no {sv.model_variable} data at {site.lat:.2f}N "
                                f"{site.lon:.2f}E (off the grid, or no valid cell within two)"
                            ),
                        }
                    )
                    continue
                raw, cell_note = got
                model = sv.sign * convert(raw, CALLMIP_UNITS[sv.model_variable], sv.units)
                value, unc = site.series[sv.site_variable]
                dates = site.dates
                if not daily:
                    dates, value, unc = _monthly(dates, value, unc)
                common, mi, si = np.intersect1d(mf.dates.asi8, dates.asi8, return_indices=True)
                if common.size == 0:
                    rows.append(
                        {
                            **base,
                            "name": "Skipped",
                            "type": "skipped",
                            "units": "",
                            "value": np.nan,
                            "note": f"no common {'days' if daily else 'months'} "
                            f"(model {mf.dates.year.min()}-{mf.dates.year.max()}, "
                            f"site {site.dates.year.min()}-{site.dates.year.max()})",
                        }
                    )
                    continue
                m, o, u = model[mi], value[si], unc[si]
                note = "; ".join(
                    x
                    for x in (
                        sv.note,
                        cell_note,
                        "" if daily else "monthly means of daily site data",
                    )
                    if x
                )
                metrics = site_metrics(m, o, u)
                if metrics["n"] == 0:
                    continue
                rows += [
                    {**r, "note": note}
                    for r in _rows(base, metrics, sv.units, "Days" if daily else "Months")
                ]
                pooled.append((m, o, u))
                pairs.append(
                    pd.DataFrame(
                        {
                            "source": output.model,
                            "stage": output.stage,
                            "variable": sv.model_variable,
                            "site": site.code,
                            "date": pd.DatetimeIndex(common),
                            "model": m,
                            "obs": o,
                            "uncertainty": u,
                            "units": sv.units,
                        }
                    )
                )
            if pooled:
                m = np.concatenate([p[0] for p in pooled])
                o = np.concatenate([p[1] for p in pooled])
                u = np.concatenate([p[2] for p in pooled])
                base = {
                    "source": output.model,
                    "stage": output.stage,
                    "variable": sv.model_variable,
                    "product": PRODUCT,
                    "region": "all sites",
                    "analysis": "Site",
                    "mode": mode,
                }
                rows += [
                    {**r, "note": f"{sv.note}; pooled over {len(pooled)} sites"}
                    for r in _rows(
                        base, site_metrics(m, o, u), sv.units, "Days" if daily else "Months"
                    )
                ]
    if out_dir is not None and pairs:
        target = Path(out_dir) / "site_pairs.csv"
        with atomic_path(target) as tmp:
            pd.concat(pairs, ignore_index=True).to_csv(tmp, index=False)
    return pd.DataFrame(rows, columns=COLUMNS)
