"""CABLE's gridded inputs, made from the campaign's own model-ready forcing.

CABLE's CRU reader (``cable_user%MetType = 'cru'``, ``offline/cable_cru_TRENDY.F90``) wants, on
the grid of its land mask:

* one daily file per variable and year, named from a template ``<var>_<startdate>_<enddate>.nc``
  (dates ``YYYYMMDD``; the reader globs the template and parses the years out of the names),
  with the variable on (time, lat, lon): ``pre`` mm d-1, ``tmax``/``tmin`` K, ``tswrf`` W m-2
  (J m-2 s-1), ``dlwrf`` W m-2, ``pres`` Pa, ``spfh`` kg kg-1, ``ugrd``/``vgrd`` m s-1. The
  model-ready files hold the daily wind *speed* only, and CABLE uses only sqrt(u^2 + v^2), so
  ``ugrd`` is the speed and ``vgrd`` is 0;
* a land mask (``land`` 0/1 on ``latitude``/``longitude``): one per chunk, the cells it runs;
* a gridinfo file (vegetation, soil and initial state per cell), generated here from the land
  mask and the defaults below unless a group passes its own;
* the CO2 text file (``year ppm`` lines) and N deposition ``NDep_<start>_<end>.nc``
  (``N_deposition`` kg N m-2 s-1 on (time, lat, lon), one record per year from 1850, as the
  reader indexes it by ``year - 1849``).

The met files are written once per forcing year into a per-campaign directory next to the
model-ready forcing (atomically; an existing file is reused only when its recorded fingerprint
matches), and each run gets a directory of symlinks, one per *simulated* year, pointing at the
forcing year the orchestrator chose for it. So TRENDY's recycling (1901-1920 weather under
1700-1900 CO2) is decided by the campaign's experiment matrix, exactly as for every other
driver, and CABLE's own recycling switches stay off.

Generated gridinfo (documented defaults, a simplification of TRENDY's real 1-degree
ancillaries): two tiles per cell, a woody PFT and a grass PFT chosen from the cell's forcing
climate (annual mean temperature and precipitation) by the rules in :func:`vegetation`; soil
type 2 (medium clay loam) with its parameters from the branch's ``def_soil_params.txt`` values
listed in :data:`SOIL_TYPE2`; soil order 5; initial soil moisture 0.3 m3 m-3 and soil
temperature equal to the cell's monthly mean air temperature; no snow; LAI 1.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from callmip import atomic
from callmip.atomic import atomic_path
from callmip.constants import (
    EARTH_RADIUS_M,
    PREINDUSTRIAL_NDEP_KG_N_HA_YR,
    SECONDS_PER_YEAR,
)
from callmip.drivers.render import RenderError

#: CABLE CRU-reader variable -> (model-ready variable, scale factor, units written)
MET_VARIABLES: dict[str, tuple[str | None, float, str]] = {
    "pre": ("pr", 86400.0, "mm/day"),
    "tmax": ("tasmax", 1.0, "K"),
    "tmin": ("tasmin", 1.0, "K"),
    "tswrf": ("rsds", 1.0, "W/m^2"),
    "dlwrf": ("rlds", 1.0, "W/m^2"),
    "pres": ("ps", 1.0, "Pa"),
    "spfh": ("huss", 1.0, "kg/kg"),
    "ugrd": ("sfcWind", 1.0, "m/s"),
    "vgrd": (None, 0.0, "m/s"),
}
#: cru.nml file-name key of each variable (the reader's own names)
CRU_FILE_KEYS = {"pre": "rainFile", "dlwrf": "lwdnFile", "tswrf": "swdnFile",
                 "pres": "presFile", "spfh": "qairFile", "tmax": "TmaxFile", "tmin": "TminFile",
                 "ugrd": "uwindFile", "vgrd": "vwindFile"}
MET_FILL = np.float32(-9999.0)
DAYS = 365
NDEP_FIRST_YEAR = 1850
#: kg N ha-1 yr-1 -> kg N m-2 s-1
KG_HA_YR_TO_KG_M2_S = 1e-4 / SECONDS_PER_YEAR
#: soil type 2 of the branch's def_soil_params.txt (medium clay loam), as gridinfo wants them
#: (sucs positive: CABLE negates it; hyds m s-1)
SOIL_TYPE2 = {"swilt": 0.216, "sfc": 0.301, "ssat": 0.479, "bch": 7.1, "hyds": 4.0e-6,
              "sucs": 0.591, "rhosoil": 1600.0, "cnsd": 0.272, "css": 850.0, "clay": 0.30,
              "silt": 0.33, "sand": 0.37, "albedo2": 0.17}
SOIL_LAYERS = 6
INITIAL_SOIL_MOISTURE = 0.3
INITIAL_LAI = 1.0


class CableInputError(RenderError):
    """An input for CABLE cannot be made: names the file, the variable and the problem."""


@dataclass(frozen=True)
class Domain:
    """The CABLE grid of a campaign: the campaign grid cut to a lon/lat box, and its land cells.

    ``lat``/``lon`` are the box's cell centres (south to north, west to east); ``i0``/``j0``
    where the box starts in the campaign grid (so merged output goes back to its place);
    ``land`` the (lat, lon) boolean land mask inside the box.
    """

    lat: np.ndarray
    lon: np.ndarray
    i0: int
    j0: int
    land: np.ndarray

    @property
    def cells(self) -> np.ndarray:
        """(n, 2) (lat index, lon index) of the land cells in CABLE's order (lat-major)."""
        return np.argwhere(self.land)

    @property
    def window(self) -> tuple[slice, slice]:
        """(rows, cols) of the box in the campaign grid: ``field[..., rows, cols]`` cuts a
        campaign-grid field (latitudes south to north) to the domain."""
        return (slice(self.i0, self.i0 + self.lat.size), slice(self.j0, self.j0 + self.lon.size))

    @property
    def n_land(self) -> int:
        return int(self.land.sum())

    def to_json(self) -> dict:
        return {"lat": self.lat.tolist(), "lon": self.lon.tolist(), "i0": self.i0,
                "j0": self.j0, "land": np.argwhere(self.land).tolist()}

    @classmethod
    def from_json(cls, doc: dict) -> Domain:
        lat, lon = np.asarray(doc["lat"], "float64"), np.asarray(doc["lon"], "float64")
        land = np.zeros((lat.size, lon.size), dtype=bool)
        cells = np.asarray(doc["land"], dtype="int64").reshape(-1, 2)
        land[cells[:, 0], cells[:, 1]] = True
        return cls(lat, lon, int(doc["i0"]), int(doc["j0"]), land)

    def key(self) -> str:
        text = json.dumps({"lat": self.lat.round(6).tolist(), "lon": self.lon.round(6).tolist(),
                           "land": np.flatnonzero(self.land).tolist()})
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def chunk_cells(self, n_chunks: int) -> list[np.ndarray]:
        """The land cells split into ``n_chunks`` contiguous, nearly equal parts (lat-major
        order, as TRENDY's split_landmask does), so every chunk has similar work."""
        cells = self.cells
        if not 1 <= n_chunks <= len(cells):
            raise CableInputError(f"cannot split {len(cells)} land cells into {n_chunks} chunks")
        return [part for part in np.array_split(cells, n_chunks)]


