"""The campaign's static HTML benchmark report, plus scores.csv and summary.md.

Contract: :func:`write_report` renders ``out_dir/index.html`` from the long score table, the
campaign description, the spin-up diagnostics and the job table. The page is self-contained:
figures are PNGs inlined as base64 data URIs, the CSS is inline, there is no JavaScript and no
http(s) reference to any asset, so it opens offline and from an archive. It also writes
``scores.csv`` (the long table) and ``summary.md`` (markdown for a Prefect artifact); every
file is written to a temporary name and renamed, so a failed render never leaves half a
report. Every number on the page sits next to the scoring mode that made it.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import jinja2
import netCDF4
import numpy as np
import pandas as pd

from benchmarks import compare, plots
from benchmarks import intercomparison_report as icr
from benchmarks.catalog import ReferenceProduct
from benchmarks.confront import maps_path
from benchmarks.markdown import (
    markdown_table,
    overall_scorecard,
    skipped_table,
    summary_markdown,
)
from benchmarks.modes import MODES
from benchmarks.regions import region_names
from benchmarks.variables import LONG_NAMES
from callmip import atomic
from callmip.config import SPINUP_JUDGES

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
SCORE_ORDER = [
    "Overall Score",
    "Bias Score",
    "RMSE Score",
    "Seasonal Cycle Score",
    "Interannual Variability Score",
    "Spatial Distribution Score",
]


def template_environment() -> jinja2.Environment:
    """The Jinja environment of the report templates (autoescaped, strict)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _write_readable(path: Path, data: str) -> None:
    """Write a report file atomically, readable by all (reports are meant to be served)."""
    atomic.write_text(path, data, mode=0o644)


def _score_color(value: float) -> str:
    """Background colour of a score cell (red-yellow-green, like the heat map)."""
    if value is None or not np.isfinite(value):
        return "#f0f0f0"
    stops = [(0.0, (215, 48, 39)), (0.5, (254, 224, 139)), (1.0, (26, 152, 80))]
    v = float(np.clip(value, 0, 1))
    for (x0, c0), (x1, c1) in itertools.pairwise(stops):
        if v <= x1:
            f = (v - x0) / (x1 - x0)
            rgb = [round(a + f * (b - a)) for a, b in zip(c0, c1, strict=True)]
            return "#{:02x}{:02x}{:02x}".format(*rgb)
    return "#1a9850"


def _num(value: object, digits: int = 3) -> str:
    if value is None:
        return "-"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not np.isfinite(v):
        return "-"
    if v != 0 and (abs(v) >= 1e4 or abs(v) < 1e-3):
        return f"{v:.{digits}g}"
    return f"{v:.{digits}f}"


INTEGER_COLUMNS = frozenset({"n_models", "models", "cycle", "Days", "Months", "job_id", "sites",
                             "days", "metrics_won", "sites_beaten"})
HEADLINE_LABELS = {
    "n_models": "models",
    "prior_mean": "prior score",
    "posterior_mean": "posterior score",
    "models_improved": "models improved",
    "spread_prior": "score spread prior",
    "spread_posterior": "score spread posterior",
    "closer_to_obs": "closer to obs?",
    "spread_smaller": "spread smaller?",
    "map_spread_prior": "map spread prior",
    "map_spread_posterior": "map spread posterior",
    "map_spread_units": "map spread units",
    "models_improved_beyond_noise": "improved beyond noise",
    "spread_change_ci": "spread change 95% CI",
    "spread_change_within_noise": "spread change within noise?",
}


def _table(frame: pd.DataFrame, *, score_cols: Sequence[str] = (), digits: int = 3) -> dict:
    """A table for the template: header and rows of {text, cls, style} cells."""
    rows = []
    for record in frame.itertuples(index=False, name=None):
        cells = []
        for col, value in zip(frame.columns, record, strict=True):
            if isinstance(value, bool | np.bool_):
                cells.append(
                    {"text": "yes" if value else "no", "cls": "ok" if value else "bad", "style": ""}
                )
            elif isinstance(value, float | int | np.floating | np.integer):
                style = f"background:{_score_color(float(value))}" if col in score_cols else ""
                text = (
                    str(int(value))
                    if col in INTEGER_COLUMNS and np.isfinite(float(value))
                    else _num(value, digits)
                )
                cells.append({"text": text, "style": style, "cls": "num"})
            else:
                cells.append({"text": "" if value is None else str(value), "cls": "", "style": ""})
        rows.append(cells)
    return {"header": [str(c) for c in frame.columns], "rows": rows}


