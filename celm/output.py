"""Native output: period means of the kernel's diagnostics, written as CF NetCDF4 files.

Contract: :func:`derive_outputs` turns period means of :data:`celm.step.DIAG_VARS` (NDIAG, ...,
ncell) into the native output variables of :data:`OUTPUT_VARS` (adding NEE, NPP, EVAP, LAI,
C_TOTAL); :func:`write_period_file` writes ``monthly_<YYYY>.nc`` / ``annual_<YYYY>.nc`` and
:class:`DailyWriter` ``daily_<YYYY>.nc`` - float32 on the (lat, lon) grid, NaN (the _FillValue)
over ocean, time in 'days since <YYYY>-01-01' on the 'noleap' calendar with ``time_bnds``, plus
``landfrac`` and the scalar ``WOOD_ABOVE_FRAC``. Files are written under a temporary name in the
same directory and moved into place, so a crash never leaves a half-written file. See OUTPUTS.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from celm.constants import WOOD_ABOVE_FRAC
from celm.grid import LandGrid
from celm.params import KernelParams
from celm.step import DIAG_VARS

_ROW = {name: i for i, name in enumerate(DIAG_VARS)}

#: native output variables: name -> (units, long name)
OUTPUT_VARS: dict[str, tuple[str, str]] = {
    "GPP": ("gC m-2 d-1", "gross primary production"),
    "RA": ("gC m-2 d-1", "autotrophic respiration"),
    "RH": ("gC m-2 d-1", "heterotrophic respiration"),
    "NPP": ("gC m-2 d-1", "net primary production (GPP - RA)"),
    "NEE": ("gC m-2 d-1", "net ecosystem exchange, positive to the atmosphere (RA + RH - GPP)"),
    "QLE": ("W m-2", "latent heat flux, positive upward"),
    "QH": ("W m-2", "sensible heat flux, positive upward"),
    "QG": ("W m-2", "ground heat flux incl. snow-melt energy, positive into the ground"),
    "RNET": ("W m-2", "net radiation, positive downward (RNET = QLE + QH + QG)"),
    "TRANSP": ("mm d-1", "transpiration"),
    "ESOIL": ("mm d-1", "bare-soil evaporation including snow sublimation"),
    "EINT": ("mm d-1", "evaporation of rain intercepted by the canopy"),
    "EVAP": ("mm d-1", "total evapotranspiration (TRANSP + ESOIL + EINT)"),
    "RUNOFF": ("mm d-1", "total runoff (surface, drainage, snow capping)"),
    "PRECIP": ("mm d-1", "precipitation (rain + snow)"),
    "TSURF": ("K", "radiative surface temperature"),
    "TSOIL": ("K", "soil temperature"),
    "LAI": ("m2 m-2", "leaf area index"),
    "SWE": ("mm", "snow water equivalent"),
    "SOILW": ("mm", "soil water content of the whole column (kg m-2)"),
    "SOILW_TOP": ("mm", "soil water content of the top 0.1 m (kg m-2)"),
    "C_LABILE": ("gC m-2", "labile carbon"),
    "C_LEAF": ("gC m-2", "foliage carbon"),
    "C_ROOT": ("gC m-2", "fine-root carbon"),
    "C_WOOD": ("gC m-2", "wood carbon (above + below ground)"),
    "C_LITTER": ("gC m-2", "litter carbon"),
    "C_SOM": ("gC m-2", "soil organic matter carbon"),
    "C_TOTAL": ("gC m-2", "total ecosystem carbon (sum of the six pools)"),
    "FHARVEST": ("gC m-2 d-1", "carbon harvested from managed land (crop harvest, grazing)"),
    "FLUC": ("gC m-2 d-1", "land-use change emission: wood burnt on cleared land plus decay of "
             "wood products (the year's total spread evenly over its days)"),
    "NBP": ("gC m-2 d-1", "net biome production, positive into the land "
            "(-NEE - FHARVEST - FLUC)"),
    "C_PRODUCT": ("gC m-2", "carbon in wood products from land clearing (end of period)"),
    "MANAGED_FRAC": ("1", "managed (crop + pasture) fraction of the land"),
}
#: land-use outputs not derived from the kernel's diagnostics (zero without land use)
LANDUSE_OUTPUTS = ("FHARVEST", "FLUC", "C_PRODUCT", "MANAGED_FRAC")


def derive_outputs(
    means: np.ndarray, p: KernelParams, landuse: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Native output variables from period means of the diagnostics (NDIAG, ..., ncell) and,
    with land use, the :data:`LANDUSE_OUTPUTS` (same shape as one diagnostic)."""
    out: dict[str, np.ndarray] = {}
    for name in OUTPUT_VARS:
        if name in _ROW:
            out[name] = means[_ROW[name]]
    gpp, ra, rh = means[_ROW["GPP"]], means[_ROW["RA"]], means[_ROW["RH"]]
    out["NPP"] = gpp - ra
    out["NEE"] = ra + rh - gpp
    out["EVAP"] = means[_ROW["TRANSP"]] + means[_ROW["ESOIL"]] + means[_ROW["EINT"]]
    out["LAI"] = means[_ROW["C_LEAF"]] * p.sla
    pools = ("C_LABILE", "C_LEAF", "C_ROOT", "C_WOOD", "C_LITTER", "C_SOM")
    out["C_TOTAL"] = sum(means[_ROW[n]] for n in pools)
    for name in LANDUSE_OUTPUTS:
        out[name] = landuse[name] if landuse is not None else np.zeros_like(gpp)
    out["NBP"] = -out["NEE"] - out["FHARVEST"] - out["FLUC"]
    return out