def model_ready_file(forcing_dir: Path, year: int) -> Path:
    """The campaign's model-ready forcing file of ``year`` (the contract of forcing)."""
    return Path(forcing_dir) / f"met_{year:04d}.nc"


def read_grid(forcing_dir: Path, year: int) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) cell centres of the campaign grid (from a model-ready file)."""
    path = model_ready_file(forcing_dir, year)
    try:
        with netCDF4.Dataset(path) as ds:
            return (np.asarray(ds["lat"][:], dtype="float64"),
                    np.asarray(ds["lon"][:], dtype="float64"))
    except (OSError, IndexError) as exc:
        raise CableInputError(f"{path}: cannot read lat and lon: {exc}") from exc


def read_domain(forcing_dir: Path, year: int,
                box: tuple[float, float, float, float] | None) -> Domain:
    """The domain inside ``box`` = (west, east, south, north) degrees (None: the whole grid).

    A cell belongs to the box when its centre does; land is ``landfrac > 0``.
    """
    path = model_ready_file(forcing_dir, year)
    try:
        with netCDF4.Dataset(path) as ds:
            lat = np.asarray(ds["lat"][:], dtype="float64")
            lon = np.asarray(ds["lon"][:], dtype="float64")
            landfrac = np.asarray(ds["landfrac"][:], dtype="float64")
    except (OSError, IndexError) as exc:
        raise CableInputError(f"{path}: cannot read lat, lon and landfrac: {exc}") from exc
    if box is None:
        rows, cols = np.arange(lat.size), np.arange(lon.size)
    else:
        west, east, south, north = box
        rows = np.flatnonzero((lat >= south) & (lat <= north))
        cols = np.flatnonzero((lon >= west) & (lon <= east))
    if not rows.size or not cols.size:
        raise CableInputError(f"domain {box} holds no cell of the grid of {path}")
    land = np.nan_to_num(landfrac[np.ix_(rows, cols)]) > 0
    if not land.any():
        raise CableInputError(f"domain {box} holds no land cell (landfrac > 0) in {path}")
    return Domain(lat[rows], lon[cols], int(rows[0]), int(cols[0]), land)


def _grid_dims(ds: netCDF4.Dataset, domain: Domain) -> None:
    ds.createDimension("longitude", domain.lon.size)
    ds.createDimension("latitude", domain.lat.size)
    for name, values, units in (("longitude", domain.lon, "degrees_east"),
                                ("latitude", domain.lat, "degrees_north")):
        v = ds.createVariable(name, "f4", (name,))
        v.units = units
        v[:] = values


def write_landmask(path: Path, domain: Domain, cells: np.ndarray) -> Path:
    """CABLE's land mask: ``land`` = 1 on ``cells`` (rows of (lat index, lon index))."""
    mask = np.zeros(domain.land.shape, dtype="int32")
    mask[cells[:, 0], cells[:, 1]] = 1
    with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4_CLASSIC") as ds:
        _grid_dims(ds, domain)
        v = ds.createVariable("land", "i4", ("latitude", "longitude"))
        v.long_name = "cells CABLE runs (1) or skips (0)"
        v[:] = mask
    return path