def _stage_order(columns: Sequence[str]) -> list[str]:
    """'<model> <stage>' columns ordered by model, Prior before Posterior."""
    return sorted(columns, key=lambda c: (c.rsplit(" ", 1)[0], c.rsplit(" ", 1)[-1] != "Prior"))


def _detailed_scorecard(scores: pd.DataFrame, region: str) -> dict | None:
    sel = scores[
        (scores["type"] == "score") & (scores["region"] == region) & (scores["analysis"] != "Site")
    ]
    if sel.empty:
        return None
    sel = sel.assign(column=sel["source"] + " " + sel["stage"])
    wide = sel.pivot_table(
        index=["variable", "product", "name"], columns="column", values="value", aggfunc="mean"
    )
    wide = wide[_stage_order(wide.columns)]
    order = {n: i for i, n in enumerate(SCORE_ORDER)}
    wide = wide.reset_index()
    wide["_o"] = wide["name"].map(order).fillna(99)
    wide = wide.sort_values(["variable", "product", "_o"]).drop(columns="_o")
    wide.columns.name = None
    score_cols = [c for c in wide.columns if c not in ("variable", "product", "name")]
    return _table(wide.rename(columns={"name": "score"}), score_cols=score_cols)


def _read_maps(path: Path) -> dict | None:
    if not path.exists():
        return None
    with netCDF4.Dataset(path) as ds:
        out = {
            name: np.ma.filled(var[:].astype(float), np.nan)
            for name, var in ds.variables.items()
            if name not in ("region",)
        }
        out["region"] = [str(r) for r in ds.variables["region"][:]]
        out["attrs"] = {k: ds.getncattr(k) for k in ds.ncattrs()}
    return out


def _symmetric_limit(*arrays: np.ndarray) -> float:
    vals = np.concatenate([np.abs(a[np.isfinite(a)]) for a in arrays if a is not None] or [[1.0]])
    return float(np.nanpercentile(vals, 98)) if vals.size else 1.0


