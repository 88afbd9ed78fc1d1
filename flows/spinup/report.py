"""Spin-up drift written to the run directory: the per-cycle table and a plot of it.

Why a file and not only the HTML report: the spin-up is where a coordinator decides whether to
stop, extend or restart a campaign, often before any benchmark exists, so ``spinup/drift.csv``
and ``spinup/drift.png`` are written as soon as the spin-up stage ends (atomically, so an
interrupted write never leaves a half file next to a good one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from benchmarks.plots import cycle_axis, figure_png, model_colors, new_figure
from benchmarks.report import spinup_judgements
from forcing.fileio import atomic_path

#: gating global-drift criteria plotted as |drift| against their threshold
_DRIFT_CRITERIA = ("CTSM global drift", "C4MIP drift per century")


def drift_png(table: pd.DataFrame) -> bytes:
    """Two rows of panels: global totals per cycle, and |drift| per cycle with its threshold.

    With the phase judge, its checks (a cycle's first year against the same year one cycle
    later) are drawn as diamonds on thinner lines next to the cycle-mean drifts (circles).

    One panel per variable, one line per model and parameter set; thresholds dashed. The
    |drift| axis is logarithmic because the drift falls by orders of magnitude towards
    equilibrium, which is what the reader needs to see (and whether it flattens too early).
    """
    _, cycle_means = spinup_judgements(table)
    totals = cycle_means.dropna(subset=["global_total"]).drop_duplicates(
        ["model", "stage", "variable", "cycle"])
    variables = list(dict.fromkeys(totals["variable"]))
    drifts = table[table["criterion"].isin(_DRIFT_CRITERIA)]
    drifts = drifts.assign(check=~drifts.index.isin(cycle_means.index))
    drift_keys = list(dict.fromkeys(zip(drifts["variable"], drifts["criterion"], strict=True)))
    ncols = max(len(variables), len(drift_keys), 1)
    fig = new_figure(2.9 * ncols, 5.4)
    colors = model_colors(list(table["model"].unique()))
    for k, var in enumerate(variables):
        ax = fig.add_subplot(2, ncols, k + 1)
        sel = totals[totals["variable"] == var]
        for (model, stage), group in sel.groupby(["model", "stage"]):
            g = group.sort_values("cycle")
            ax.plot(g["cycle"], g["global_total"], marker="o", ms=3, color=colors[model],
                    ls="-" if stage == "Posterior" else "--", label=f"{model} {stage}")
        ax.set_title(f"{var} ({sel['units'].iloc[0]})", fontsize=9)
        ax.set_xlabel("cycle")
        ax.grid(alpha=0.3)
    for k, (var, crit) in enumerate(drift_keys):
        ax = fig.add_subplot(2, ncols, ncols + k + 1)
        sel = drifts[(drifts["variable"] == var) & (drifts["criterion"] == crit)]
        for (model, stage, check), group in sel.groupby(["model", "stage", "check"]):
            g = group.sort_values("cycle")
            ax.plot(g["cycle"], np.abs(g["drift_per_year"].astype(float)),
                    marker="D" if check else "o", ms=3, color=colors[model],
                    ls="-" if stage == "Posterior" else "--", lw=0.8 if check else 1.5)
        threshold = sel["threshold"].dropna()
        if len(threshold):
            ax.axhline(float(threshold.iloc[0]), color="black", ls=":", lw=1)
        ax.set_yscale("log")
        short = "C4MIP" if crit.startswith("C4MIP") else "CTSM"
        ax.set_title(f"|d{var}/dt| {short} ({sel['drift_units'].iloc[0]})", fontsize=9)
        ax.set_xlabel("cycle")
        ax.grid(alpha=0.3, which="both")
    last = int(table["cycle"].max()) if len(table) else 0
    for ax in fig.axes:
        cycle_axis(ax, last)
    if fig.axes:
        handles, labels = fig.axes[0].get_legend_handles_labels()
        if drifts["check"].any():
            handles += [Line2D([], [], color="grey", marker="o", ls="-", ms=3),
                        Line2D([], [], color="grey", marker="D", ls="-", lw=0.8, ms=3)]
            labels += ["cycle mean against the cycle before",
                       "check: the cycle's first year, one cycle later"]
        if handles:
            fig.legend(handles, labels, loc="outside lower center",
                       ncols=min(4, len(labels)), frameon=False)
    return figure_png(fig)


def write_drift(table: pd.DataFrame, directory: Path) -> tuple[Path, Path]:
    """Write ``drift.csv`` and ``drift.png`` into ``directory`` (temporary name, then rename)."""
    csv, png = directory / "drift.csv", directory / "drift.png"
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(png) as tmp:
        tmp.write_bytes(drift_png(table))
    return csv, png