# ----------------------------------------------------------------------------- met files
def met_file_name(var: str, year: int) -> str:
    """``<var>_<YYYY>0101_<YYYY>1231.nc``: what the reader's template matches."""
    return f"{var}_{year:04d}0101_{year:04d}1231.nc"


def _fingerprint(source: Path, domain: Domain) -> str:
    st = source.stat()
    return json.dumps({"source": str(source), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                       "domain": domain.key(), "layout": "cable-cru-daily v1"}, sort_keys=True)


def write_met_year(out_dir: Path, forcing_dir: Path, year: int, domain: Domain) -> list[Path]:
    """CABLE's nine daily files of forcing ``year`` inside the domain (reused when current)."""
    source = model_ready_file(forcing_dir, year)
    if not source.is_file():
        raise CableInputError(f"{source}: model-ready forcing of {year} is missing")
    stamp = out_dir / ".stamps" / f"{year:04d}.json"
    finger = _fingerprint(source, domain)
    paths = [out_dir / var / met_file_name(var, year) for var in MET_VARIABLES]
    if stamp.is_file() and stamp.read_text() == finger and all(p.is_file() for p in paths):
        return paths
    rows, cols = domain.window
    with netCDF4.Dataset(source) as src:
        for var, path in zip(MET_VARIABLES, paths, strict=True):
            name, scale, units = MET_VARIABLES[var]
            if name is None:
                values = np.zeros((DAYS, domain.lat.size, domain.lon.size), dtype="float32")
            else:
                if name not in src.variables:
                    raise CableInputError(f"{source}: variable {name!r} (for CABLE's {var}) is "
                                          "missing")
                data = src[name]
                if data.shape[0] != DAYS:
                    raise CableInputError(f"{source}: variable {name!r} has {data.shape[0]} "
                                          f"steps; CABLE's reader needs {DAYS} daily values")
                data.set_auto_mask(False)
                raw = np.asarray(data[:, rows, cols], dtype="float32")
                fill = getattr(data, "_FillValue", None)
                values = np.where(raw == fill, np.nan, raw) if fill is not None else raw
                values = values * np.float32(scale)
            land_values = values[:, domain.land]
            if not np.isfinite(land_values).all():
                k = np.argwhere(~np.isfinite(land_values))[0]
                i, j = domain.cells[k[1]]
                raise CableInputError(f"{source}: variable {name!r} is missing on land cell "
                                      f"lat {domain.lat[i]:.2f} lon {domain.lon[j]:.2f} "
                                      f"(day {k[0] + 1})")
            values = np.where(domain.land[None], values, MET_FILL).astype("float32")
            with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
                ds.createDimension("time", DAYS)
                _grid_dims(ds, domain)
                t = ds.createVariable("time", "f8", ("time",))
                t.units = f"days since {year:04d}-01-01 00:00:00"
                t.calendar = "noleap"
                t[:] = np.arange(DAYS, dtype="float64")
                v = ds.createVariable(var, "f4", ("time", "latitude", "longitude"), zlib=True,
                                      complevel=1, fill_value=MET_FILL)
                v.units = units
                v.source = f"{source.name}:{name}" if name else "zero (wind speed is in ugrd)"
                v[:] = values
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(finger)
    return paths


