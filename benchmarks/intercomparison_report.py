"""The intercomparison sections of the report: submitted files, changes and spread with their
bootstrap intervals, reference-free totals and SSP divergence.

Contract: :class:`Intercomparison` carries the tables :mod:`benchmarks.run` computes (all
optional); :func:`context` turns them into what ``templates/intercomparison.html.j2`` renders
(tables as header/rows, figures as PNG data URIs), and :func:`markdown` into the summary's
sections. Nothing here computes a statistic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from benchmarks import plots
from benchmarks.intercompare import noise_verdict


@dataclass(frozen=True)
class Intercomparison:
    """Tables of the intercomparison sections."""

    inventory: list[dict] = field(default_factory=list)
    policy: str = ""
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)  # change_intervals + global
    spread: pd.DataFrame = field(default_factory=pd.DataFrame)  # spread_intervals
    annual: pd.DataFrame = field(default_factory=pd.DataFrame)  # totals.global_annual rows
    totals: pd.DataFrame = field(default_factory=pd.DataFrame)  # prior_posterior_totals
    divergence: pd.DataFrame = field(default_factory=pd.DataFrame)  # scenario_divergence
    notes: list[str] = field(default_factory=list)


CHANGE_SHOWN = ["source", "variable", "product", "name", "mode", "prior", "posterior",
                "change", "mean_change", "ci_low", "ci_high", "n_years", "n_regions",
                "verdict"]


def change_table(inter: Intercomparison) -> pd.DataFrame:
    """Score changes with the verdict the interval supports."""
    ch = inter.changes
    if ch.empty:
        return pd.DataFrame(columns=CHANGE_SHOWN)
    ch = ch.assign(verdict=[
        noise_verdict(c, w if pd.notna(w) else None)
        for c, w in zip(ch["change"], ch["within_noise"], strict=True)
    ])
    for col in ("n_years", "n_regions"):
        if col in ch:
            ch = ch.assign(**{col: ch[col].astype("Int64")})
    return ch[[c for c in CHANGE_SHOWN if c in ch.columns]]


def context(inter: Intercomparison | None, table: Callable, uri: Callable) -> dict | None:
    """Template context of the intercomparison sections (``table``/``uri``: report helpers)."""
    if inter is None:
        return None
    out: dict = {"policy": inter.policy, "notes": inter.notes, "inventory": None,
                 "findings": [], "counts": {}, "totals": None, "totals_png": None,
                 "divergence": None, "divergence_png": None}
    if inter.inventory:
        inv = pd.DataFrame(inter.inventory)
        out["inventory"] = table(inv.drop(columns=["checker"]))
        out["findings"] = [
            {"file": r["file"], "text": r["checker"]} for r in inter.inventory
            if r["checker"] != "PASS"
        ]
        out["counts"] = inv["status"].value_counts().to_dict()
    changes = change_table(inter)
    out["changes"] = table(changes, score_cols=["prior", "posterior"]) if len(changes) else None
    out["spread"] = table(inter.spread) if not inter.spread.empty else None
    if not inter.totals.empty:
        out["totals"] = table(inter.totals)
    hist = inter.annual[inter.annual["experiment"] == "historical"] if not inter.annual.empty \
        else inter.annual
    if not hist.empty:
        out["totals_png"] = uri(plots.totals_png(hist, "Global annual totals (historical)"))
    if not inter.divergence.empty:
        out["divergence"] = table(inter.divergence)
        scen = inter.annual[inter.annual["experiment"] != "historical"]
        if not scen.empty:
            out["divergence_png"] = uri(plots.divergence_png(scen))
    return out


def markdown(inter: Intercomparison | None, render: Callable) -> list[str]:
    """Summary sections in markdown (``render``: DataFrame -> markdown table)."""
    if inter is None:
        return []
    lines: list[str] = []
    if inter.inventory:
        inv = pd.DataFrame(inter.inventory)
        lines += ["## Submitted files", "",
                  f"Checker policy: **{inter.policy}**.", "",
                  render(inv[["file", "model", "stage", "experiment", "status", "reason"]])]
    changes = change_table(inter)
    if len(changes):
        overall = changes[changes["name"] == "Overall Score"]
        lines += ["## Prior to posterior, with 95% bootstrap intervals (years x regions)", "",
                  render(overall)]
    if not inter.spread.empty:
        lines += ["## Inter-model spread, with 95% bootstrap intervals", "",
                  render(inter.spread[inter.spread["name"] == "Overall Score"])]
    if not inter.totals.empty:
        lines += ["## Global annual totals, prior vs posterior (reference-free)", "",
                  render(inter.totals)]
    if not inter.divergence.empty:
        lines += ["## SSP runs: posterior - prior at the end of the runs", "",
                  render(inter.divergence)]
    return lines
