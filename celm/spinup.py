"""Semi-analytic spin-up: put the carbon pools at their equilibrium for the forcing cycle.

Contract: :func:`analytic_spinup` takes the state at the start and at the end of one pass through
the forcing cycle, the cycle means of the kernel's daily diagnostics (NDIAG, ncell) and the
number of days in the cycle; it solves the linear pool system
(:func:`celm.carbon.steady_state_pools` for wood, litter and SOM; labile, foliage and roots
together, see :func:`_fast_pools`) and
returns a new state in which every carbon pool holds its equilibrium value, at the phase of the
cycle's end; water, snow, soil temperature and GSI are left as the run ended.
:func:`cycle_budget` gives the cycle's mean fluxes, mean pools and effective turnover rates it is
based on.

Why effective rates (flux / pool) and not ``k * mean(f(T, W))``: the daily outflow of a pool is
``k f(T, W) C``, so its cycle mean is ``k (mean(f) mean(C) + cov(f, C))``. For litter the
covariance is large (leaves fall in autumn, when decomposition is slow), and for every pool the
start-of-day pools differ from the end-of-day means the kernel accumulates. The analytic
equilibrium is only as good as its rates: CLM's SASU and ORCHIDEE's analytic spin-up (Xia et al.
2012; Lu et al. 2020) therefore accumulate the *actual* transfers and pools over the cycle and
use ``mean(outflow) / mean(pool)`` as the rate, so that the solved pools reproduce the cycle's
fluxes exactly. We recover the outflows exactly from the closed budgets instead of carrying more
diagnostics through the kernel: litter decomposition = litter input - change of the litter pool,
SOM respiration = RH - (1 - f_humif) litter decomposition (see :mod:`celm.carbon`).

Fast pools too: labile, foliage and roots reach their (seasonal) equilibrium within a few years
of normal running and are strongly seasonal, so replacing them by an annual mean would put
deciduous leaves on trees in December; they are therefore solved for their cycle *mean* and set
back to the cycle's phase by :func:`end_of_cycle_value` (pools already cyclo-stationary hardly
move). Wood (decades), litter (years) and especially SOM (decades to centuries, and >1000 years
in cold soils) are what make a cold-start spin-up slow.

The solve is exact for the cycle it saw, but it changes the state (more wood means rougher
surfaces, hence other soil temperature and moisture, hence other decomposition), so the
accelerated spin-up alternates: a normal cycle, an analytic solve, a normal cycle, ... until the
solve moves the pools by little; then normal cycles until the drift criteria pass.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from celm.carbon import steady_state_pools
from celm.params import KernelParams
from celm.step import DIAG_VARS, STATE_VARS

_D = {name: i for i, name in enumerate(DIAG_VARS)}
_S = {name: i for i, name in enumerate(STATE_VARS)}
#: the six carbon pools, in state order
CARBON_POOLS = ("C_LABILE", "C_LEAF", "C_ROOT", "C_WOOD", "C_LITTER", "C_SOM")
#: pools (gC m-2) below this are treated as empty when forming flux / pool rates
_EMPTY = 1e-9


class CycleBudget(NamedTuple):
    """Cycle means over land cells (gC m-2 d-1, gC m-2, d-1), each an array (ncell,)."""

    npp: np.ndarray
    litter_in: np.ndarray
    litter_out: np.ndarray
    som_out: np.ndarray
    litter: np.ndarray  # mean start-of-day litter pool
    som: np.ndarray  # mean start-of-day SOM pool
    k_litter: np.ndarray  # effective litter turnover rate
    k_som: np.ndarray  # effective SOM turnover rate


def _change(start: np.ndarray, end: np.ndarray, name: str, ndays: int) -> np.ndarray:
    """Mean daily change of pool ``name`` over the cycle."""
    return (end[_S[name]] - start[_S[name]]) / ndays


def _start_mean(
    start: np.ndarray, end: np.ndarray, means: np.ndarray, name: str, ndays: int
) -> np.ndarray:
    """Cycle mean of pool ``name`` at the start of each day: the kernel accumulates end-of-day
    values, and the transfers act on start-of-day pools."""
    return means[_D[name]] - _change(start, end, name, ndays)


def cycle_budget(
    start: np.ndarray, end: np.ndarray, means: np.ndarray, ndays: int, p: KernelParams
) -> CycleBudget:
    """Mean fluxes, pools and effective rates of the slow pools over one forcing cycle.

    ``start``/``end``: state (NSTATE, ncell) before the first and after the last day;
    ``means``: cycle means of the daily diagnostics (pools at the end of each day);
    ``ndays``: days in the cycle. The kernel's transfers act on start-of-day pools, whose mean
    is the end-of-day mean minus (end - start) / ndays.
    """
    if ndays <= 0:
        raise ValueError(f"cycle_budget: ndays must be positive, got {ndays}")

    npp = means[_D["GPP"]] - means[_D["RA"]]
    litter_in = means[_D["F_LEAF"]] + p.k_root * _start_mean(start, end, means, "C_ROOT", ndays)
    litter_out = litter_in - _change(start, end, "C_LITTER", ndays)
    som_out = means[_D["RH"]] - (1.0 - p.f_humif) * litter_out
    litter = _start_mean(start, end, means, "C_LITTER", ndays)
    som = _start_mean(start, end, means, "C_SOM", ndays)

    def rate(out: np.ndarray, pool: np.ndarray, k: float) -> np.ndarray:
        # where a pool was empty all cycle, no rate can be measured: use the rate at 10 C and
        # field capacity times the cycle-mean environmental scalar (the pool's equilibrium is
        # then set by its inputs, usually zero there)
        fallback = k * means[_D["DECOMP"]]
        ok = pool > _EMPTY
        return np.where(ok, np.maximum(out, 0.0) / np.where(ok, pool, 1.0), fallback)

    return CycleBudget(
        npp=npp,
        litter_in=litter_in,
        litter_out=litter_out,
        som_out=som_out,
        litter=litter,
        som=som,
        k_litter=rate(litter_out, litter, p.k_litter),
        k_som=rate(som_out, som, p.k_som),
    )


def cycle_rates(budget: CycleBudget, p: KernelParams) -> dict[str, np.ndarray]:
    """Turnover rates (d-1) of the six pools for :func:`celm.carbon.steady_state_pools`.

    Labile, foliage and root rates here only shape the fast pools' values in
    ``steady_state_pools``, which are not used (:func:`_fast_pools` solves those pools from
    their own effective rates); they are given finite placeholders.
    """
    ones = np.ones_like(budget.npp)
    return {
        "labile": ones,
        "leaf": ones * p.k_leaf,
        "root": ones * p.k_root,
        "wood": ones * p.k_wood,
        "litter": budget.k_litter,
        "som": budget.k_som,
    }


def end_of_cycle_value(
    end: np.ndarray, mean: np.ndarray, target_mean: np.ndarray, rate: np.ndarray, ndays: int
) -> np.ndarray:
    """The pool at the end of a cycle that is at equilibrium, given the solved cycle mean.

    The solve gives the *mean* equilibrium pool, but the state is an end-of-cycle value, and a
    seasonal pool (litter peaks after leaf fall) differs from its mean on 31 December. For a
    linear pool, the cycle's trajectory is the cyclo-stationary one plus a deviation decaying
    as Phi(t) = exp(-k t); the deviation's cycle mean is (mean - target_mean), so its end value
    is (mean - target_mean) Phi(T) / mean(Phi). Slow pools (k T << 1) shift by the difference of
    means; fast pools (k T >> 1) keep their end value, which is already cyclo-stationary.
    """
    kn = np.maximum(rate, 0.0) * ndays
    small = kn < 1e-8
    kn_safe = np.where(small, 1.0, kn)
    ratio = np.where(small, 1.0, np.exp(-kn_safe) * kn_safe / -np.expm1(-kn_safe))
    return np.maximum(end - (mean - target_mean) * ratio, 0.0)


def _fast_pools(
    start: np.ndarray, end: np.ndarray, means: np.ndarray, ndays: int, p: KernelParams, npp
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Equilibrium cycle means of labile, foliage and roots, with their mean and loss rate.

    Labile and foliage exchange carbon both ways (release to foliage; resorption of part of the
    phenological leaf fall), so they are solved together from the cycle's effective rates:
    release r = F_LABREL / labile, resorption s and litterfall q per unit foliage, with the
    resorption flux recovered from the foliage budget. At equilibrium foliage loses to litter
    what labile and foliage receive, q F = (a_lab + a_leaf) NPP, and labile balances
    r L = a_lab NPP + s F. Where no release was ever measured (no growing season: ice, deep
    desert) labile carbon is inert, any amount is an equilibrium, and it is kept.
    Returns name -> (target mean, start-of-day mean, loss rate).
    """

    lab, leaf, root = (_start_mean(start, end, means, n, ndays)
                       for n in ("C_LABILE", "C_LEAF", "C_ROOT"))  # fmt: skip
    release = means[_D["F_LABREL"]]
    litterfall = means[_D["F_LEAF"]]
    leaf_change = _change(start, end, "C_LEAF", ndays)
    resorb = np.maximum(p.alloc_leaf * npp + release - litterfall - leaf_change, 0.0)
    has_leaf = leaf > _EMPTY
    safe_leaf = np.where(has_leaf, leaf, 1.0)
    q = np.where(has_leaf, litterfall / safe_leaf, p.k_leaf)
    s = np.where(has_leaf, resorb / safe_leaf, 0.0)
    active = (lab > _EMPTY) & (release > 0.0)
    r = np.where(active, release / np.where(active, lab, 1.0), 0.0)
    growing = active & (q > 0.0)
    leaf_eq = np.where(growing, (p.alloc_labile + p.alloc_leaf) * npp / np.where(q > 0, q, 1.0),
                       leaf)  # fmt: skip
    lab_eq = np.where(
        growing, (p.alloc_labile * npp + s * leaf_eq) / np.where(active, r, 1.0), lab
    )
    root_eq = p.alloc_root * npp / p.k_root
    return {
        "C_LABILE": (lab_eq, lab, r),
        "C_LEAF": (leaf_eq, leaf, q + s),
        "C_ROOT": (root_eq, root, np.full_like(root, p.k_root)),
    }


