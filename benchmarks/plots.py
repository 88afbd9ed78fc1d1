"""Figures of the benchmark report, each returned as PNG bytes.

Contract: every function takes plain arrays/tables and returns a PNG (``bytes``) ready to be
inlined as a data URI. Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg
canvas created inside the function - no pyplot state, no backend switch at import, safe in
worker threads. Maps carry no downloaded coastlines (cartopy's Natural Earth files cannot be
fetched here): the land outline is drawn from the data's own valid-cell mask instead.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

MONTHS = ["J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D"]
STAGE_STYLE = {
    "Prior": {"linestyle": "--", "marker": "o", "fillstyle": "none"},
    "Posterior": {"linestyle": "-", "marker": "o", "fillstyle": "full"},
}
REFERENCE_COLOR = "#222222"
FONT = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8}


def new_figure(width: float, height: float, layout: str | None = "constrained"):
    """A Figure with an Agg canvas attached (created here, never at import)."""
    from matplotlib import rcParams
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rcParams.update(FONT)
    fig = Figure(figsize=(width, height), dpi=110, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")
    return buf.getvalue()


def model_colors(models: Sequence[str]) -> dict[str, str]:
    """A stable colour per model (tab10)."""
    palette = [
        "#1f77b4",
        "#d62728",
        "#2ca02c",
        "#9467bd",
        "#ff7f0e",
        "#8c564b",
        "#e377c2",
        "#17becf",
        "#bcbd22",
        "#7f7f7f",
    ]
    return {m: palette[i % len(palette)] for i, m in enumerate(sorted(models))}


def scorecard_png(table: pd.DataFrame, title: str) -> bytes:
    """Heat map of scores: rows = confrontations, columns = model/stage, values in [0, 1]."""
    nrow, ncol = table.shape
    fig = new_figure(max(4.5, 1.1 * ncol + 2.8), max(1.8, 0.36 * nrow + 1.2))
    ax = fig.add_subplot()
    data = table.to_numpy(dtype=float)
    im = ax.imshow(np.ma.masked_invalid(data), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(ncol), [str(c) for c in table.columns], rotation=30, ha="right")
    ax.set_yticks(range(nrow), [str(r) for r in table.index])
    for i in range(nrow):
        for j in range(ncol):
            v = data[i, j]
            ax.text(
                j,
                i,
                "-" if not np.isfinite(v) else f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="black" if 0.25 < v < 0.85 or not np.isfinite(v) else "white",
            )
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="score")
    return figure_png(fig)


@dataclass(frozen=True)
class MapPanel:
    """One map: a 2-D field on a regular lat/lon grid."""

    title: str
    values: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    cmap: str
    vmin: float
    vmax: float
    units: str


def _edges(x: np.ndarray) -> np.ndarray:
    if x.size == 1:
        return np.array([x[0] - 0.5, x[0] + 0.5])
    mid = 0.5 * (x[1:] + x[:-1])
    return np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])


def _outline(lat: np.ndarray, lon: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """Polylines of a mask's edge (computed once, drawn on every panel)."""
    import contourpy

    lon180 = ((lon + 180.0) % 360.0) - 180.0
    order = np.argsort(lon180)
    gen = contourpy.contour_generator(lon180[order], lat, mask[:, order].astype(float))
    return [line for line in gen.lines(0.5) if len(line) > 1]


def _regular(edges: np.ndarray) -> bool:
    step = np.diff(edges)
    return bool(np.allclose(step, step[0], rtol=1e-6))


