"""Write the site-level tables (CSV) and the HTML report of ``callmip sites``.

Contract: :func:`write_site_report` writes into ``out_dir``: ``site_scores.csv`` (one row per
model, scenario, stage, site and variable: the metrics), ``site_changes.csv`` (prior ->
posterior per metric), ``site_spread.csv``, ``site_pooled.csv`` (by IGBP class and all sites,
bootstrap intervals), ``site_benchmarks.csv`` (empirical-benchmark verdicts per site),
``site_findings.csv`` (every checker finding) and ``index.html`` (self-contained: inline CSS and
SVG, no JavaScript, no external reference). The report's body is the template
``site_section.html.j2``, so it can be included in another report. Each file goes through a
temporary name (the benchmark report's atomic writer).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from benchmarks.report import _table, _write_readable, template_environment
from benchmarks.site_level.figure import bar_chart_svg

if TYPE_CHECKING:
    from benchmarks.site_level.run import SiteLevelResult

LABELS = {"nep": "NEE (= -nep)", "hfls": "Qle (hfls)", "hfss": "Qh (hfss)"}


def _pooled_svg(pooled: pd.DataFrame) -> str | None:
    """Bars of the pooled relative RMSE change (all sites) per model and variable, with CIs:
    one inline SVG panel per role (calibration, validation sites); its text is escaped, so the
    template inserts it as is."""
    sel = pooled[(pooled["quantity"] == "RMSE relative change") & (pooled["class"] == "all sites")]
    if sel.empty:
        return None
    panels = []
    for role in sorted(sel["role"].unique()):
        g = sel[sel["role"] == role]
        labels = [f"{LABELS.get(v, v)} {m}" for v, m in zip(g["variable"], g["model"],
                                                           strict=True)]
        y, lo, hi = (100 * g[c].to_numpy(dtype=float) for c in ("mean", "ci_low", "ci_high"))
        tips = [f"{label}: {a:+.1f}% [{b:+.1f}, {c:+.1f}] over {n} sites"
                for label, a, b, c, n in zip(labels, y, lo, hi, g["sites"], strict=True)]
        panels.append(bar_chart_svg(labels, y, lo, hi, tooltips=tips,
                                    title=f"{role} sites (mean over sites, 95% bootstrap CI)",
                                    ylabel="RMSE change posterior vs prior (%)"))
    return "".join(panels)


def section_context(result: SiteLevelResult, obs_dir: Path) -> dict:
    """The template context of the site-level section."""
    scored = result.scores[result.scores["status"] == "scored"]
    unscored = result.scores[result.scores["status"] == "unscored"]
    findings = result.findings
    short = findings.assign(file=[Path(f).name for f in findings["file"]])
    headline = result.pooled[(result.pooled["class"] == "all sites")
                             & (result.pooled["model"] == "all models")]
    per_site = result.changes[result.changes["metric"].isin(
        ["RMSE", "Chi-square per day", "Nash-Sutcliffe Efficiency"])]
    summary = result.benchmark_summary.copy()
    files = {
        "files": len(result.runs),
        "scored": sum("*" not in r.unscored for r in result.runs),
        "errors": int((findings["level"] == "ERROR").sum()),
        "warnings": int((findings["level"] == "WARNING").sum()),
    }
    return {
        "files": files,
        "obs_dir": str(obs_dir),
        "met_note": result.met_note,
        "errors": _table(short[short["level"] == "ERROR"]),
        "warnings": _table(short[short["level"] == "WARNING"]),
        "info": _table(short[short["level"] == "INFO"]),
        "unscored": _table(unscored[["model", "scenario", "stage", "site", "variable", "note"]]),
        "headline": _table(headline.drop(columns=["class", "model"]),
                           score_cols=()),
        "pooled": _table(result.pooled),
        "pooled_svg": _pooled_svg(result.pooled),
        "per_site": _table(per_site.drop(columns=["units"])),
        "spread": _table(result.spread),
        "scores": _table(scored.drop(columns=["status"]),
                         score_cols=["Fraction Within Uncertainty"]),
        "bench_summary": _table(summary),
        "bench": _table(result.benchmarks),
    }


def write_site_report(out_dir: Path, result: SiteLevelResult, *, obs_dir: Path) -> Path:
    """Write the CSV files and ``index.html``; return the report path."""
    out_dir = Path(out_dir)
    for name, frame in (("site_scores", result.scores), ("site_changes", result.changes),
                        ("site_spread", result.spread), ("site_pooled", result.pooled),
                        ("site_benchmarks", result.benchmarks),
                        ("site_findings", result.findings)):
        _write_readable(out_dir / f"{name}.csv", frame.to_csv(index=False))
    html = template_environment().get_template("sites.html.j2").render(
        title="CalLMIP Phase 1 site-level submissions",
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        models=sorted({r.model for r in result.runs}),
        s=section_context(result, obs_dir),
    )
    index = out_dir / "index.html"
    _write_readable(index, html)
    result.report = index
    result.csv = out_dir / "site_scores.csv"
    return index
