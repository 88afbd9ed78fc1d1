"""Spin-up drift diagnostics and the published equilibrium criteria.

After each forcing cycle the model's outputs (mapped to CMIP names by its driver: cTotal, cSoil,
cVeg in kg m-2, gpp in kgC m-2 s-1, mrso in kg m-2) are reduced to global totals and per-cell
values averaged over the cycle. Comparing cycle k with cycle k-1 gives drifts per year (or,
with ``spinup.judge: phase``, a cycle's first year with the same year one cycle later), tested
against (all thresholds configurable in the campaign):

* CTSM SpinupStability: |drift| of global total ecosystem, soil and vegetation C and of GPP below
  0.02 PgC/yr; of global mean total water storage below 0.001 m/yr; and less than 3 % of the land
  area with |drift of total ecosystem C| > 1 gC m-2 yr-1.
* Per-cell trend (ORCHIDEE TRENDY practice): fraction of land cells with |dC/dt| < 1 gC m-2 yr-1
  (reported; gates only through the CTSM area test).
* C4MIP (Jones et al. 2016): |drift of global land C| below 10 PgC per century.

The first cycle has no predecessor, so nothing passes there: equilibrium is a statement about
change, and we never declare it from a single cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from callmip.config import SpinupCriteria
from callmip.constants import SECONDS_PER_YEAR
from regrid import Grid

KG_TO_PG = 1e-12
#: what a driver's mapping gives the diagnostics (cTotal only where the model writes a total)
SPINUP_VARIABLES = ("cTotal", "cVeg", "cLitter", "cSoil", "gpp", "mrso")


def with_total_carbon(mapped: xr.Dataset) -> tuple[xr.Dataset, str]:
    """``mapped`` with ``cTotal`` (kg m-2) and how it was obtained.

    A model that writes total ecosystem carbon keeps its own; otherwise it is vegetation +
    litter + soil, which needs the driver to map cSoil *without* litter (CMIP's cSoil; e.g.
    CABLE's TotSoilCarb holds litter too, so its driver maps cSoil = TotSoilCarb -
    TotLittCarb) and litter as cLitter.
    """
    if "cTotal" in mapped:
        return mapped, "written by the model"
    missing = [v for v in ("cVeg", "cSoil") if v not in mapped]
    if missing:
        raise ValueError(f"total ecosystem carbon cannot be derived: the driver maps no "
                         f"{' or '.join(missing)}")
    if "cLitter" in mapped:
        total = mapped["cVeg"] + mapped["cLitter"] + mapped["cSoil"]
        how = "cVeg + cLitter + cSoil"
    else:
        total = mapped["cVeg"] + mapped["cSoil"]
        how = "cVeg + cSoil (the driver maps no litter pool)"
    return mapped.assign(cTotal=total.astype("float32")), how


@dataclass(frozen=True)
class CycleState:
    """Cycle-mean global totals and per-cell total carbon of one spin-up cycle."""

    cycle: int
    n_years: int
    totals: dict[str, float]  # cTotal/cSoil/cVeg PgC, gpp PgC/yr, mrso m (global land mean)
    cell_ctotal: np.ndarray  # gC m-2 per grid cell (NaN over ocean)
    land_area: np.ndarray  # m2 of land per grid cell (area x land fraction)


def cell_area(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Area (m2) of the lat-lon cells with these centres (bounds derived by :mod:`regrid`)."""
    return Grid.from_centres(lat, lon).cell_area()


def cycle_state(cycle: int, annual: xr.Dataset, landfrac: xr.DataArray) -> CycleState:
    """Reduce a cycle's annual outputs (CMIP names, see module doc) to a :class:`CycleState`."""
    area = cell_area(annual["lat"].values, annual["lon"].values) * np.nan_to_num(landfrac.values)
    mean = annual.mean("time")
    totals: dict[str, float] = {}
    for pool in ("cTotal", "cSoil", "cVeg"):
        totals[pool] = float(np.nansum(mean[pool].values * area) * KG_TO_PG)
    totals["gpp"] = float(np.nansum(mean["gpp"].values * area) * SECONDS_PER_YEAR * KG_TO_PG)
    land = float(np.sum(area))
    totals["mrso"] = float(np.nansum(mean["mrso"].values * area) / land / 1000.0)  # m
    return CycleState(cycle, annual.sizes["time"], totals, mean["cTotal"].values * 1000.0, area)