def _confrontation_figures(scores: pd.DataFrame, maps_dir: Path) -> list[dict]:
    """Maps, annual cycles and Taylor diagram per variable/product."""
    sel = scores[(scores["type"] == "score") & (scores["analysis"] != "Site")]
    out = []
    for (variable, product), group in sel.groupby(["variable", "product"], sort=True):
        runs = sorted(
            set(zip(group["source"], group["stage"], strict=True)),
            key=lambda x: (x[0], x[1] != "Prior"),
        )
        loaded = {
            run: _read_maps(maps_path(maps_dir, run[0], run[1], variable, product)) for run in runs
        }
        loaded = {k: v for k, v in loaded.items() if v is not None}
        glob = group[group["region"] == "global"]
        glob = glob.assign(column=glob["source"] + " " + glob["stage"])
        small = glob.pivot_table(index="name", columns="column", values="value", aggfunc="mean")
        small = small[_stage_order(small.columns)]
        small = small.reindex([n for n in SCORE_ORDER if n in small.index]).reset_index()
        small.columns.name = None
        entry = {
            "scores": _table(
                small.rename(columns={"name": "score (global)"}),
                score_cols=[c for c in small.columns if c != "name"],
            ),
            "variable": variable,
            "product": product,
            "long_name": LONG_NAMES.get(variable, variable),
            "mode": ", ".join(sorted(group["mode"].unique())),
        }
        if loaded:
            first = next(iter(loaded.values()))
            units = str(first["attrs"].get("units", ""))
            entry["period"] = str(first["attrs"].get("period", ""))
            lat, lon = first["lat"], first["lon"]
            ref = first["ref_mean"]
            outline = np.isfinite(ref)
            lo, hi = np.nanpercentile(ref, [2, 98])
            panels = [
                plots.MapPanel(
                    f"{product} (reference) mean", ref, lat, lon, "viridis", lo, hi, units
                )
            ]
            models = sorted({m for m, _ in loaded})
            for model in models:
                prior = loaded.get((model, "Prior"))
                post = loaded.get((model, "Posterior"))
                lim = _symmetric_limit(*(x["bias"] for x in (prior, post) if x is not None))
                for stage, data in (("Prior", prior), ("Posterior", post)):
                    if data is not None:
                        panels.append(
                            plots.MapPanel(
                                f"{model} {stage} bias",
                                data["bias"],
                                lat,
                                lon,
                                "RdBu_r",
                                -lim,
                                lim,
                                units,
                            )
                        )
                if prior is not None and post is not None:
                    change = np.abs(post["bias"]) - np.abs(prior["bias"])
                    clim = _symmetric_limit(change)
                    panels.append(
                        plots.MapPanel(
                            f"{model}: |bias| posterior - prior",
                            change,
                            lat,
                            lon,
                            "PuOr_r",
                            -clim,
                            clim,
                            units,
                        )
                    )
            entry["maps"] = _uri(plots.maps_png(panels, outline, ncols=4))
            regions = first["region"]
            names = region_names(regions)
            reference = {r: first["ref_cycle"][i] for i, r in enumerate(regions)}
            cycles = {
                run: {r: d["com_cycle"][i] for i, r in enumerate(regions)}
                for run, d in loaded.items()
            }
            entry["cycles"] = _uri(plots.cycles_png(reference, cycles, units, names))
        scal = scores[
            (scores["variable"] == variable)
            & (scores["product"] == product)
            & (scores["region"] == "global")
            & scores["name"].isin(["Normalized Standard Deviation", "Correlation"])
        ]
        tw = scal.pivot_table(index=["source", "stage"], columns="name", values="value")
        if {"Normalized Standard Deviation", "Correlation"} <= set(tw.columns):
            points = pd.DataFrame(
                {
                    "model": [i[0] for i in tw.index],
                    "stage": [i[1] for i in tw.index],
                    "norm_std": tw["Normalized Standard Deviation"].to_numpy(),
                    "corr": tw["Correlation"].to_numpy(),
                }
            )
            entry["taylor"] = _uri(plots.taylor_png(points, f"{variable} vs {product} (global)"))
        out.append(entry)
    return out


def _sites_section(scores: pd.DataFrame, pairs_path: Path) -> dict | None:
    site = scores[scores["analysis"] == "Site"]
    if site.empty:
        return None
    pooled = site[site["region"] == "all sites"]
    cols = [
        "Days",
        "Months",
        "Bias",
        "RMSE",
        "Correlation",
        "Fraction Within Uncertainty",
        "Bias Score",
    ]
    wide = pooled.pivot_table(
        index=["variable", "source", "stage", "mode"], columns="name", values="value"
    ).reset_index()
    wide.columns.name = None
    wide = wide[[c for c in ["variable", "source", "stage", "mode", *cols] if c in wide.columns]]
    units = pooled.groupby("variable")["units"].agg(
        lambda u: next((x for x in u if x not in ("1", "")), "")
    )
    per_site = site[
        (site["region"] != "all sites")
        & site["name"].isin(["Bias", "RMSE", "Fraction Within Uncertainty"])
    ]
    ps = per_site.pivot_table(
        index=["variable", "region", "source", "stage"], columns="name", values="value"
    ).reset_index()
    ps.columns.name = None
    figures = []
    if pairs_path.exists():
        pairs = pd.read_csv(pairs_path)
        for variable, g in pairs.groupby("variable", sort=True):
            label = "NEE (= -nep)" if variable == "nep" else variable
            figures.append({"variable": variable, "png": _uri(plots.site_scatter_png(g, label))})
    notes = sorted(set(pooled["note"].dropna()))
    return {
        "pooled": _table(wide, score_cols=["Fraction Within Uncertainty", "Bias Score"]),
        "per_site": _table(
            ps.rename(columns={"region": "site"}), score_cols=["Fraction Within Uncertainty"]
        ),
        "units": {k: str(v) for k, v in units.items()},
        "figures": figures,
        "notes": notes,
    }


