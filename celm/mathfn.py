"""Branch-free elementary functions that work on numpy arrays *and* inside numba kernels.

Contract: every function here is decorated with :func:`numba.extending.register_jitable`, so it is
ordinary Python/numpy when called from Python (the numpy reference path runs it on whole arrays
of land cells) and is compiled into the cell loop when called from a jitted kernel. They use only
arithmetic, ``np.sqrt``, ``np.minimum`` and ``np.maximum``: no branches, no libm calls.
Divisions are fine: in float32 with fast-math LLVM compiles them to an approximate reciprocal
refined by a Newton step (three instructions, no divider). They used to be batched (one division
for several reciprocals, Montgomery's trick), which saved divider time in float64 but lengthens
the dependency chains, and the float32 kernel is bound by their latency: direct reciprocals are
12% faster (measured in one process, alternating with the batched kernel).

Precision: the model's physics runs in float32 and its budgets in float64 (see :mod:`celm.step`).
Functions used by the physics write every constant as ``f32(...)``: numba types a bare float
literal as float64, and one float64 operand promotes the whole expression (and the vector width
of the compiled loop) to float64. LLVM folds ``f32(constant)`` at compile time. On the numpy path
the same code keeps float32 arrays in float32.

Why not ``np.exp``? The cell loop of :mod:`celm.kernel` only vectorises (AVX2, 8 cells per
instruction) when its body contains no calls to libm, and a scalar ``exp`` costs about 6 ns here -
the whole per-cell-day budget at the speed target is about 27 ns. Every exponent in the model has a
bounded argument (Arrhenius factors over -20..50 C, Q10 factors, Beer's law), so a scaling-and-
squaring exponential is accurate to float32 precision and vectorises. Polynomials use Estrin's
scheme: the vectorised loop is bound by the latency of its dependency chains, not by throughput.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

#: the physics' float type and the budgets' float type (aliases, so call sites read as casts)
f32 = np.float32
f64 = np.float64

#: arguments are clipped to +-EXP_ARG_MAX; exp(40) ~ 2e17 is far outside any model quantity
EXP_ARG_MAX = 40.0


@register_jitable(inline="always")
def exp_bounded(x):
    """exp(x) in float32, relative error < 2e-6 for |x| <= 12 (the model's range; clipped at 40).

    exp(x) = (exp(x / 32)) ** 32: exp(y) by its Taylor series to degree 7 evaluated with
    Estrin's scheme (short dependency chains: the kernel is latency-bound), then five squarings.
    For |y| <= 12/32 the truncation error is 1e-8, times 32 after the squarings; float32 rounding,
    also amplified by the squarings, dominates. The model's exponents stay within +-12
    (Arrhenius factors over -20..50 C, Magnus, Q10, Beer).
    """
    y = np.minimum(np.maximum(x, f32(-EXP_ARG_MAX)), f32(EXP_ARG_MAX)) * f32(1.0 / 32.0)
    y2 = y * y
    y4 = y2 * y2
    p01 = f32(1.0) + y
    p23 = f32(0.5) + y * f32(1.0 / 6.0)
    p45 = f32(1.0 / 24.0) + y * f32(1.0 / 120.0)
    p67 = f32(1.0 / 720.0) + y * f32(1.0 / 5040.0)
    p = (p01 + y2 * p23) + y4 * (p45 + y2 * p67)
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    return p * p


#: least-squares (Chebyshev) fit of (1 - (1 - t) ** (2/3)) / t on t in (0, 0.59], degree 7;
#: t * poly(t) has max abs error 1.1e-7 (1.4e-7 evaluated in float32)
_Q23 = (
    0.6666665450542667,
    0.11112536754840702,
    0.0489805266584147,
    0.033493411527256295,
    -0.008113338123075981,
    0.09894549588205129,
    -0.1275710369536837,
    0.10575295944801757,
)


@register_jitable(inline="always")
def one_minus_pow_two_thirds(u):
    """1 - u ** (2/3) for u in [0.41, 1] (clipped to that range), absolute error < 2e-7.

    Only used for the Jmax limitation of Wang et al. (2017), where u = c*/m lies in [0.41, 1]
    (c* = 0.41, m < 1). A polynomial instead of ``u ** (2/3)`` keeps the kernel free of ``pow``
    and of the divisions a Newton iteration would need. It is written in t = 1 - u as t * q(t),
    so it is exactly 0 at u = 1 (mj = 0 when m <= c*) and has no cancellation near there, in
    float32 as well (1 - p(u) with p(u) ~ 1 would lose all digits).
    """
    t = f32(1.0) - np.minimum(np.maximum(u, f32(0.41)), f32(1.0))
    t2 = t * t
    t4 = t2 * t2
    lo = (f32(_Q23[0]) + t * f32(_Q23[1])) + t2 * (f32(_Q23[2]) + t * f32(_Q23[3]))
    hi = (f32(_Q23[4]) + t * f32(_Q23[5])) + t2 * (f32(_Q23[6]) + t * f32(_Q23[7]))
    return t * (lo + t4 * hi)


@register_jitable(inline="always")
def ramp(x, lo, hi):
    """0 below ``lo``, 1 above ``hi``, linear in between (snow partition, leaf fall; float64)."""
    return np.minimum(np.maximum((x - lo) * (1.0 / (hi - lo)), 0.0), 1.0)


@register_jitable(inline="always")
def ramp32(x, lo, hi):
    """:func:`ramp` in float32 (the GSI and frost shapes); ``lo`` and ``hi`` are constants."""
    return np.minimum(np.maximum((x - f32(lo)) * f32(1.0 / (hi - lo)), f32(0.0)), f32(1.0))