UNITS = {"cTotal": "PgC", "cSoil": "PgC", "cVeg": "PgC", "gpp": "PgC/yr", "mrso": "m"}


def evaluate(
    current: CycleState, previous: CycleState | None, crit: SpinupCriteria,
    years_apart: int | None = None,
) -> pd.DataFrame:
    """One row per (variable, criterion) for this cycle: value, drift, threshold, passed.

    Drifts are the change from ``previous`` divided by ``years_apart``: by default the
    cycle's length (consecutive cycle means are one cycle apart); the phase judge compares
    single years one cycle apart, so it gives the cycle's length explicitly."""
    rows = []

    def add(variable: str, criterion: str, drift: float, threshold: float | None,
            units: str, gates: bool = True) -> None:
        passed = bool(np.isfinite(drift) and threshold is not None and abs(drift) < threshold)
        rows.append({
            "cycle": current.cycle,
            "variable": variable,
            "global_total": current.totals.get(variable, np.nan),
            "units": UNITS.get(variable, units),
            "criterion": criterion,
            "drift_per_year": drift,
            "drift_units": units,
            "threshold": threshold,
            "passed": passed,
            "gates": gates,
        })

    ny = current.n_years if years_apart is None else years_apart

    def drift_of(var: str) -> float:
        if previous is None:
            return np.nan
        return (current.totals[var] - previous.totals[var]) / ny

    if crit.ctsm_global_c_pgc_per_yr is not None:
        for var in ("cTotal", "cSoil", "cVeg", "gpp"):
            unit = "PgC/yr" if var != "gpp" else "PgC/yr/yr"
            add(var, "CTSM global drift", drift_of(var), crit.ctsm_global_c_pgc_per_yr, unit)
    if crit.ctsm_water_m_per_yr is not None:
        add("mrso", "CTSM global drift", drift_of("mrso"), crit.ctsm_water_m_per_yr, "m/yr")
    if previous is not None:
        cell_drift = (current.cell_ctotal - previous.cell_ctotal) / ny
        valid = np.isfinite(cell_drift) & (current.land_area > 0)
        bad = valid & (np.abs(cell_drift) > crit.cell_trend_gc_m2_yr)
        frac_bad = float(current.land_area[bad].sum() / current.land_area[valid].sum())
        frac_cells_ok = float(1.0 - bad.sum() / max(valid.sum(), 1))
    else:
        frac_bad, frac_cells_ok = np.nan, np.nan
    if crit.ctsm_area_fraction is not None:
        add("cTotal", f"CTSM area with |dC/dt|>{crit.cell_trend_gc_m2_yr:g} gC/m2/yr",
            frac_bad, crit.ctsm_area_fraction, "fraction of land area")
    rows.append({
        "cycle": current.cycle, "variable": "cTotal", "global_total": np.nan, "units": "",
        "criterion": f"per-cell trend: cells with |dC/dt|<{crit.cell_trend_gc_m2_yr:g} gC/m2/yr",
        "drift_per_year": frac_cells_ok, "drift_units": "fraction of cells", "threshold": np.nan,
        "passed": bool(np.isfinite(frac_cells_ok)), "gates": False,
    })
    if crit.c4mip_pgc_per_century is not None:
        add("cTotal", "C4MIP drift per century", drift_of("cTotal") * 100.0,
            crit.c4mip_pgc_per_century, "PgC/century")
    return pd.DataFrame(rows)


def cycle_passes(table: pd.DataFrame) -> bool:
    """A cycle passes when every gating criterion passes."""
    gating = table[table["gates"]]
    return bool(len(gating)) and bool(gating["passed"].all())


def should_stop(history: list[bool], consecutive: int) -> bool:
    """Stop rule: the last ``consecutive`` cycles all passed."""
    return len(history) >= consecutive and all(history[-consecutive:])


def failed_criteria(table: pd.DataFrame) -> list[str]:
    """Human-readable list of the gating criteria a cycle failed (for the max-cycle error)."""
    bad = table[table["gates"] & ~table["passed"]]
    return [
        f"{r.variable} {r.criterion}: drift {r.drift_per_year:.4g} {r.drift_units} "
        f"(threshold {r.threshold:g})"
        for r in bad.itertuples()
    ]
