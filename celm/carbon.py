"""DALEC-style carbon pools: the daily update and the semi-analytic steady state.

Contract: :func:`carbon_step` is a branch-free jitable function of one day (scalars in the kernel,
arrays on the numpy path) in float64, so the pools' budget closes to float64 round-off;
:func:`decomposition_scalar` is float32 physics; :func:`steady_state_pools` is plain numpy over
land cells. Carbon in gC m-2, fluxes in gC m-2 d-1, rates in d-1.

Pools (Williams et al. 2005; Bloom & Williams 2015, DALEC2): labile, foliage, roots, wood, litter,
soil organic matter (SOM). Autotrophic respiration is a fixed fraction ``f_auto`` of GPP; NPP is
allocated to labile, foliage, roots and wood by fixed fractions. Labile carbon is released to
foliage at ``0.05 GSI`` per day and foliage is lost at ``1/lifespan`` per day plus a
phenological leaf fall of up to 0.05 per day that sets in as the GSI drops from 0.5 to 0.2
(DALEC-GSI, Smallman et al. 2017, uses such GSI thresholds); half of the phenological leaf fall
is resorbed into the labile store, which is what lets deciduous canopies re-flush each spring
(DALEC-GSI builds that reserve with a seasonal labile allocation instead). Foliage and roots
feed litter; wood feeds SOM directly (as in
DALEC). Litter decomposes at ``k_litter f(T, W)``, a fraction ``f_humif`` of it to SOM and the
rest to the atmosphere; SOM respires at ``k_som f(T, W)``, with
f(T, W) = Q10^((T_soil - 10 C)/10) (0.1 + 0.9 theta_rel).

Every transfer is ``min(rate, 1) * pool`` computed from the pools at the start of the day and
added to its receiver exactly as subtracted from its donor, so the change of the pool sum equals
GPP - RA - RH = -NEE to round-off, and no pool can go negative.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba.extending import register_jitable

from celm.constants import (
    DECOMP_DRY,
    GSI_FALL_HI,
    GSI_FALL_LO,
    LABILE_RELEASE_MAX,
    LEAF_FALL_MAX,
    LEAF_RESORPTION,
)
from celm.mathfn import exp_bounded, f32, ramp


@register_jitable(inline="always")
def decomposition_scalar(tsoil_k, theta_rel, ln_q10):
    """Environmental modifier of litter and SOM turnover (1 at 10 C and field capacity), float32."""
    f_t = exp_bounded(ln_q10 * (tsoil_k - f32(283.15)) * f32(0.1))
    return f_t * (f32(DECOMP_DRY) + f32(1.0 - DECOMP_DRY) * theta_rel)


@register_jitable(inline="always")
def autotrophic_respiration(gpp, p):
    """RA (gC m-2 d-1): the fixed fraction ``f_auto`` of GPP. The kernel also applies it to the
    block's summed GPP instead of summing RA day by day (``celm.kernel._derived_sums``)."""
    return p.f_auto * gpp


@register_jitable(inline="always")
def carbon_step(clab, cleaf, croot, cwood, clit, csom, gpp, gsi, decomp, p):
    """Advance the six pools by one day.

    ``p`` is a :class:`celm.params.KernelParams`. Returns
    ``(clab, cleaf, croot, cwood, clit, csom, ra, rh, f_labrel, f_leaf)`` (``f_leaf`` is the
    foliage carbon going to litter, after resorption) with the pools at the
    end of the day and the fluxes over the day (the other transfers are ``k * pool`` with constant
    ``k`` or follow from RH, so they need not be returned).
    """
    ra = autotrophic_respiration(gpp, p)
    npp = gpp - ra
    f_labrel = clab * np.minimum(LABILE_RELEASE_MAX * gsi, 1.0)
    fall = LEAF_FALL_MAX * (1.0 - ramp(gsi, GSI_FALL_LO, GSI_FALL_HI))
    f_leaf_total = cleaf * np.minimum(p.k_leaf + fall, 1.0)
    # part of the phenological leaf fall is resorbed into the labile store
    f_resorb = cleaf * np.minimum(fall, 1.0) * LEAF_RESORPTION
    f_leaf = f_leaf_total - f_resorb
    f_root = croot * p.k_root
    f_wood = cwood * p.k_wood
    f_lit = clit * np.minimum(p.k_litter * decomp, 1.0)
    rh_som = csom * np.minimum(p.k_som * decomp, 1.0)
    to_som = p.f_humif * f_lit
    rh = (f_lit - to_som) + rh_som
    return (
        clab + p.alloc_labile * npp - f_labrel + f_resorb,
        cleaf + p.alloc_leaf * npp + f_labrel - f_leaf_total,
        croot + p.alloc_root * npp - f_root,
        cwood + p.alloc_wood * npp - f_wood,
        clit + f_leaf + f_root - f_lit,
        csom + to_som + f_wood - rh_som,
        ra,
        rh,
        f_labrel,
        f_leaf,
    )