def maps_png(
    panels: Sequence[MapPanel], outline: np.ndarray | None = None, ncols: int = 3
) -> bytes:
    """A grid of maps sharing nothing but style; ``outline`` is a boolean land mask."""
    n = len(panels)
    ncols = min(ncols, n)
    outline_lines = _outline(panels[0].lat, panels[0].lon, outline) if outline is not None else []
    nrows = int(np.ceil(n / ncols))
    fig = new_figure(3.6 * ncols, 2.1 * nrows + 0.3)
    for k, p in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        lon = ((p.lon + 180.0) % 360.0) - 180.0
        order = np.argsort(lon)
        values = p.values[:, order]
        lon_e, lat_e = _edges(lon[order]), _edges(p.lat)
        if _regular(lon_e) and _regular(lat_e):  # fast path: an image, same pixels
            mesh = ax.imshow(
                np.ma.masked_invalid(values[::-1] if p.lat[0] > p.lat[-1] else values),
                origin="lower",
                extent=(lon_e[0], lon_e[-1], min(lat_e[0], lat_e[-1]), max(lat_e[0], lat_e[-1])),
                aspect="auto",
                interpolation="nearest",
                cmap=p.cmap,
                vmin=p.vmin,
                vmax=p.vmax,
            )
        else:
            mesh = ax.pcolormesh(
                lon_e,
                lat_e,
                np.ma.masked_invalid(values),
                cmap=p.cmap,
                vmin=p.vmin,
                vmax=p.vmax,
                shading="flat",
            )
        if outline_lines:
            from matplotlib.collections import LineCollection

            ax.add_collection(LineCollection(outline_lines, colors="#555555", linewidths=0.4))
        ax.set_facecolor("#eef2f5")
        ax.set_xlim(-180, 180)
        ax.set_ylim(-60, 85)
        ax.set_xticks([-120, -60, 0, 60, 120])
        ax.set_yticks([-30, 0, 30, 60])
        ax.tick_params(labelsize=7)
        ax.set_title(p.title, fontsize=9)
        fig.colorbar(
            mesh,
            ax=ax,
            orientation="horizontal",
            fraction=0.06,
            pad=0.04,
            label=p.units,
            shrink=0.85,
        )
    return figure_png(fig)


def cycles_png(
    reference: Mapping[str, np.ndarray],
    models: Mapping[tuple[str, str], Mapping[str, np.ndarray]],
    units: str,
    region_names: Mapping[str, str],
) -> bytes:
    """Regional mean annual cycles: reference (black) and each model (prior dashed)."""
    regions = list(reference)
    ncols = min(4, len(regions))
    nrows = int(np.ceil(len(regions) / ncols))
    fig = new_figure(3.0 * ncols, 2.3 * nrows + 0.4)
    colors = model_colors({m for m, _ in models})
    x = np.arange(1, 13)
    for k, region in enumerate(regions):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        ax.plot(x, reference[region], color=REFERENCE_COLOR, lw=2.2, label="reference")
        for (model, stage), cyc in sorted(models.items()):
            style = STAGE_STYLE.get(stage, {})
            ax.plot(
                x, cyc[region], color=colors[model], lw=1.3, ms=3, label=f"{model} {stage}", **style
            )
        ax.set_xticks(x, MONTHS)
        ax.set_title(region_names.get(region, region), fontsize=9)
        ax.grid(alpha=0.3)
        if k % ncols == 0:
            ax.set_ylabel(units)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside lower center", ncols=min(5, len(labels)), frameon=False
    )
    return figure_png(fig)


