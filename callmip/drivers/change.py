"""How land use and N deposition reach a model: the prepared per-year files drivers read.

The contract (see ``callmip/drivers/README.md``, "Land use and N deposition"):

* The orchestrator prepares, on the campaign's model grid (the grid of the model-ready
  ``met_<YYYY>.nc`` files: regular, latitudes south to north, longitudes from -180), one file per
  year in two directories:

  - ``landuse_<YYYY>.nc`` in :attr:`ModelRun.landuse_dir`: the 12 LUH2 states
    (:data:`LUH2_STATES`) as fractions of the cell's land (they sum to 1 on every cell with
    land-use data, NaN elsewhere), plus :data:`TRANSITIONS`: the net transitions from year YYYY
    to YYYY+1 between the broad classes of :data:`CLASSES` (fraction of the cell's land moving
    from class a to class b, named ``<a>to<b>``, the one-letter convention of LUH2-GCB extracts
    and CABLE's ``luc.nml`` inputs). Net transitions only: a loss is spread over the classes
    that gain in proportion to their gains (no gross shifting cultivation), so the states of
    YYYY+1 are those of YYYY plus the transitions in minus out, exactly.
  - ``ndep_<YYYY>.nc`` in :attr:`ModelRun.ndep_dir`: ``ndep``, total (NHx + NOy) N deposition in
    kg N ha-1 yr-1 (the protocol's unit), annual total of that year.

* Each simulated year's :class:`~callmip.drivers.base.YearSpec` names the prepared year to apply:
  ``landuse_year`` and ``ndep_year``. When a simulation holds a driver of change, its year stays
  at the spin-up level year (the year before the transient starts), exactly as ``forcing_year``
  recycles the climate. ``None`` means the campaign gave the run no such input.

* A driver declares in ``capabilities.drivers_of_change`` which of
  :data:`callmip.simulations.DRIVERS_OF_CHANGE` its model responds to; it ignores the others
  (and the orchestrator then lets simulations that differ only in those share a transient).

The readers below are what a driver uses to turn these files into its model's own inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import netCDF4
import numpy as np

#: LUH2 state names (LUH2 v2h ``states.nc``), each a fraction of the cell's land here
LUH2_STATES: tuple[str, ...] = (
    "primf", "primn", "secdf", "secdn", "urban", "c3ann", "c4ann", "c3per", "c4per", "c3nfx",
    "pastr", "range",
)  # fmt: skip
#: broad classes of the transitions: letter -> LUH2 states
CLASSES: dict[str, tuple[str, ...]] = {
    "p": ("primf", "primn"),  # primary land
    "s": ("secdf", "secdn"),  # secondary land
    "c": ("c3ann", "c4ann", "c3per", "c4per", "c3nfx"),  # cropland
    "q": ("pastr",),  # managed pasture
    "r": ("range",),  # rangeland
    "u": ("urban",),  # urban
}
#: net transitions between classes written per year (primary land is never gained)
TRANSITIONS: tuple[str, ...] = tuple(
    f"{a}to{b}" for a in CLASSES for b in CLASSES if b not in (a, "p")
)
LANDUSE_UNITS = "1"
NDEP_VARIABLE = "ndep"
NDEP_UNITS = "kg N ha-1 yr-1"


class ChangeInputError(ValueError):
    """A prepared land-use or N-deposition file is missing or unusable: names file and problem."""


def landuse_path(directory: Path, year: int) -> Path:
    return Path(directory) / f"landuse_{year:04d}.nc"


def ndep_path(directory: Path, year: int) -> Path:
    return Path(directory) / f"ndep_{year:04d}.nc"


def class_fractions(states: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The broad classes of :data:`CLASSES` from LUH2 states (same shapes)."""
    return {c: sum(states[s] for s in members) for c, members in CLASSES.items()}


def net_transitions(
    before: dict[str, np.ndarray], after: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Net transitions between broad classes that turn ``before`` into ``after`` (class
    fractions, any shape): each class's loss goes to the gaining classes in proportion to their
    gains. Exact when both sum to the same total (as land fractions do)."""
    delta = {c: after[c] - before[c] for c in CLASSES}
    gain = {c: np.maximum(d, 0.0) for c, d in delta.items()}
    total_gain = sum(gain.values())
    safe = np.where(total_gain > 0.0, total_gain, 1.0)
    out = {}
    for name in TRANSITIONS:
        a, b = name[0], name[-1]
        out[name] = np.where(total_gain > 0.0, np.maximum(-delta[a], 0.0) * gain[b] / safe, 0.0)
    return out


def _read(path: Path, names: Iterable[str]) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ChangeInputError(f"{path}: missing prepared input file")
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise ChangeInputError(f"{path}: not a readable NetCDF file ({exc})") from exc
    out = {}
    with ds:
        for name in names:
            if name not in ds.variables:
                raise ChangeInputError(f"{path}: variable {name!r} is missing")
            var = ds.variables[name]
            var.set_auto_mask(False)
            out[name] = np.asarray(var[:], dtype=np.float64)
        for axis in ("lat", "lon"):
            out[axis] = np.asarray(ds.variables[axis][:], dtype=np.float64)
    return out


def read_landuse(directory: Path, year: int) -> dict[str, np.ndarray]:
    """States and transitions of ``year`` on the model grid (lat, lon), plus ``lat``/``lon``."""
    return _read(landuse_path(directory, year), (*LUH2_STATES, *TRANSITIONS))


def read_ndep(directory: Path, year: int) -> np.ndarray:
    """N deposition of ``year`` (kg N ha-1 yr-1) on the model grid (lat, lon), NaN off land."""
    return _read(ndep_path(directory, year), (NDEP_VARIABLE,))[NDEP_VARIABLE]


def ndep_by_simulated_year(run) -> dict[int, np.ndarray]:
    """N deposition for each simulated year of a :class:`~callmip.drivers.base.ModelRun`,
    following its years' ``ndep_year`` (what a driver writes into its model's N-deposition
    input). Empty when the run has no N-deposition input."""
    if run.ndep_dir is None or any(y.ndep_year is None for y in run.years):
        return {}
    cache: dict[int, np.ndarray] = {}
    out = {}
    for spec in run.years:
        if spec.ndep_year not in cache:
            cache[spec.ndep_year] = read_ndep(run.ndep_dir, spec.ndep_year)
        out[spec.year] = cache[spec.ndep_year]
    return out
