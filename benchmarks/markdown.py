"""Markdown and Prefect-artifact renderings of the benchmark tables.

Contract: :func:`markdown_table` renders a DataFrame as a GitHub/Prefect markdown table
(numbers rounded, NaN shown as '-'); :func:`summary_markdown` builds the campaign summary
written to ``summary.md`` (and suitable for ``create_markdown_artifact``);
:func:`artifact_tables` returns JSON-safe lists of row dicts keyed by artifact key (lowercase,
digits and dashes, as Prefect requires) for ``create_table_artifact``. The flow wires them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from benchmarks import compare


def _fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        if not math.isfinite(float(value)):
            return "-"
        v = float(value)
        return f"{v:.{digits}g}" if abs(v) >= 1000 or (0 < abs(v) < 1e-3) else f"{v:.{digits}f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A markdown table of ``frame`` (index ignored)."""
    if frame.empty:
        return "_(none)_\n"
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = [
        "| " + " | ".join(_fmt(v, digits) for v in row) + " |"
        for row in frame.itertuples(index=False, name=None)
    ]
    return "\n".join([header, rule, *body]) + "\n"


def overall_scorecard(scores: pd.DataFrame, region: str = "global") -> pd.DataFrame:
    """Overall Score per variable/product (rows) and model/stage (columns)."""
    sel = scores[
        (scores["name"] == "Overall Score")
        & (scores["region"] == region)
        & (scores["type"] == "score")
    ]
    if sel.empty:
        return pd.DataFrame()
    sel = sel.assign(
        confrontation=sel["variable"] + " / " + sel["product"],
        column=sel["source"] + " " + sel["stage"],
    )
    card = sel.pivot_table(index="confrontation", columns="column", values="value", aggfunc="mean")
    order = sorted(
        card.columns, key=lambda c: (c.rsplit(" ", 1)[0], c.rsplit(" ", 1)[-1] != "Prior")
    )
    return card[order]


def skipped_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Distinct skip reasons: variable, product, reason."""
    sel = scores[scores["type"] == "skipped"]
    if sel.empty:
        return pd.DataFrame(columns=["variable", "product", "models", "reason"])
    grouped = sel.groupby(["variable", "product", "note"], sort=True)["source"]
    out = grouped.apply(lambda s: ", ".join(sorted(set(s)))).reset_index()
    out = out.rename(columns={"note": "reason", "source": "models"})
    return out[["variable", "product", "models", "reason"]]


def summary_markdown(
    scores: pd.DataFrame,
    *,
    campaign: Mapping,
    headline: pd.DataFrame | None = None,
    report_path: str | None = None,
    extra: list[str] | None = None,
) -> str:
    """The campaign's benchmark summary in markdown."""
    name = campaign.get("name", "campaign")
    modes = sorted(m for m in scores["mode"].dropna().unique() if not str(m).startswith("sites"))
    head = compare.headline(scores) if headline is None else headline
    lines = [f"# Benchmark summary: {name}", ""]
    lines.append(f"Scoring mode(s): **{', '.join(modes) or 'n/a'}** (see the report's Methods).")
    if report_path:
        lines.append(f"Full report: `{report_path}`")
    lines += ["", "## Does calibration bring models closer to observations and together?", ""]
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
        "models_improved_beyond_noise",
        "spread_change_ci",
    ]
    lines.append(markdown_table(head[[c for c in cols if c in head.columns]]))
    lines += ["## Overall score (global)", ""]
    card = overall_scorecard(scores)
    lines.append(markdown_table(card.reset_index()) if not card.empty else "_(no scores)_\n")
    site = scores[(scores["analysis"] == "Site") & (scores["region"] == "all sites")]
    if not site.empty:
        lines += ["## Flux-tower sites (all sites pooled)", ""]
        wide = site[site["name"].isin(["Bias", "RMSE", "Fraction Within Uncertainty"])]
        wide = wide.pivot_table(
            index=["variable", "source", "stage"], columns="name", values="value"
        ).reset_index()
        wide.columns.name = None
        lines.append(markdown_table(wide))
    lines += list(extra or [])
    skipped = skipped_table(scores)
    if not skipped.empty:
        lines += ["## Skipped", ""]
        lines.append(markdown_table(skipped))
    return "\n".join(lines)


def _json_records(frame: pd.DataFrame, digits: int = 4) -> list[dict]:
    out = []
    for row in frame.to_dict(orient="records"):
        clean = {}
        for k, v in row.items():
            if isinstance(v, float | np.floating):
                clean[str(k)] = round(float(v), digits) if math.isfinite(float(v)) else None
            elif isinstance(v, np.integer):
                clean[str(k)] = int(v)
            elif isinstance(v, np.bool_):
                clean[str(k)] = bool(v)
            else:
                clean[str(k)] = v
        out.append(clean)
    return out


def artifact_tables(scores: pd.DataFrame) -> dict[str, list[dict]]:
    """Table-ready data for Prefect table artifacts, keyed by artifact key."""
    card = overall_scorecard(scores)
    pp = compare.prior_posterior(scores[scores["region"] == "global"])
    spread = compare.spread_change(scores[scores["region"] == "global"])
    site = scores[(scores["analysis"] == "Site") & (scores["region"] == "all sites")]
    return {
        "benchmark-headline": _json_records(compare.headline(scores)),
        "benchmark-scorecard": _json_records(card.reset_index()) if not card.empty else [],
        "benchmark-prior-posterior": _json_records(
            pp[pp["name"] == "Overall Score"].drop(columns=["improved"], errors="ignore")
        ),
        "benchmark-ensemble-spread": _json_records(spread),
        "benchmark-sites": _json_records(
            site[["source", "stage", "variable", "name", "units", "value"]]
        ),
        "benchmark-skipped": _json_records(skipped_table(scores)),
    }