def taylor_png(points: pd.DataFrame, title: str) -> bytes:
    """Taylor diagram from columns label, model, stage, norm_std, corr (reference at (1, 1))."""
    fig = new_figure(4.6, 4.2)
    ax = fig.add_subplot(projection="polar")
    smax = max(1.6, float(np.nanmax(points["norm_std"])) * 1.1 if len(points) else 1.6)
    ax.set_thetamin(0)
    ax.set_thetamax(90)
    ax.set_rlim(0, smax)
    corr_ticks = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99, 1.0])
    ax.set_thetagrids(np.degrees(np.arccos(corr_ticks)), [f"{c:g}" for c in corr_ticks])
    # centred-RMS contours around the reference point
    rs, ts = np.meshgrid(np.linspace(0, smax, 100), np.linspace(0, np.pi / 2, 100))
    rms = np.sqrt(1 + rs**2 - 2 * rs * np.cos(ts))
    cs = ax.contour(ts, rs, rms, levels=[0.25, 0.5, 0.75, 1.0], colors="#bbbbbb", linewidths=0.6)
    ax.clabel(cs, fontsize=6, fmt="%.2f")
    theta = np.linspace(0, np.pi / 2, 100)
    ax.plot(theta, np.ones_like(theta), color="#888888", lw=0.8, ls=":")
    ax.plot([0], [1], marker="*", ms=13, color=REFERENCE_COLOR, label="reference", ls="none")
    colors = model_colors(points["model"].unique()) if len(points) else {}
    for _, p in points.iterrows():
        corr = float(np.clip(p["corr"], 0, 1))
        style = STAGE_STYLE.get(p["stage"], {})
        ax.plot(
            [np.arccos(corr)],
            [p["norm_std"]],
            ls="none",
            marker="o",
            ms=8,
            color=colors[p["model"]],
            fillstyle=style.get("fillstyle", "full"),
            markeredgewidth=1.6,
            label=f"{p['model']} {p['stage']}",
        )
    ax.set_title(title, pad=14)
    ax.text(np.radians(45), smax * 1.13, "correlation", ha="center", fontsize=8)
    ax.set_xlabel("normalised standard deviation", labelpad=12)
    ax.legend(loc="upper right", bbox_to_anchor=(1.32, 1.05), frameon=False)
    return figure_png(fig)


def bars_png(
    table: pd.DataFrame,
    *,
    value_cols: Sequence[str],
    labels: Sequence[str],
    title: str,
    ylabel: str,
    colors: Sequence[str] = ("#9ecae1", "#08519c"),
) -> bytes:
    """Grouped bars: one group per row of ``table`` (index = group label)."""
    n = len(table)
    fig = new_figure(max(4.5, 0.8 * n + 2.0), 2.8)
    ax = fig.add_subplot()
    width = 0.8 / len(value_cols)
    x = np.arange(n)
    for k, (col, label) in enumerate(zip(value_cols, labels, strict=True)):
        ax.bar(
            x + (k - (len(value_cols) - 1) / 2) * width,
            table[col].to_numpy(float),
            width,
            label=label,
            color=colors[k % len(colors)],
        )
    ax.set_xticks(x, [str(i) for i in table.index], rotation=20, ha="right")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure_png(fig)