def spinup_judgements(spinup: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The drift table split into the rows that judged each member and its cycle means.

    A member spun up with ``spinup.judge: phase`` is judged by its one-year checks (rows
    ``compared`` = the phase judge's); its cycle-mean rows are the record of each cycle, not
    the judgement. A member judged by cycle means (or a table written before the ``compared``
    column existed) is judged by its cycle rows. Returns ``(judged, cycle_means)``."""
    compared = (spinup["compared"] if "compared" in spinup
                else pd.Series(SPINUP_JUDGES["cycle"], index=spinup.index))
    is_check = compared == SPINUP_JUDGES["phase"]
    member_checked = is_check.groupby([spinup["model"], spinup["stage"]]).transform("any")
    return spinup[is_check | ~member_checked], spinup[~is_check]


def _spinup_section(spinup: pd.DataFrame | None) -> dict | None:
    if spinup is None or spinup.empty:
        return None
    judged, cycle_means = spinup_judgements(spinup)
    last = (
        judged.sort_values("cycle", kind="stable")
        .groupby(["model", "stage", "variable", "criterion"], as_index=False)
        .tail(1)
    )
    cols = [
        "model",
        "stage",
        "variable",
        "criterion",
        "cycle",
        "global_total",
        "units",
        "drift_per_year",
        "threshold",
        "passed",
        "compared",
    ]
    table = last[[c for c in cols if c in last.columns]].sort_values(["model", "stage", "variable"])
    return {
        "figure": _uri(plots.spinup_png(cycle_means)),
        "table": _table(table),
        "all_passed": bool(last["passed"].all()) if "passed" in last else None,
    }


def _jobs_section(jobs: pd.DataFrame | None) -> list[dict] | None:
    if jobs is None or jobs.empty:
        return None
    out = []
    for rec in jobs.to_dict(orient="records"):
        out.append(
            {
                "run_id": rec.get("run_id", ""),
                "model": rec.get("model", ""),
                "stage": rec.get("stage", ""),
                "experiment": rec.get("experiment", ""),
                "job_id": rec.get("job_id", ""),
                "state": str(rec.get("state", "")),
                "wall": _num(rec.get("wall_s")),
                "log_tail": str(rec.get("log_tail", "") or ""),
            }
        )
    return out


def _catalog_section(scores: pd.DataFrame, catalog: Sequence[ReferenceProduct] | None) -> list:
    if not catalog:
        return []
    used = set(
        zip(
            scores.loc[scores["type"] == "score", "variable"],
            scores.loc[scores["type"] == "score", "product"],
            strict=True,
        )
    )
    out = []
    for p in catalog:
        status = (
            "used" if (p.variable, p.product) in used else ("skipped" if p.available else p.status)
        )
        out.append(
            {
                "variable": p.variable,
                "product": p.product,
                "status": status,
                "units": p.display_units,
                "period": f"{p.period[0]}-{p.period[1]}",
                "weight": _num(p.weight, 1),
                "reason": p.skip_reason or "",
                "citation": p.citation,
                "files": ", ".join(x.name for x in p.paths) or p.pattern,
            }
        )
    return out


def write_report(
    out_dir: Path,
    scores: pd.DataFrame,
    *,
    campaign: dict,
    spinup: pd.DataFrame | None = None,
    jobs: pd.DataFrame | None = None,
    figures_from: Path | None = None,
    catalog: Sequence[ReferenceProduct] | None = None,
    intercomparison: icr.Intercomparison | None = None,
) -> Path:
    """Render the report into ``out_dir``; return the path of ``index.html``.

    ``figures_from`` is the directory :func:`benchmarks.confront.confront` wrote its maps and
    site pairs to (default ``out_dir``). ``catalog`` adds the reference list with citations;
    ``intercomparison`` the submitted files, bootstrap intervals and reference-free totals.
    """
    out_dir = Path(out_dir)
    maps_dir = Path(figures_from) if figures_from is not None else out_dir
    scores = scores.reset_index(drop=True)
    inter = intercomparison
    headline = compare.headline(
        scores, maps_dir,
        intervals=inter.changes if inter is not None else None,
        spread_intervals=inter.spread if inter is not None else None,
    )
    global_scores = scores[scores["region"] == "global"]
    changes = compare.prior_posterior(global_scores[global_scores["analysis"] != "Site"])
    spread = compare.spread_change(global_scores)
    modes = sorted(m for m in scores["mode"].dropna().unique() if m in MODES)

    card = overall_scorecard(scores)
    scorecard_png = (
        _uri(plots.scorecard_png(card, "Overall score, global")) if not card.empty else None
    )
    overall_change = changes[changes["name"] == "Overall Score"]
    change_png = None
    if not overall_change.empty:
        bars = overall_change.assign(
            label=overall_change["source"]
            + " "
            + overall_change["variable"]
            + "/"
            + overall_change["product"]
        )
        change_png = _uri(
            plots.bars_png(
                bars.set_index("label"),
                value_cols=["prior", "posterior"],
                labels=["prior", "posterior"],
                title="Overall score before and after calibration",
                ylabel="score",
            )
        )
    spread_overall = spread[spread["name"] == "Overall Score"]
    spread_png = None
    if not spread_overall.empty:
        sp = spread_overall.assign(
            label=spread_overall["variable"] + "/" + spread_overall["product"]
        ).set_index("label")
        spread_png = _uri(
            plots.bars_png(
                sp,
                value_cols=["spread_prior", "spread_posterior"],
                labels=["prior", "posterior"],
                title="Inter-model spread of the overall score",
                ylabel="std across models",
                colors=("#fdae6b", "#a63603"),
            )
        )
    regions = [r for r in scores.loc[scores["analysis"] != "Site", "region"].dropna().unique()]
    detailed = {r: _detailed_scorecard(scores, r) for r in regions}
    names = region_names([r for r in regions if r])
    change_table = changes[changes["name"].isin(SCORE_ORDER)].drop(
        columns=["improved", "region"], errors="ignore"
    )
    map_spread = compare.map_spread(maps_dir, scores)

    context = {
        "title": f"CalLMIP benchmark report - {campaign.get('name', 'campaign')}",
        "campaign": {
            k: (json.dumps(v) if isinstance(v, list | dict) else str(v))
            for k, v in campaign.items()
        },
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "modes": [{"name": m, "description": MODES[m].description} for m in modes],
        "models": sorted(scores["source"].dropna().unique()),
        "headline": _table(
            headline.rename(columns=HEADLINE_LABELS),
            score_cols=["prior score", "posterior score"],
        ),
        "scorecard_png": scorecard_png,
        "detailed": [
            {"region": r, "name": names.get(r, r), "table": t}
            for r, t in detailed.items()
            if t is not None
        ],
        "change_png": change_png,
        "change_table": _table(change_table, score_cols=["prior", "posterior"]),
        "spread_png": spread_png,
        "spread_table": _table(spread),
        "map_spread": _table(map_spread),
        "confrontations": _confrontation_figures(scores, maps_dir),
        "sites": _sites_section(scores, maps_dir / "site_pairs.csv"),
        "spinup": _spinup_section(spinup),
        "jobs": _jobs_section(jobs),
        "skipped": _table(skipped_table(scores)),
        "catalog": _catalog_section(scores, catalog),
        "regions": names,
        "inter": icr.context(inter, _table, _uri),
    }
    html = template_environment().get_template("report.html.j2").render(**context)
    index = out_dir / "index.html"
    _write_readable(out_dir / "scores.csv", scores.to_csv(index=False))
    _write_readable(
        out_dir / "summary.md",
        summary_markdown(scores, campaign=campaign, headline=headline, report_path=str(index),
                         extra=icr.markdown(inter, markdown_table)),
    )
    _write_readable(index, html)
    logger.info("benchmark report written to %s", index)
    return index


def load_scores(path: Path) -> pd.DataFrame:
    """Read a ``scores.csv`` written by :func:`write_report`."""
    return pd.read_csv(path, keep_default_na=True)


__all__ = ["load_scores", "write_report"]