def link_met_years(run_met: Path, cable_met: Path, years: Iterable[tuple[int, int]]) -> Path:
    """``run_met/<var>/<var>_<Y>0101_<Y>1231.nc`` -> the file of forcing year F, for every
    (simulated year Y, forcing year F): the run's own view of the recycled forcing."""
    for var in MET_VARIABLES:
        d = run_met / var
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob(f"{var}_*.nc"):  # a previous attempt may have had other years
            old.unlink()
        for year, forcing_year in years:
            target = cable_met / var / met_file_name(var, forcing_year)
            if not target.is_file():
                raise CableInputError(f"{target}: CABLE met file of {forcing_year} is missing")
            (d / met_file_name(var, year)).symlink_to(target)
    return run_met


def met_template(run_met: Path, var: str) -> str:
    """The reader's file template of ``var`` for a run's met directory."""
    return str(run_met / var / f"{var}_<startdate>_<enddate>.nc")


# ----------------------------------------------------------------------------- CO2, N dep
def write_co2(path: Path, co2_by_year: dict[int, float]) -> Path:
    """The CO2 text file CABLE reads: a comment line, then ``year ppm`` for every year."""
    years = sorted(co2_by_year)
    if years != list(range(years[0], years[-1] + 1)):
        raise CableInputError(f"{path}: CO2 years must be consecutive, got {years}")
    text = "# year CO2 (ppm), written by callmip-global from the campaign's CO2 series\n"
    text += "".join(f"{y:d} {float(co2_by_year[y]):.3f}\n" for y in years)
    return atomic.write_text(path, text)


NdepProvider = Callable[[int, Domain], np.ndarray]
"""(year, domain) -> N deposition on the domain (lat, lon), kg N ha-1 yr-1."""


def preindustrial_ndep(year: int, domain: Domain) -> np.ndarray:
    """The protocol's spin-up N deposition everywhere, every year (until the campaign's N
    deposition forcing reaches the models; see the driver README)."""
    return np.full(domain.land.shape, PREINDUSTRIAL_NDEP_KG_N_HA_YR)


def campaign_ndep(fields: dict[int, np.ndarray]) -> NdepProvider:
    """Provider of the campaign's own N deposition: ``fields`` maps each simulated year to its
    prepared field on the campaign grid (:func:`callmip.drivers.change.ndep_by_simulated_year`,
    kg N ha-1 yr-1, latitudes south to north as the met files), cut here to the CABLE domain."""

    def provide(year: int, domain: Domain) -> np.ndarray:
        rows, cols = domain.window
        return np.asarray(fields[year], dtype="float64")[rows, cols]

    return provide


def write_ndep(path_dir: Path, domain: Domain, years: Iterable[int],
               provider: NdepProvider = preindustrial_ndep) -> Path:
    """``NDep_18500101_<last>1231.nc`` with one record per year 1850..last (the reader's
    ``year - 1849`` index); years the run does not simulate repeat the first year's field."""
    years = sorted(set(years))
    last = max(years[-1], NDEP_FIRST_YEAR)
    fields = {y: np.asarray(provider(y, domain), dtype="float64") for y in years}
    first = fields[years[0]]
    path = path_dir / f"NDep_{NDEP_FIRST_YEAR}0101_{last:04d}1231.nc"
    with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4_CLASSIC") as ds:
        ds.createDimension("time", last - NDEP_FIRST_YEAR + 1)
        _grid_dims(ds, domain)
        t = ds.createVariable("time", "i4", ("time",))
        t.units = "year"
        t[:] = np.arange(NDEP_FIRST_YEAR, last + 1)
        v = ds.createVariable("N_deposition", "f4", ("time", "latitude", "longitude"))
        v.units = "kg N m-2 s-1"
        for k, y in enumerate(range(NDEP_FIRST_YEAR, last + 1)):
            field = fields.get(y, first)
            if field.shape != domain.land.shape or not np.isfinite(field[domain.land]).all() \
                    or (field[domain.land] < 0).any():
                raise CableInputError(f"{path}: N deposition of {y} is not a finite, "
                                      "non-negative field on the domain")
            v[k] = (field * KG_HA_YR_TO_KG_M2_S).astype("float32")
    return path


