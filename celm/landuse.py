"""Land use in CELM: natural vegetation and managed land (crop + pasture) as two tiles per cell.

Contract:

* Each land cell has a natural tile and a managed tile, each a full prognostic state
  (:data:`celm.step.STATE_VARS`, per m2 of the tile), and the managed fraction ``f`` of its land
  (LUH2 crop + pasture, read per year from ``landuse_<YYYY>.nc``; rangeland and urban land stay
  in the natural tile). Both tiles see the same weather; cell values are area-weighted means,
  ``(1 - f) natural + f managed``.
* The managed tile runs the same kernel with :func:`managed_params`: no wood (crops and pasture
  are herbaceous; its wood allocation goes nowhere else), and allocation fractions scaled so
  that a share :data:`HARVEST_FRACTION` of its NPP is never allocated: that carbon is
  harvested (crop harvest, grazing) and leaves the land, continuously, as ``FHARVEST``.
  Because the kernel allocates exactly ``sum(alloc) x NPP``, the managed tile's pools change
  by GPP - RA - RH - HARVEST to round-off, and the analytic spin-up of :mod:`celm.spinup`
  solves the managed tile unchanged (it reads the allocation from the tile's parameters).
* At the start of each year :func:`change_land_use` moves land between the tiles from last
  year's ``f0`` to this year's ``f1`` (net change; no gross shifting cultivation):

  - expansion (``f1 > f0``): the cleared natural land loses its wood - a share
    :data:`WOOD_TO_ATMOSPHERE` to the atmosphere at once (burning, decay of slash in the
    clearing year) and the rest to wood-product pools with e-folding times of
    :data:`PRODUCT_TURNOVER_YR` (10 and 100 years) - its foliage and fine roots become litter,
    its labile store is kept (the sown crop's reserve), and litter, soil carbon, water, snow
    and soil temperature move with the land into the managed tile (area-weighted mixing);
  - abandonment (``f1 < f0``): managed land returns to the natural tile with its pools and
    water (its regrowth is then a sink); nothing is emitted.

  Carbon is conserved exactly: land carbon before = land carbon after + products added +
  emitted. :func:`decay_products` empties the product pools by ``1 - exp(-1/tau)`` per year.
  The land-use flux of a year, ``FLUC``, is the immediate emission plus the products' decay,
  so per cell and year d(land carbon + products) = -NEE - FHARVEST - FLUC (all per m2 of land).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from celm.errors import CelmInputError, open_input
from celm.grid import LandGrid
from celm.params import KernelParams
from celm.step import STATE_VARS

#: LUH2 states that make up CELM's managed tile (crop + managed pasture)
MANAGED_STATES = ("c3ann", "c4ann", "c3per", "c4per", "c3nfx", "pastr")
#: share of the managed tile's NPP harvested (between a crop harvest index of ~0.45 and the
#: ~0.25 of NPP grazed on pasture; Haberl et al. 2007 put global harvest + grazing at ~0.3)
HARVEST_FRACTION = 0.3
#: fate of wood on cleared land: to the atmosphere at once, and to the 10- and 100-year
#: product pools (Houghton et al. 2012 bookkeeping, simplified)
WOOD_TO_ATMOSPHERE = 0.5
WOOD_TO_PRODUCTS = (0.3, 0.2)
PRODUCT_TURNOVER_YR = (10.0, 100.0)
PRODUCT_NAMES = ("C_PRODUCT_10", "C_PRODUCT_100")
MANAGED_SUFFIX = "_MANAGED"
FRACTION_NAME = "MANAGED_FRACTION"

_S = {name: k for k, name in enumerate(STATE_VARS)}
_POOLS = [_S[n] for n in ("C_LABILE", "C_LEAF", "C_ROOT", "C_WOOD", "C_LITTER", "C_SOM")]
#: state rows mixed by area when land changes tile (carbon, water, snow, heat, phenology)
_MIXED = list(range(len(STATE_VARS)))


def managed_params(p: KernelParams) -> KernelParams:
    """The managed tile's kernel parameters: no wood, and labile/leaf/root allocation scaled
    to sum to ``1 - HARVEST_FRACTION`` (the rest of NPP is harvested)."""
    kept = p.alloc_labile + p.alloc_leaf + p.alloc_root
    scale = (1.0 - HARVEST_FRACTION) / kept
    return p._replace(
        alloc_labile=p.alloc_labile * scale,
        alloc_leaf=p.alloc_leaf * scale,
        alloc_root=p.alloc_root * scale,
        alloc_wood=0.0,
    )


def harvest_share(p: KernelParams) -> float:
    """Share of NPP a tile with parameters ``p`` does not allocate (0 for natural vegetation)."""
    return max(1.0 - (p.alloc_labile + p.alloc_leaf + p.alloc_root + p.alloc_wood), 0.0)


def read_managed_fraction(path: Path, grid: LandGrid) -> np.ndarray:
    """Managed fraction (crop + pasture) of each land cell from a ``landuse_<YYYY>.nc``.

    Land cells without land-use data (NaN: outside the land-use product's land) are natural.
    """
    path = Path(path)
    with open_input(path, "land-use file") as ds:
        for axis, ours in (("lat", grid.lat), ("lon", grid.lon)):
            theirs = np.asarray(ds.variables[axis][:], dtype=np.float64) \
                if axis in ds.variables else None
            if theirs is None or theirs.shape != ours.shape or not np.allclose(theirs, ours,
                                                                               atol=1e-6):
                raise CelmInputError(path, axis, "grid differs from the forcing grid")
        total = np.zeros(grid.lat.size * grid.lon.size)
        for name in MANAGED_STATES:
            if name not in ds.variables:
                raise CelmInputError(path, name, "land-use state missing")
            var = ds.variables[name]
            var.set_auto_mask(False)
            values = np.asarray(var[:], dtype=np.float64).ravel()
            bad = np.isfinite(values) & ((values < -1e-6) | (values > 1.0 + 1e-6))
            if bad.any():
                raise CelmInputError(path, name, f"fraction {values[bad][0]:.4g} outside [0, 1]")
            total += np.nan_to_num(values, nan=0.0)
    return np.clip(total[grid.land_index], 0.0, 1.0)


@dataclass
class LandUseFluxes:
    """What one land-use change emitted and stored (gC per m2 of land, per cell)."""

    to_atmosphere: np.ndarray
    to_products: np.ndarray  # (2, ncell): 10- and 100-year pools


def _mix(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray) -> np.ndarray:
    """Area-weighted mean of two tile states (rows x cells), weights per cell."""
    total = wa + wb
    safe = np.where(total > 0.0, total, 1.0)
    return np.where(total > 0.0, (a * wa + b * wb) / safe, a)


def change_land_use(
    natural: np.ndarray, managed: np.ndarray, f0: np.ndarray, f1: np.ndarray,
    products: np.ndarray,
) -> LandUseFluxes:
    """Move land between the tiles from managed fraction ``f0`` to ``f1`` (in place).

    ``natural``/``managed``: tile states (NSTATE, ncell) per m2 of tile; ``products``
    (2, ncell) gC per m2 of land. See the module docstring for what happens to the carbon.
    """
    f0 = np.clip(np.asarray(f0, dtype=np.float64), 0.0, 1.0)
    f1 = np.clip(np.asarray(f1, dtype=np.float64), 0.0, 1.0)
    cleared = np.maximum(f1 - f0, 0.0)  # natural -> managed, fraction of land
    abandoned = np.maximum(f0 - f1, 0.0)  # managed -> natural
    # the cleared land as it arrives in the managed tile
    arriving = natural.copy()
    wood = arriving[_S["C_WOOD"]].copy()
    arriving[_S["C_LITTER"]] += arriving[_S["C_LEAF"]] + arriving[_S["C_ROOT"]]
    arriving[_S["C_LEAF"]] = 0.0
    arriving[_S["C_ROOT"]] = 0.0
    arriving[_S["C_WOOD"]] = 0.0
    to_atm = cleared * wood * WOOD_TO_ATMOSPHERE
    to_products = np.stack([cleared * wood * share for share in WOOD_TO_PRODUCTS])
    grow = cleared > 0.0
    shrink = abandoned > 0.0
    new_managed = _mix(managed, f0 * 1.0, arriving, cleared)
    new_natural = _mix(natural, 1.0 - f0, managed, abandoned)
    managed[:, grow] = new_managed[:, grow]
    natural[:, shrink] = new_natural[:, shrink]
    products += to_products
    return LandUseFluxes(to_atm, to_products)


def decay_products(products: np.ndarray, years: float = 1.0) -> np.ndarray:
    """Decay the product pools (in place) over ``years``; returns the carbon released (gC m-2)."""
    released = np.zeros(products.shape[1])
    for k, tau in enumerate(PRODUCT_TURNOVER_YR):
        loss = products[k] * -np.expm1(-years / tau)
        products[k] -= loss
        released += loss
    return released


def land_carbon(natural: np.ndarray, managed: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Carbon of the six pools per m2 of land (area-weighted over the tiles)."""
    return (1.0 - f) * natural[_POOLS].sum(axis=0) + f * managed[_POOLS].sum(axis=0)