def analytic_spinup(
    start: np.ndarray, end: np.ndarray, means: np.ndarray, ndays: int, p: KernelParams
) -> np.ndarray:
    """State ``end`` with every carbon pool at the equilibrium of the cycle's fluxes.

    Slow pools (wood, litter, SOM) from :func:`celm.carbon.steady_state_pools` with effective
    rates; labile, foliage and roots from :func:`_fast_pools`. Each pool's end-of-cycle value
    follows from its solved mean by :func:`end_of_cycle_value`, so seasonal pools keep their
    phase and fast pools (already cyclo-stationary) are left almost unchanged.
    """
    budget = cycle_budget(start, end, means, ndays, p)
    alloc = {
        "labile": p.alloc_labile,
        "leaf": p.alloc_leaf,
        "root": p.alloc_root,
        "wood": p.alloc_wood,
    }
    rates = cycle_rates(budget, p)
    pools = steady_state_pools(budget.npp, alloc, rates, p.f_humif)
    new = end.copy()
    for name, target, rate in (
        ("C_WOOD", pools.wood, rates["wood"]),
        ("C_LITTER", pools.litter, rates["litter"]),
        ("C_SOM", pools.som, rates["som"]),
    ):
        mean = _start_mean(start, end, means, name, ndays)
        new[_S[name]] = end_of_cycle_value(end[_S[name]], mean, target, rate, ndays)
    npp = np.maximum(budget.npp, 0.0)
    for name, (target, mean, rate) in _fast_pools(start, end, means, ndays, p, npp).items():
        new[_S[name]] = end_of_cycle_value(end[_S[name]], mean, target, rate, ndays)
    return new


def total_carbon(state: np.ndarray) -> np.ndarray:
    """Sum of the six pools (gC m-2) per land cell."""
    return np.sum(state[[_S[n] for n in CARBON_POOLS]], axis=0)
