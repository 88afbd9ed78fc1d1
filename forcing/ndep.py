"""Nitrogen deposition: reader and synthetic generator in the ISIMIP3 N-deposition layout, and
the pre-industrial constant used for spin-up.

Contract:

* Layout (ISIMIP3a/3b N deposition, Tian et al. 2018 / Yang and Tian 2022, as read by LPJmL and
  other models): two files per period, ``ndep-nhx_<scenario>_monthly_<y0>_<y1>.nc`` (reduced N)
  and ``ndep-noy_...`` (oxidised N), scenario ``histsoc`` or ``ssp126soc``/``ssp370soc``/
  ``ssp585soc``; variables ``nhx``/``noy`` (time, lat, lon) in ``gN m-2 month-1``, time in
  ``months since 1850-1-1 00:00:00``, 0.5 degree, latitude north to south, fill 1e20.
* :func:`read_ndep_year` returns the annual total (NHx + NOy) in kg N ha-1 yr-1 (south to north,
  the unit of the CalLMIP protocol), checked: units, no NaN, no negative deposition.
* :data:`PREINDUSTRIAL_NDEP_KG_N_HA_YR` = 0.79 is the CalLMIP protocol's spin-up value (1850);
  :func:`preindustrial_ndep` makes the constant field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import netCDF4
import numpy as np

from callmip.constants import PREINDUSTRIAL_NDEP_KG_N_HA_YR
from forcing.errors import ForcingError
from forcing.fileio import atomic_path
from forcing.grids import lat_centres, lon_centres

if TYPE_CHECKING:  # xarray (and pandas) cost seconds to import; only readers need them
    import xarray as xr

NDEP_UNITS = "gN m-2 month-1"
_ACCEPTED_UNITS = {"gn m-2 month-1", "g m-2 month-1", "g n m-2 month-1", "g/m2/month"}
G_M2_TO_KG_HA = 10.0
NDEP_SPECIES = ("nhx", "noy")
NDEP_SCENARIOS = ("histsoc", "ssp126soc", "ssp370soc", "ssp585soc")
NDEP_FILL = np.float32(1e20)
_NHX_SHARE = 0.55
# (lat, lon, peak kg N ha-1 yr-1, radius deg): emission hot spots (agriculture, industry)
_HOTSPOTS = (
    (50.0, 10.0, 18.0, 10.0),  # Europe
    (33.0, 115.0, 30.0, 10.0),  # East China
    (25.0, 80.0, 20.0, 9.0),  # Indo-Gangetic plain
    (40.0, -85.0, 14.0, 10.0),  # eastern United States
    (-22.0, -47.0, 8.0, 8.0),  # south-east Brazil
    (7.0, 5.0, 6.0, 8.0),  # West Africa
)


def ndep_filename(species: str, scenario: str, y0: int, y1: int) -> str:
    if species not in NDEP_SPECIES or scenario not in NDEP_SCENARIOS:
        raise ValueError(f"unknown N-deposition species/scenario {species!r}/{scenario!r}")
    return f"ndep-{species}_{scenario}_monthly_{y0}_{y1}.nc"


def preindustrial_ndep(lat: np.ndarray, lon: np.ndarray) -> xr.DataArray:
    """Constant spin-up field of 0.79 kg N ha-1 yr-1 on the given grid (lat, lon)."""
    data = np.full((lat.size, lon.size), PREINDUSTRIAL_NDEP_KG_N_HA_YR, dtype=np.float32)
    return _annual_da(data, lat, lon, "pre-industrial (1850) constant, CalLMIP protocol")


def _annual_da(data: np.ndarray, lat: np.ndarray, lon: np.ndarray, comment: str) -> xr.DataArray:
    import xarray as xr

    return xr.DataArray(
        data,
        dims=("lat", "lon"),
        coords={"lat": lat, "lon": lon},
        name="ndep",
        attrs={
            "long_name": "total (NHx + NOy) nitrogen deposition",
            "units": "kg N ha-1 yr-1",
            "comment": comment,
        },
    )


def _scenario_factor(scenario: str, year: float) -> float:
    """Anthropogenic deposition relative to its 1990 level."""
    hist = 0.08 + 0.92 / (1.0 + np.exp(-(year - 1955.0) / 14.0))
    if scenario == "histsoc" or year <= 2014:
        return float(hist)
    x = (year - 2014.0) / 86.0
    base = 0.08 + 0.92 / (1.0 + np.exp(-(2014.0 - 1955.0) / 14.0))
    change = {"ssp126soc": -0.55, "ssp370soc": 0.35, "ssp585soc": -0.1}[scenario]
    return float(base * (1.0 + change * x))


def write_ndep(
    out_dir: Path,
    years: Iterable[int],
    scenario: str = "histsoc",
    res_deg: float = 0.5,
    seed: int = 0,
) -> list[Path]:
    """Write synthetic ``ndep-nhx``/``ndep-noy`` monthly files covering ``years`` (contiguous).

    Deposition is a 0.6 kg N ha-1 yr-1 background plus emission hot spots scaled by a
    historical rise (logistic, centred 1955) and an SSP-dependent change after 2014, with a
    mild seasonal cycle and multiplicative noise; split 55% NHx, 45% NOy.
    """
    years = sorted(set(int(y) for y in years))
    if years != list(range(years[0], years[-1] + 1)):
        raise ValueError("N-deposition files cover contiguous years")
    if scenario not in NDEP_SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {NDEP_SCENARIOS}")
    lat = lat_centres(res_deg, descending=True)
    lon = lon_centres(res_deg)
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    hot = np.zeros(lat2.shape)
    for la, lo, peak, r in _HOTSPOTS:
        dlon = (lon2 - lo + 180.0) % 360.0 - 180.0
        hot += peak * np.exp(-(((lat2 - la) / r) ** 2) - (dlon / (1.5 * r)) ** 2)
    rng = np.random.default_rng([seed, years[0], 1])
    months = np.arange(12)
    out = []
    y0, y1 = years[0], years[-1]
    for species, share in (("nhx", _NHX_SHARE), ("noy", 1.0 - _NHX_SHARE)):
        final = Path(out_dir) / ndep_filename(species, scenario, y0, y1)
        with atomic_path(final) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4_CLASSIC") as ds:
            ds.createDimension("time", None)
            ds.createDimension("lat", lat.size)
            ds.createDimension("lon", lon.size)
            t = ds.createVariable("time", "f8", ("time",))
            t.standard_name, t.units, t.calendar = (
                "time",
                "months since 1850-1-1 00:00:00",
                "360_day",
            )
            ds.createVariable("lat", "f8", ("lat",))[:] = lat
            ds.createVariable("lon", "f8", ("lon",))[:] = lon
            ds["lat"].units, ds["lon"].units = "degrees_north", "degrees_east"
            var = ds.createVariable(
                species, "f4", ("time", "lat", "lon"), fill_value=NDEP_FILL, zlib=True, complevel=1
            )
            var.long_name = {
                "nhx": "reduced nitrogen deposition",
                "noy": "oxidized nitrogen deposition",
            }[species]
            var.units = NDEP_UNITS
            ds.comment = "SYNTHETIC DATA in the ISIMIP3 N-deposition layout"
            for i, year in enumerate(years):
                annual = 0.6 + hot * _scenario_factor(scenario, year)  # kg N ha-1 yr-1
                season = 1.0 + 0.25 * np.cos(2.0 * np.pi * (months - 4.0) / 12.0)
                noise = rng.lognormal(0.0, 0.1, (12, *lat2.shape))
                monthly = share * annual[None] * season[:, None, None] * noise / 12.0
                k = i * 12
                t[k : k + 12] = (year - 1850) * 12 + months
                var[k : k + 12] = (monthly / G_M2_TO_KG_HA).astype(np.float32)
        out.append(final)
    return out


def ndep_paths(directory: Path, scenario: str, year: int) -> dict[str, Path]:
    """Find the nhx and noy files of ``scenario`` whose period covers ``year``."""
    found: dict[str, Path] = {}
    for species in NDEP_SPECIES:
        pattern = re.compile(rf"ndep-{species}_{scenario}_monthly_(\d{{4}})_(\d{{4}})\.nc$")
        for path in sorted(Path(directory).glob(f"ndep-{species}_{scenario}_monthly_*.nc")):
            m = pattern.search(path.name)
            if m and int(m.group(1)) <= year <= int(m.group(2)):
                found[species] = path
        if species not in found:
            raise ForcingError(
                Path(directory) / f"ndep-{species}_{scenario}_monthly_*.nc",
                species,
                f"missing input: no file covering {year}",
            )
    return found


def read_ndep_year(directory: Path, year: int, scenario: str = "histsoc") -> xr.DataArray:
    """Annual total N deposition (kg N ha-1 yr-1) of ``year``, south to north, checked."""
    total = None
    lat = lon = None
    for species, path in ndep_paths(directory, scenario, year).items():
        with netCDF4.Dataset(path) as ds:
            if species not in ds.variables:
                raise ForcingError(
                    path, species, f"missing variable; file holds {sorted(ds.variables)}"
                )
            var = ds.variables[species]
            units = getattr(var, "units", "")
            if " ".join(units.lower().split()) not in _ACCEPTED_UNITS:
                raise ForcingError(
                    path, species, f"wrong units {units!r} (expected '{NDEP_UNITS}')"
                )
            tvar = ds.variables["time"]
            m = re.match(r"months since (\d+)-(\d+)", tvar.units)
            if not m:
                raise ForcingError(
                    path, species, f"time units {tvar.units!r}, expected 'months since'"
                )
            origin = int(m.group(1)) * 12 + int(m.group(2)) - 1
            month_index = origin + np.asarray(tvar[:], dtype=np.int64)
            sel = np.flatnonzero(month_index // 12 == year)
            if sel.size != 12:
                raise ForcingError(path, species, f"{sel.size} months of {year}, expected 12")
            var.set_auto_maskandscale(False)
            raw = np.asarray(var[sel[0] : sel[-1] + 1], dtype=np.float64)
            fill = float(getattr(var, "_FillValue", NDEP_FILL))
            valid = raw != fill
            if np.isnan(raw).any():
                s, i, j = np.argwhere(np.isnan(raw))[0]
                raise ForcingError(
                    path,
                    species,
                    "NaN in deposition",
                    value=float("nan"),
                    where=f"month {s + 1} of {year}, lat index {i}, lon index {j}",
                )
            if (raw[valid] < 0).any():
                bad = np.where(valid, raw, 0.0)
                s, i, j = np.unravel_index(int(np.argmin(bad)), bad.shape)
                raise ForcingError(
                    path,
                    species,
                    "negative deposition",
                    value=float(raw[s, i, j]),
                    where=f"month {s + 1} of {year}, lat index {i}, lon index {j}",
                )
            annual = np.where(valid.all(axis=0), raw.sum(axis=0) * G_M2_TO_KG_HA, np.nan)
            la = np.asarray(ds.variables["lat"][:], dtype=np.float64)
            lo = np.asarray(ds.variables["lon"][:], dtype=np.float64)
            if la[0] > la[-1]:
                la, annual = la[::-1], annual[::-1]
            lat, lon = la, lo
            total = annual if total is None else total + annual
    assert total is not None and lat is not None and lon is not None
    return _annual_da(total.astype(np.float32), lat, lon, f"{scenario} {year}")
