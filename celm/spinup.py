"""Semi-analytic spin-up: put the slow carbon pools at their equilibrium for the forcing cycle.

Contract: :func:`analytic_spinup` takes the state at the end of one pass through the forcing cycle
and the cycle means of the kernel's diagnostics (NDIAG, ncell), solves the linear pool system with
:func:`celm.carbon.steady_state_pools` and returns a new state in which wood, litter and SOM hold
their equilibrium values; everything else is left as the run ended.

Why only the slow pools: labile, foliage and roots reach their (seasonal) equilibrium within a few
years of normal running and are strongly seasonal, so replacing them by an annual mean would put
deciduous leaves on trees in December. Wood (decades), litter (years) and especially SOM
(decades to centuries, and >1000 years in cold soils) are what make a cold-start spin-up slow;
their inputs at equilibrium depend only on NPP and the allocation fractions, and their turnover
rates on the cycle-mean environmental scalar f(T, W) (exact when the pool is nearly constant
through the cycle, as slow pools are). This is the approach of CLM's SASU and ORCHIDEE's analytic
spin-up (Xia et al. 2012; Lu et al. 2020) for a donor-controlled model. A few forcing cycles of
normal running afterwards remove the remaining (covariance) drift; the spin-up flow's drift
criteria decide when to stop.
"""

from __future__ import annotations

import numpy as np

from celm.carbon import steady_state_pools
from celm.params import KernelParams
from celm.step import DIAG_VARS, STATE_VARS

_D = {name: i for i, name in enumerate(DIAG_VARS)}
_S = {name: i for i, name in enumerate(STATE_VARS)}


def cycle_rates(means: np.ndarray, p: KernelParams) -> dict[str, np.ndarray]:
    """Cycle-mean effective turnover rates (d-1) of the six pools."""

    def ratio(flux: str, pool: str, fallback: float) -> np.ndarray:
        c = means[_D[pool]]
        return np.where(c > 1e-9, means[_D[flux]] / np.maximum(c, 1e-9), fallback)

    decomp = means[_D["DECOMP"]]
    return {
        "labile": ratio("F_LABREL", "C_LABILE", 0.0),
        "leaf": ratio("F_LEAF", "C_LEAF", p.k_leaf),
        "root": np.full_like(decomp, p.k_root),
        "wood": np.full_like(decomp, p.k_wood),
        "litter": p.k_litter * decomp,
        "som": p.k_som * decomp,
    }


def analytic_spinup(state: np.ndarray, means: np.ndarray, p: KernelParams) -> np.ndarray:
    """State with C_WOOD, C_LITTER and C_SOM at the equilibrium of the cycle means."""
    npp = means[_D["GPP"]] - means[_D["RA"]]
    rates = cycle_rates(means, p)
    # labile equilibrium is not used; avoid a zero rate where no labile carbon is ever released
    rates["labile"] = np.where(rates["labile"] > 0, rates["labile"], 1.0)
    alloc = {
        "labile": p.alloc_labile,
        "leaf": p.alloc_leaf,
        "root": p.alloc_root,
        "wood": p.alloc_wood,
    }
    pools = steady_state_pools(npp, alloc, rates, p.f_humif)
    new = state.copy()
    new[_S["C_WOOD"]] = pools.wood
    new[_S["C_LITTER"]] = pools.litter
    new[_S["C_SOM"]] = pools.som
    return new