@dataclass(frozen=True)
class RunInfo:
    """Global attributes recorded in every output file."""

    params_file: str
    params_kind: str
    ensemble_member: int | None
    forcing_year: int
    co2_ppm: float
    landuse_year: int | None = None


def _create(path: Path, grid: LandGrid, year: int, info: RunInfo, freq: str) -> netCDF4.Dataset:
    ds = netCDF4.Dataset(path, "w", format="NETCDF4")
    ds.Conventions = "CF-1.8"
    ds.title = f"CELM native {freq} output"
    ds.model = "celm"
    ds.source = "CELM - CalLMIP Embedded Land Model"
    ds.grid_hash = grid.grid_hash
    ds.simulated_year = int(year)
    ds.forcing_year = int(info.forcing_year)
    ds.co2_ppm = float(info.co2_ppm)
    ds.landuse_year = -1 if info.landuse_year is None else int(info.landuse_year)
    ds.params_file = info.params_file
    ds.params_kind = info.params_kind
    ds.ensemble_member = -1 if info.ensemble_member is None else int(info.ensemble_member)
    ds.createDimension("time", None)
    ds.createDimension("bnds", 2)
    ds.createDimension("lat", grid.lat.size)
    ds.createDimension("lon", grid.lon.size)
    t = ds.createVariable("time", "f8", ("time",))
    t.units = f"days since {year:04d}-01-01 00:00:00"
    t.calendar = "noleap"
    t.standard_name = "time"
    t.axis = "T"
    t.bounds = "time_bnds"
    ds.createVariable("time_bnds", "f8", ("time", "bnds"))
    for name, values, bnds, std, units, axis in (
        ("lat", grid.lat, grid.lat_bnds, "latitude", "degrees_north", "Y"),
        ("lon", grid.lon, grid.lon_bnds, "longitude", "degrees_east", "X"),
    ):
        v = ds.createVariable(name, "f8", (name,))
        v[:] = values
        v.standard_name = std
        v.units = units
        v.axis = axis
        v.bounds = f"{name}_bnds"
        ds.createVariable(f"{name}_bnds", "f8", (name, "bnds"))[:] = bnds
    lf = ds.createVariable("landfrac", "f4", ("lat", "lon"))
    lf[:] = grid.landfrac
    lf.units = "1"
    lf.long_name = "land fraction of the grid cell (fluxes are per m2 of land)"
    wf = ds.createVariable("WOOD_ABOVE_FRAC", "f4", ())
    wf[...] = WOOD_ABOVE_FRAC
    wf.units = "1"
    wf.long_name = "aboveground share of C_WOOD: cLiveBioAbove = C_LEAF + WOOD_ABOVE_FRAC * C_WOOD"
    for name, (units, long_name) in OUTPUT_VARS.items():
        v = ds.createVariable(
            name,
            "f4",
            ("time", "lat", "lon"),
            zlib=True,
            complevel=1,
            shuffle=True,
            fill_value=np.float32(np.nan),
            chunksizes=(1, grid.lat.size, grid.lon.size),
        )
        v.units = units
        v.long_name = long_name
    return ds


def write_period_file(
    path: Path,
    outputs: dict[str, np.ndarray],
    bounds: np.ndarray,
    grid: LandGrid,
    year: int,
    info: RunInfo,
    freq: str,
) -> Path:
    """Write (ntime, ncell) outputs with time ``bounds`` (ntime, 2) in days since Jan 1."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with _create(tmp, grid, year, info, freq) as ds:
        ds.variables["time_bnds"][:] = bounds
        ds.variables["time"][:] = bounds.mean(axis=1)
        for name in OUTPUT_VARS:
            ds.variables[name][:] = grid.to_grid(outputs[name])
    os.replace(tmp, path)
    return path


class DailyWriter:
    """Append daily outputs to ``daily_<YYYY>.nc`` as they are computed, then move into place."""

    def __init__(self, path: Path, grid: LandGrid, year: int, info: RunInfo) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._grid = grid
        self._ds = _create(self._tmp, grid, year, info, "daily")
        self._n = 0

    def append(self, outputs: dict[str, np.ndarray]) -> None:
        """Append (ndays, ncell) outputs."""
        nd = next(iter(outputs.values())).shape[0]
        sl = slice(self._n, self._n + nd)
        days = np.arange(self._n, self._n + nd, dtype=np.float64)
        self._ds.variables["time_bnds"][sl] = np.stack([days, days + 1.0], axis=1)
        self._ds.variables["time"][sl] = days + 0.5
        for name in OUTPUT_VARS:
            self._ds.variables[name][sl] = self._grid.to_grid(outputs[name])
        self._n += nd

    def close(self) -> Path:
        self._ds.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file (on error)."""
        if self._ds.isopen():
            self._ds.close()
        self._tmp.unlink(missing_ok=True)