def cycle_axis(ax, last_cycle: int) -> None:
    """Whole-number spin-up cycles on the x axis, at most about ten ticks; readable with a
    single cycle too (matplotlib would tick -0.04..0.04)."""
    step = max(1, -(-(last_cycle + 1) // 10))
    ax.set_xticks(np.arange(0, last_cycle + 1, step))
    ax.set_xlim(-0.5, last_cycle + 0.5)


def spinup_png(spinup: pd.DataFrame) -> bytes:
    """Global totals per spin-up cycle, one panel per variable, one line per model/stage."""
    variables = list(dict.fromkeys(spinup["variable"]))
    ncols = min(3, len(variables))
    nrows = int(np.ceil(len(variables) / ncols))
    fig = new_figure(3.4 * ncols, 2.4 * nrows + 0.4)
    colors = model_colors(spinup["model"].unique())
    for k, var in enumerate(variables):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        sel = spinup[spinup["variable"] == var]
        for (model, stage), group in sel.groupby(["model", "stage"]):
            g = group.sort_values("cycle")
            ax.plot(
                g["cycle"],
                g["global_total"],
                color=colors[model],
                ms=3,
                label=f"{model} {stage}",
                **STAGE_STYLE.get(stage, {}),
            )
        units = sel["units"].iloc[0] if len(sel) else ""
        ax.set_title(var, fontsize=9)
        ax.set_xlabel("spin-up cycle")
        ax.set_ylabel(units)
        cycle_axis(ax, int(spinup["cycle"].max()))
        ax.grid(alpha=0.3)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside lower center", ncols=min(4, len(labels)), frameon=False
    )
    return figure_png(fig)


def site_scatter_png(pairs: pd.DataFrame, title: str) -> bytes:
    """Model against observed daily (or monthly) values at all sites, prior vs posterior."""
    stages = [s for s in ("Prior", "Posterior") if s in set(pairs["stage"])]
    colors = model_colors(pairs["source"].unique())
    fig = new_figure(3.3 * max(1, len(stages)), 3.2)
    units = pairs["units"].iloc[0] if len(pairs) else ""
    lo = float(np.nanpercentile(np.r_[pairs["obs"], pairs["model"]], 0.5)) if len(pairs) else 0
    hi = float(np.nanpercentile(np.r_[pairs["obs"], pairs["model"]], 99.5)) if len(pairs) else 1
    for k, stage in enumerate(stages):
        ax = fig.add_subplot(1, len(stages), k + 1)
        sel = pairs[pairs["stage"] == stage]
        for source, g in sel.groupby("source"):
            ax.scatter(
                g["obs"],
                g["model"],
                s=3,
                alpha=0.35,
                color=colors[source],
                label=source,
                rasterized=True,
                linewidths=0,
            )
        ax.plot([lo, hi], [lo, hi], color="black", lw=0.8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel(f"observed [{units}]")
        ax.set_ylabel(f"model [{units}]")
        ax.set_title(f"{title} - {stage}", fontsize=9)
        ax.grid(alpha=0.3)
        leg = ax.legend(frameon=False, markerscale=4, loc="upper left")
        for h in leg.legend_handles:
            h.set_alpha(1)
    return figure_png(fig)


def _panel_grid(n: int, ncols: int = 3) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return int(np.ceil(n / ncols)), ncols


def totals_png(annual: pd.DataFrame, title: str) -> bytes:
    """Global annual totals, one panel per variable: each model's prior dashed, posterior solid."""
    variables = list(dict.fromkeys(annual["variable"]))
    nrows, ncols = _panel_grid(len(variables))
    fig = new_figure(3.4 * ncols, 2.5 * nrows + 0.6)
    colors = model_colors(sorted(set(annual["source"])))
    for k, var in enumerate(variables):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        g = annual[annual["variable"] == var]
        for (model, stage), series in g.groupby(["source", "stage"], sort=True):
            line = series.sort_values("year")
            style = STAGE_STYLE.get(stage, {})
            ax.plot(line["year"], line["value"], color=colors[model], lw=1.3, ms=3,
                    label=f"{model} {stage}", **style)
        ax.set_title(f"{g['label'].iloc[0]}", fontsize=9)
        ax.set_ylabel(str(g["units"].iloc[0]))
        ax.grid(alpha=0.3)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)),
               frameon=False)
    fig.suptitle(title)
    return figure_png(fig)


def divergence_png(annual: pd.DataFrame) -> bytes:
    """Posterior minus prior of each global total through the scenario runs: one panel per
    variable, one line per model (colour) and SSP (line style)."""
    variables = list(dict.fromkeys(annual["variable"]))
    nrows, ncols = _panel_grid(len(variables))
    fig = new_figure(3.4 * ncols, 2.5 * nrows + 0.6)
    colors = model_colors(sorted(set(annual["source"])))
    dashes = ["-", "--", ":", "-."]
    experiments = sorted(set(annual["experiment"]))
    for k, var in enumerate(variables):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        g = annual[annual["variable"] == var]
        wide = g.pivot_table(index="year", columns=["source", "experiment", "stage"],
                             values="value")
        for model, exp in sorted({(m, e) for m, e, _ in wide.columns}):
            if (model, exp, "Prior") in wide and (model, exp, "Posterior") in wide:
                div = wide[(model, exp, "Posterior")] - wide[(model, exp, "Prior")]
                ax.plot(div.index, div.to_numpy(), color=colors[model], lw=1.3,
                        linestyle=dashes[experiments.index(exp) % 4], label=f"{model} {exp}")
        ax.axhline(0.0, color="#888888", lw=0.8)
        ax.set_title(f"{g['label'].iloc[0]}: posterior - prior", fontsize=9)
        ax.set_ylabel(str(g["units"].iloc[0]))
        ax.grid(alpha=0.3)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, max(1, len(labels))),
               frameon=False)
    return figure_png(fig)
