"""Branch-free elementary functions that work on numpy arrays *and* inside numba kernels.

Contract: every function here is decorated with :func:`numba.extending.register_jitable`, so it is
ordinary Python/numpy when called from Python (the numpy reference path runs it on whole arrays
of land cells) and is compiled into the cell loop when called from a jitted kernel. They use only
arithmetic, ``np.sqrt``, ``np.minimum`` and ``np.maximum``: no branches, no libm calls, as few
divisions as possible (a 4-wide division costs as much as ~10 multiplications here).

Why not ``np.exp``? The cell loop of :mod:`celm.kernel` only vectorises (AVX2, 4 cells per
instruction) when its body contains no calls to libm, and a scalar ``exp`` costs about 6 ns here -
the whole per-cell-day budget at the speed target is about 27 ns. Every exponent in the model has a
bounded argument (Arrhenius factors over -20..50 C, Q10 factors, Beer's law), so a scaling-and-
squaring exponential is exact to ~1e-12 relative and vectorises. Polynomials use Estrin's scheme:
the vectorised loop is bound by the latency of its dependency chains, not by throughput.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

#: arguments are clipped to +-EXP_ARG_MAX; exp(40) ~ 2e17 is far outside any model quantity
EXP_ARG_MAX = 40.0


@register_jitable(inline="always")
def exp_bounded(x):
    """exp(x), relative error < 1e-12 for |x| <= 12 and < 2e-7 up to the clip at |x| = 40.

    exp(x) = (exp(x / 64)) ** 64: exp(y) by its Taylor series to degree 9 evaluated with
    Estrin's scheme (short dependency chains: the kernel is latency-bound), then six squarings.
    The model's exponents stay within +-12 (Arrhenius factors over -20..50 C, Magnus, Q10, Beer).
    """
    y = np.minimum(np.maximum(x, -EXP_ARG_MAX), EXP_ARG_MAX) * (1.0 / 64.0)
    y2 = y * y
    y4 = y2 * y2
    p01 = 1.0 + y
    p23 = 0.5 + y * (1.0 / 6.0)
    p45 = 1.0 / 24.0 + y * (1.0 / 120.0)
    p67 = 1.0 / 720.0 + y * (1.0 / 5040.0)
    p89 = 1.0 / 40320.0 + y * (1.0 / 362880.0)
    p = (p01 + y2 * p23) + y4 * ((p45 + y2 * p67) + y4 * p89)
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    return p * p


#: least-squares (Chebyshev) fit of u ** (2/3) on [0.41, 1], degree 8, constant term adjusted so
#: that p(1) = 1 to round-off; max abs error 7e-8
_P23 = (
    0.06878421778110444,
    1.6997115881934826,
    -2.269859454749472,
    3.912952595254311,
    -5.10500607457557,
    4.631150938883706,
    -2.7428417786137604,
    0.9517311683349957,
    -0.14662320050879687,
)


@register_jitable(inline="always")
def pow_two_thirds_unit(u):
    """u ** (2/3) for u in [0.41, 1] (clipped to that range), absolute error < 7e-8.

    Only used for the Jmax limitation of Wang et al. (2017), where u = c*/m lies in [0.41, 1]
    (c* = 0.41, m < 1). A polynomial instead of ``u ** (2/3)`` keeps the kernel free of ``pow``
    and of the divisions a Newton iteration would need; p(1) = 1, so mj is exactly 0 at m = c*.
    """
    x = np.minimum(np.maximum(u, 0.41), 1.0)
    x2 = x * x
    x4 = x2 * x2
    lo = (_P23[0] + x * _P23[1]) + x2 * (_P23[2] + x * _P23[3])
    hi = (_P23[4] + x * _P23[5]) + x2 * (_P23[6] + x * _P23[7])
    return lo + x4 * (hi + x4 * _P23[8])


@register_jitable(inline="always")
def ramp(x, lo, hi):
    """0 below ``lo``, 1 above ``hi``, linear in between (the GSI and snow-partition shape)."""
    return np.minimum(np.maximum((x - lo) * (1.0 / (hi - lo)), 0.0), 1.0)


# Batched reciprocals (Montgomery's trick: one division, a few multiplications). A 4-wide double
# division occupies the divider for ~13 cycles, so independent divisions are the cell loop's
# bottleneck; batching them cuts the kernel's divisions from 18 to 6. Arguments must be finite,
# non-zero and their product well inside the double range (callers clamp); relative error <= 4 ulp.


@register_jitable(inline="always")
def reciprocals2(a, b):
    """(1/a, 1/b) with one division."""
    r = 1.0 / (a * b)
    return b * r, a * r


@register_jitable(inline="always")
def reciprocals3(a, b, c):
    """(1/a, 1/b, 1/c) with one division."""
    ab = a * b
    r = 1.0 / (ab * c)
    cr = c * r
    return b * cr, a * cr, ab * r


@register_jitable(inline="always")
def reciprocals4(a, b, c, d):
    """(1/a, 1/b, 1/c, 1/d) with one division."""
    ab = a * b
    cd = c * d
    r = 1.0 / (ab * cd)
    abr = ab * r
    cdr = cd * r
    return b * cdr, a * cdr, d * abr, c * abr