class CarbonPools(NamedTuple):
    """The six pools (gC m-2), each an array over land cells."""

    labile: np.ndarray
    leaf: np.ndarray
    root: np.ndarray
    wood: np.ndarray
    litter: np.ndarray
    som: np.ndarray


def steady_state_pools(
    npp: np.ndarray,
    alloc: dict[str, float],
    rates: dict[str, np.ndarray],
    f_humif: float,
) -> CarbonPools:
    """Equilibrium pools of the linear donor-controlled system for given mean inputs and rates.

    Parameters
    ----------
    npp
        Cycle-mean NPP (gC m-2 d-1), shape (ncell,).
    alloc
        Allocation fractions ``labile, leaf, root, wood`` (sum 1).
    rates
        Cycle-mean effective turnover rates (d-1) ``labile`` (release to foliage), ``leaf``,
        ``root``, ``wood``, ``litter``, ``som``; arrays (ncell,) or scalars.
    f_humif
        Fraction of litter decomposition transferred to SOM.

    The system dC/dt = b NPP - K C has a lower-triangular transfer matrix, so the steady state
    follows by forward substitution (the same algebra as CLM's SASU and ORCHIDEE's analytic spin-
    up, Xia et al. 2012; Lu et al. 2020):
    C_lab = a_lab NPP / k_lab; C_leaf = (a_leaf + a_lab) NPP / k_leaf; C_root = a_root NPP / k_root;
    C_wood = a_wood NPP / k_wood; C_lit = (k_leaf C_leaf + k_root C_root) / k_lit;
    C_som = (f_humif k_lit C_lit + k_wood C_wood) / k_som.
    A rate of zero (e.g. no decomposition ever) gives a pool of zero where its input is zero and
    raises otherwise, since that pool has no finite equilibrium.
    """
    npp = np.maximum(np.asarray(npp, dtype=np.float64), 0.0)

    def solve(inflow: np.ndarray, rate: np.ndarray, name: str) -> np.ndarray:
        rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), inflow.shape)
        bad = (rate <= 0.0) & (inflow > 0.0)
        if np.any(bad):
            raise ValueError(
                f"steady_state_pools: pool '{name}' has input but zero turnover in "
                f"{int(bad.sum())} cell(s); no finite equilibrium"
            )
        return np.where(rate > 0.0, inflow / np.where(rate > 0.0, rate, 1.0), 0.0)

    labile = solve(alloc["labile"] * npp, rates["labile"], "labile")
    leaf = solve((alloc["leaf"] + alloc["labile"]) * npp, rates["leaf"], "leaf")
    root = solve(alloc["root"] * npp, rates["root"], "root")
    wood = solve(alloc["wood"] * npp, rates["wood"], "wood")
    litter_in = (alloc["leaf"] + alloc["labile"] + alloc["root"]) * npp
    litter = solve(litter_in, rates["litter"], "litter")
    som = solve(f_humif * litter_in + alloc["wood"] * npp, rates["som"], "som")
    return CarbonPools(labile, leaf, root, wood, litter, som)