# ----------------------------------------------------------------------------- gridinfo
def vegetation(t_mean_k: np.ndarray, precip_mm_yr: np.ndarray) -> tuple[np.ndarray, ...]:
    """(woody PFT, grass PFT, woody fraction) per cell from its climate (CABLE PFT numbers).

    Rules: tundra (8) alone below -7 C; evergreen needleleaf (1) below 3 C; deciduous
    broadleaf (4) below 20 C; evergreen broadleaf (2) above 20 C with > 1500 mm, else shrub (5).
    Grass C3 (6) below 20 C, else C4 (7). Woody fraction min(0.8, precip / 1500 mm), at least
    0.1; tundra cells are all grass-like tundra.
    """
    tc = t_mean_k - 273.15
    woody = np.where(tc < 3, 1, np.where(tc < 20, 4, np.where(precip_mm_yr > 1500, 2, 5)))
    grass = np.where(tc < -7, 8, np.where(tc < 20, 6, 7))
    frac = np.clip(precip_mm_yr / 1500.0, 0.1, 0.8)
    frac = np.where(tc < -7, 0.0, frac)
    return woody.astype("int32"), grass.astype("int32"), frac


def forcing_climate(forcing_dir: Path, year: int, domain: Domain) -> tuple[np.ndarray, ...]:
    """Monthly mean air temperature (12, lat, lon) K and annual precipitation (lat, lon) mm of
    ``year`` in the domain (what the generated gridinfo is built from)."""
    path = model_ready_file(forcing_dir, year)
    rows, cols = domain.window
    with netCDF4.Dataset(path) as ds:
        tas = np.asarray(ds["tas"][:, rows, cols].filled(np.nan), dtype="float64")
        pr = np.asarray(ds["pr"][:, rows, cols].filled(np.nan), dtype="float64")
    edges = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    finite = np.isfinite(tas)
    sums = np.add.reduceat(np.where(finite, tas, 0.0), edges[:-1], axis=0)
    counts = np.add.reduceat(finite, edges[:-1], axis=0)
    monthly = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return monthly, np.nansum(pr, axis=0) * 86400.0


#: gridinfo patches when CABLE runs land use: it makes up to three tiles per cell itself
LUC_PATCHES = 3


def check_land_use_gridinfo(path: Path) -> Path:
    """A gridinfo CABLE can run land use on: at least :data:`LUC_PATCHES` patches (it writes
    three tiles per cell there, and past the array's end without a bounds check) and one
    vegetated patch per cell (its climate step must have one record per cell)."""
    try:
        with netCDF4.Dataset(path) as ds:
            patches = ds.dimensions["patch"].size if "patch" in ds.dimensions else 1
            iveg = np.asarray(ds["iveg"][:].filled(0)) if "iveg" in ds.variables else None
    except OSError as exc:
        raise CableInputError(f"{path}: not a readable gridinfo ({exc})") from exc
    if iveg is None:
        raise CableInputError(f"{path}: variable 'iveg' is missing")
    if patches < LUC_PATCHES:
        raise CableInputError(
            f"{path}: {patches} patch(es); CABLE's land use (POPLUC) makes {LUC_PATCHES} tiles "
            f"per cell, so the gridinfo needs a 'patch' dimension of {LUC_PATCHES} with one "
            "vegetated patch per cell (or leave options.gridinfo unset to have one generated)")
    per_cell = np.count_nonzero(iveg.reshape(patches, -1) > 0, axis=0)
    if (per_cell > 1).any():
        raise CableInputError(
            f"{path}: {int((per_cell > 1).sum())} cells have more than one vegetated patch "
            "('iveg'); with land use CABLE needs one per cell (it sets the tiles itself)")
    return path


