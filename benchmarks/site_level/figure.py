"""Bar charts with interval whiskers as inline SVG, for the site-level report's headline figure.

Contract: :func:`bar_chart_svg` draws one panel - a bar per value from zero, coloured by sign
(negative = improvement for a change of misfit), a whisker from ``low`` to ``high`` where both
are finite, a zero line, y ticks at 1-2-2.5-5 steps, rotated category labels and a tooltip per
bar with the exact numbers - and returns self-contained SVG markup (no script, no external
reference, every text escaped). A NaN value draws no bar.

Why not matplotlib: this report has one small bar chart; writing it as SVG text takes
milliseconds, where importing and running matplotlib took about a second of the whole
``callmip sites`` run (issue 22 asks for seconds on 20 sites x 5 models), and the labels stay
sharp and searchable in the HTML.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import numpy as np

NEGATIVE = "#1a7f5a"  # a decrease (of a misfit): better
POSITIVE = "#b42318"
WIDTH_MIN, SLOT, HEIGHT = 320, 26, 330
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 30, 120


def ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise ValueError(f"tick range [{lo}, {hi}] is empty or not finite")
    raw = (hi - lo) / target
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-12))
    first, last = math.floor(lo / step), math.ceil(hi / step)
    first -= first * step > lo  # a quotient rounded up to a whole number
    last += last * step < hi
    return [k * step for k in range(first, last + 1)]


def _f(x: float) -> str:
    return f"{x:.1f}"


def bar_chart_svg(labels: Sequence[str], values: Sequence[float], lows: Sequence[float],
                  highs: Sequence[float], *, title: str, ylabel: str,
                  tooltips: Sequence[str] | None = None) -> str:
    """One panel of bars with whiskers (see the module docstring)."""
    v = np.asarray(values, dtype=float)
    lo = np.asarray(lows, dtype=float)
    hi = np.asarray(highs, dtype=float)
    n = len(v)
    if not (len(labels) == n == len(lo) == len(hi)):
        raise ValueError("labels, values, lows and highs must have the same length")
    whisker = np.isfinite(lo) & np.isfinite(hi)
    shown = np.concatenate([[0.0], v[np.isfinite(v)], lo[whisker], hi[whisker]])
    ymin, ymax = float(shown.min()), float(shown.max())
    if ymax - ymin == 0:
        ymin, ymax = ymin - 1.0, ymax + 1.0
    pad = 0.05 * (ymax - ymin)
    tick_values = ticks(ymin - pad, ymax + pad)
    d0, d1 = tick_values[0], tick_values[-1]
    width = max(WIDTH_MIN, LEFT + RIGHT + SLOT * n)
    plot_w, plot_h = width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(value: float) -> float:
        return TOP + (d1 - value) / (d1 - d0) * plot_h

    out = [f'<svg class="chart" width="{width}" height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}"'
           f' role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="10">',
           f'<text x="{_f(LEFT + plot_w / 2)}" y="18" text-anchor="middle" font-size="12">'
           f"{escape(title)}</text>"]
    for t in tick_values:
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{_f(y(t))}" y2="{_f(y(t))}" '
                   'stroke="#e6e8eb"/>')
        out.append(f'<text x="{LEFT - 5}" y="{_f(y(t) + 3.5)}" text-anchor="end">{t:g}</text>')
    out.append(f'<text transform="translate(14 {_f(TOP + plot_h / 2)}) rotate(-90)" '
               f'text-anchor="middle">{escape(ylabel)}</text>')
    slot = plot_w / max(n, 1)
    bar_w = 0.7 * slot
    for i in range(n):
        cx = LEFT + (i + 0.5) * slot
        if np.isfinite(v[i]):
            top, bottom = sorted((y(v[i]), y(0.0)))
            tip = escape(tooltips[i]) if tooltips is not None else escape(f"{labels[i]}: {v[i]:g}")
            out.append(f'<rect class="bar" x="{_f(cx - bar_w / 2)}" y="{_f(top)}" '
                       f'width="{_f(bar_w)}" height="{_f(bottom - top)}" '
                       f'fill="{NEGATIVE if v[i] < 0 else POSITIVE}"><title>{tip}</title></rect>')
        if whisker[i]:
            cap = bar_w / 4
            for a, b, c, d in ((cx, y(lo[i]), cx, y(hi[i])),
                               (cx - cap, y(lo[i]), cx + cap, y(lo[i])),
                               (cx - cap, y(hi[i]), cx + cap, y(hi[i]))):
                out.append(f'<line class="ci" x1="{_f(a)}" y1="{_f(b)}" x2="{_f(c)}" '
                           f'y2="{_f(d)}" stroke="#222"/>')
        ly = TOP + plot_h + 8
        out.append(f'<text transform="translate({_f(cx)} {ly}) rotate(-60)" text-anchor="end">'
                   f"{escape(labels[i])}</text>")
    out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{_f(y(0.0))}" y2="{_f(y(0.0))}" '
               'stroke="#333" stroke-width="0.8"/>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
               'stroke="#b0b4b8"/>')
    out.append("</svg>")
    return "".join(out)