def write_gridinfo(path: Path, domain: Domain, forcing_dir: Path, year: int,
                   land_use: bool = False) -> Path:
    """A gridinfo file for the domain from the land mask and the documented defaults.

    Without land use each land cell has a woody and a grass patch (:func:`vegetation`). With
    land use (``cable_user%POPLUC``) CABLE sets its own tiles (primary and secondary forest,
    grass; ``LUC_EXPT_SET_TILES``) over :data:`LUC_PATCHES` patches, and the climate run that
    gives it each cell's biome must have exactly one patch per cell (CABLE reads that run's
    per-patch biome as per-cell), so each cell gets its dominant type alone."""
    t_month, precip = forcing_climate(forcing_dir, year, domain)
    t_month = np.where(np.isfinite(t_month), t_month, 283.15)
    woody, grass, frac = vegetation(t_month.mean(axis=0), precip)
    ny, nx = domain.land.shape
    land = domain.land
    iveg = np.zeros((LUC_PATCHES if land_use else 2, ny, nx), "int32")
    pfrac = np.zeros(iveg.shape, "float32")
    if land_use:
        iveg[0] = np.where(land, np.where(frac >= 0.5, woody, grass), 0)
        pfrac[0] = np.where(land, 1.0, 0)
    else:
        iveg[0] = np.where(land, np.where(frac > 0, woody, grass), 0)
        pfrac[0] = np.where(land, np.where(frac > 0, frac, 1.0), 0)
        iveg[1] = np.where(land & (frac > 0), grass, 0)
        pfrac[1] = np.where(land & (frac > 0), 1.0 - frac, 0)
    lat_r = np.deg2rad(domain.lat)
    dlat = np.deg2rad(abs(domain.lat[1] - domain.lat[0])) if ny > 1 else np.deg2rad(2.0)
    dlon = np.deg2rad(abs(domain.lon[1] - domain.lon[0])) if nx > 1 else np.deg2rad(2.0)
    area_km2 = ((EARTH_RADIUS_M / 1e3) ** 2 * dlon
                * (np.sin(lat_r + dlat / 2) - np.sin(lat_r - dlat / 2)))
    with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4_CLASSIC") as ds:
        _grid_dims(ds, domain)
        ds.createDimension("patch", iveg.shape[0])
        ds.createDimension("soil", SOIL_LAYERS)
        ds.createDimension("time", 12)
        ds.createDimension("rad", 3)
        ds.title = "gridinfo generated by callmip-global from the land mask and defaults"

        def var(name, dtype, dims, values, units=""):
            v = ds.createVariable(name, dtype, dims)
            if units:
                v.units = units
            v[:] = values

        yx = ("latitude", "longitude")
        var("iveg", "i4", ("patch", *yx), iveg)
        var("patchfrac", "f4", ("patch", *yx), pfrac)
        var("isoil", "i4", yx, np.where(land, 2, 0))
        wb = np.full((12, SOIL_LAYERS, ny, nx), INITIAL_SOIL_MOISTURE, "float32")
        var("SoilMoist", "f4", ("time", "soil", *yx), wb, "m3/m3")
        tgg = np.repeat(t_month[:, None], SOIL_LAYERS, axis=1).astype("float32")
        var("SoilTemp", "f4", ("time", "soil", *yx), tgg, "K")
        var("Albedo", "f4", ("rad", *yx), np.full((3, ny, nx), SOIL_TYPE2["albedo2"]))
        var("SnowDepth", "f4", ("time", *yx), np.zeros((12, ny, nx)), "m")
        var("LAI", "f4", ("time", *yx), np.full((12, ny, nx), INITIAL_LAI))
        for name, value in SOIL_TYPE2.items():
            var(name, "f4", yx, np.full((ny, nx), value))
        var("area", "f4", yx, np.broadcast_to(area_km2[:, None], (ny, nx)), "km2")
        var("SoilOrder", "i4", yx, np.full((ny, nx), 5))
        var("Ndep", "f4", yx, np.full((ny, nx), PREINDUSTRIAL_NDEP_KG_N_HA_YR / 10.0), "g/m2/yr")
        var("Nfix", "f4", yx, np.full((ny, nx), 0.5), "g/m2/yr")
        var("Pwea", "f4", yx, np.full((ny, nx), 0.05), "g/m2/yr")
        var("Pdust", "f4", yx, np.full((ny, nx), 0.002), "g/m2/yr")
    return path
