"""Writers of small real NetCDF inputs for tests, benchmarks and parity checks.

Contract: :func:`write_callmip_monthly` writes a CalLMIP-conformed monthly global file (noleap
calendar with ``time_bnds``, lat/lon with bounds, the protocol's global attributes and units)
and :func:`write_reference` a reference product in the ILAMB layout, from arrays the caller
provides. :func:`seasonal_field` makes a plausible field (land-only, with a seasonal cycle,
interannual noise and spatial structure) from a seed. These are the same file formats the
pipeline produces and ILAMB 2.7 reads, so tests exercise the real readers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from benchmarks.fields import DAYS_PER_MONTH, MONTH_EDGES
from benchmarks.variables import CALLMIP_UNITS, LONG_NAMES
from callmip.atomic import atomic_path
from callmip.conform.table import TABLE


def regular_grid(resolution: float, *, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Global cell centres at ``resolution`` degrees (optionally offset from the edges)."""
    lat = np.arange(-90 + resolution / 2, 90, resolution) + offset
    lon = np.arange(-180 + resolution / 2, 180, resolution) + offset
    return lat[lat < 90], lon[lon < 180]


def monthly_time(years: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Noleap time centres and bounds (days since 1850-01-01) for whole years."""
    nyear = years[1] - years[0] + 1
    start = np.concatenate(
        [(y - 1850) * 365.0 + MONTH_EDGES[:12] for y in range(years[0], years[1] + 1)]
    )
    bounds = np.stack([start, start + np.tile(DAYS_PER_MONTH, nyear)], axis=1)
    return bounds.mean(axis=1), bounds


#: The shipped FLUXCOM LE file: its valid cells are a real 2-degree land mask that loads in
#: milliseconds (global-land-mask needs seconds to load its 1 km raster).
SHIPPED_LAND = (
    Path(__file__).resolve().parents[1] / "data/ILAMB_ROOT/DATA/Latent_Heat/FLUXCOM/le.nc"
)


def land_mask(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """True over vegetated land (nearest cell of FLUXCOM's valid-data mask), south of 84N.

    Falls back to global-land-mask (slow to import) when the shipped file is absent.
    """
    if SHIPPED_LAND.exists():
        with netCDF4.Dataset(SHIPPED_LAND) as ds:
            valid = np.isfinite(np.ma.filled(ds["le"][0].astype(float), np.nan))
            slat, slon = np.asarray(ds["lat"][:]), np.asarray(ds["lon"][:])
        rows = np.abs(np.asarray(lat)[:, None] - slat[None, :]).argmin(axis=1)
        lon180 = ((np.asarray(lon) + 180.0) % 360.0) - 180.0
        dlon = np.abs(((lon180[:, None] - slon[None, :]) + 180.0) % 360.0 - 180.0)
        return valid[np.ix_(rows, dlon.argmin(axis=1))]
    from global_land_mask import globe

    lon2, lat2 = np.meshgrid(lon, lat)
    return globe.is_land(lat2, ((lon2 + 180) % 360) - 180) & (lat2 > -60)


def seasonal_field(
    lat: np.ndarray,
    lon: np.ndarray,
    years: tuple[int, int],
    *,
    mean: float,
    amplitude: float,
    seed: int,
    phase_months: float = 0.0,
    noise: float = 0.1,
    mask: np.ndarray | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """A (time, lat, lon) field with latitude-dependent mean and seasonal cycle."""
    rng = np.random.default_rng(seed)
    ntime = 12 * (years[1] - years[0] + 1)
    t = np.arange(ntime)[:, None, None]
    latr = np.deg2rad(lat)[None, :, None]
    lonr = np.deg2rad(lon)[None, None, :]
    spatial = mean * (0.6 + 0.4 * np.cos(latr) ** 2 + 0.15 * np.sin(2 * lonr) * np.cos(latr))
    hemi = np.where(lat >= 0, 1.0, -1.0)[None, :, None]
    cycle = (
        amplitude * np.cos(latr) ** 0.5 * hemi * np.cos(2 * np.pi * (t - 6.0 - phase_months) / 12.0)
    )
    out = spatial + cycle
    out = out + noise * mean * rng.standard_normal(out.shape)
    if mask is not None:
        out = np.where(mask[None], out, np.nan)
    return out.astype(dtype)


def _write_grid(ds: netCDF4.Dataset, lat: np.ndarray, lon: np.ndarray) -> None:
    ds.createDimension("lat", lat.size)
    ds.createDimension("lon", lon.size)
    ds.createDimension("bnds", 2)
    dlat = np.gradient(lat) if lat.size > 1 else np.array([1.0])
    dlon = np.gradient(lon) if lon.size > 1 else np.array([1.0])
    v = ds.createVariable("lat", "f8", ("lat",))
    v.setncatts(
        {
            "units": "degrees_north",
            "long_name": "latitude",
            "standard_name": "latitude",
            "axis": "Y",
            "bounds": "lat_bnds",
        }
    )
    v[:] = lat
    ds.createVariable("lat_bnds", "f8", ("lat", "bnds"))[:] = np.clip(
        np.stack([lat - dlat / 2, lat + dlat / 2], axis=1), -90, 90
    )
    v = ds.createVariable("lon", "f8", ("lon",))
    v.setncatts(
        {
            "units": "degrees_east",
            "long_name": "longitude",
            "standard_name": "longitude",
            "axis": "X",
            "bounds": "lon_bnds",
        }
    )
    v[:] = lon
    ds.createVariable("lon_bnds", "f8", ("lon", "bnds"))[:] = np.stack(
        [lon - dlon / 2, lon + dlon / 2], axis=1
    )


def daily_time(years: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Noleap daily time centres and bounds (days since 1850-01-01) for whole years."""
    start = (years[0] - 1850) * 365.0 + np.arange(365 * (years[1] - years[0] + 1), dtype=float)
    bounds = np.stack([start, start + 1.0], axis=1)
    return bounds.mean(axis=1), bounds


def _write_time(
    ds: netCDF4.Dataset, years: tuple[int, int], calendar: str, frequency: str = "monthly"
) -> None:
    time, bounds = monthly_time(years) if frequency == "monthly" else daily_time(years)
    ds.createDimension("time", None)
    v = ds.createVariable("time", "f8", ("time",))
    v.setncatts(
        {
            "units": "days since 1850-01-01 00:00:00",
            "calendar": calendar,
            "standard_name": "time",
            "axis": "T",
            "bounds": "time_bnds",
        }
    )
    v[:] = time
    ds.createVariable("time_bnds", "f8", ("time", "bnds"))[:] = bounds


def write_callmip_monthly(
    path: Path,
    *,
    model: str,
    stage: str,
    lat: np.ndarray,
    lon: np.ndarray,
    years: tuple[int, int],
    variables: Mapping[str, np.ndarray],
    frequency: str = "monthly",
) -> Path:
    """Write a CalLMIP-conformed global file with the given (time, lat, lon) arrays.

    ``frequency`` is 'monthly' (12 steps a year) or 'daily' (365 steps a year, noleap).
    """
    path = Path(path)
    with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.setncatts(
            {
                "Model": model,
                "CalLMIP_Phase": "Phase1b",
                "Calibration_Scenario": "Scen1",
                "Calibration_stage": stage,
                "Cal_Val": "Calibration",
                "Conventions": "CF-1.8",
            }
        )
        _write_grid(ds, lat, lon)
        _write_time(ds, years, "noleap", frequency)
        for name, values in variables.items():
            v = ds.createVariable(
                name,
                "f4",
                ("time", "lat", "lon"),
                zlib=True,
                complevel=1,
                fill_value=np.float32(1e20),
            )
            v.setncatts({"units": CALLMIP_UNITS[name], "long_name": LONG_NAMES[name]})
            v[:] = np.ma.masked_invalid(values)
    return path


def write_reference(
    path: Path,
    *,
    name: str,
    values: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    years: tuple[int, int],
    units: str,
    calendar: str = "365_day",
) -> Path:
    """Write a monthly reference product in the ILAMB layout (CF, with bounds)."""
    path = Path(path)
    with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.setncatts({"title": f"synthetic {name}", "Conventions": "CF-1.8"})
        _write_grid(ds, lat, lon)
        _write_time(ds, years, calendar)
        v = ds.createVariable(
            name, "f8", ("time", "lat", "lon"), zlib=True, complevel=1, fill_value=-999.0
        )
        v.setncatts({"units": units})
        v[:] = np.ma.masked_invalid(values)
    return path


# --------------------------------------------------------------------------- uploads
@dataclass(frozen=True)
class UploadSpec:
    """How one group's global file departs from the reference grid and conventions.

    The quirks are those of real uploads: any regular resolution, centres offset from the
    reference's, longitudes 0-360 (``lon0=0``), latitudes stored north to south, another
    calendar, no ``time_bnds``, annual instead of monthly steps, lai units ``m2 m-2``.
    The perturbation makes the model differ from the reference differently per model and
    stage: ``v * scale + bias * |global mean of v|``, rolled by ``phase_months``, plus
    ``noise`` x (std of v) of Gaussian noise.
    """

    model: str
    stage: str
    resolution: float
    version: str = "v1"
    offset: float = 0.0
    lon0: float = -180.0
    lat_descending: bool = False
    calendar: str = "noleap"
    time_bounds: bool = True
    frequency: str = "monthly"
    scale: float = 1.0
    bias: float = 0.0
    phase_months: int = 0
    noise: float = 0.0
    seed: int = 0
    lai_units: str = "1"
    fill_value: float = 1e20

    @property
    def file_name(self) -> str:
        """The protocol's file name (without the period, filled in by :func:`write_upload`)."""
        res = f"{float(self.resolution):g}deg"
        return f"{self.model}.{self.version}_global_{res}_{self.frequency}"


def upload_grid(spec: UploadSpec) -> tuple[np.ndarray, ...]:
    """Centres and bounds (lat ascending) of the spec's regular global grid."""
    r = float(spec.resolution)
    lat = np.arange(-90.0 + r / 2 + spec.offset, 90.0, r)
    lat = lat[(lat > -90.0) & (lat < 90.0)]
    lon = spec.lon0 + r / 2 + spec.offset + r * np.arange(round(360.0 / r))
    lat_b = np.clip(np.stack([lat - r / 2, lat + r / 2], axis=1), -90.0, 90.0)
    lon_b = np.stack([lon - r / 2, lon + r / 2], axis=1)
    return lat, lon, lat_b, lon_b


_REGRIDDERS: dict = {}


def _to_grid(values: np.ndarray, src: tuple[np.ndarray, ...], dst: tuple) -> np.ndarray:
    """Conservative regridding of (time, lat, lon) values, NaN-aware."""
    import xarray as xr

    from regrid import Grid, Regridder

    key = tuple(np.asarray(a).tobytes() for a in (*src, *dst))
    if key not in _REGRIDDERS:
        grids = [Grid(lat=g[0], lon=g[1], lat_bounds=g[2], lon_bounds=g[3]) for g in (src, dst)]
        _REGRIDDERS.clear()
        _REGRIDDERS[key] = Regridder(grids[0], grids[1], method="conservative")
    da = xr.DataArray(values, dims=("time", "lat", "lon"),
                      coords={"lat": src[0], "lon": src[1]})
    out = _REGRIDDERS[key](da)
    return np.asarray(out.transpose("time", "lat", "lon").values, dtype=np.float64)


def _time_axis(
    years: tuple[int, int], calendar: str, frequency: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """Centres and bounds (days since 1850-01-01 on ``calendar``) of monthly or annual steps."""
    import cftime

    units = "days since 1850-01-01 00:00:00"
    if frequency == "annual":
        starts = [cftime.datetime(y, 1, 1, calendar=calendar) for y in range(years[0],
                                                                            years[1] + 2)]
    else:
        starts = [
            cftime.datetime(y + (m // 12), m % 12 + 1, 1, calendar=calendar)
            for y in range(years[0], years[1] + 1)
            for m in range(12)
        ]
        starts.append(cftime.datetime(years[1] + 1, 1, 1, calendar=calendar))
    edges = np.asarray(cftime.date2num(starts, units, calendar=calendar), dtype=float)
    bounds = np.stack([edges[:-1], edges[1:]], axis=1)
    return bounds.mean(axis=1), bounds, units


def write_upload(
    directory: Path,
    spec: UploadSpec,
    fields: Mapping[str, tuple[np.ndarray, tuple[np.ndarray, ...]]],
    years: tuple[int, int],
) -> Path:
    """Write one group's CalLMIP global file: ``fields`` are monthly (time, lat, lon) arrays in
    CalLMIP units on their own grid ``(lat, lon, lat_bounds, lon_bounds)`` (lat ascending),
    regridded conservatively to the spec's grid, perturbed, and written with its quirks (an
    annual spec takes annual arrays as they are, or averages monthly ones)."""
    grid = upload_grid(spec)
    rng = np.random.default_rng(spec.seed)
    out: dict[str, np.ndarray] = {}
    for name, (values, src) in fields.items():
        same = src[0].shape == grid[0].shape and np.allclose(src[0], grid[0]) and (
            src[1].shape == grid[1].shape and np.allclose(src[1], grid[1]))
        v = values if same else _to_grid(values, src, grid)
        v = np.roll(v, spec.phase_months, axis=0) * spec.scale + spec.bias * abs(np.nanmean(v))
        if spec.noise:
            v = v + spec.noise * np.nanstd(v) * rng.standard_normal(v.shape)
        if name in TABLE and TABLE[name].valid_min >= 0:  # no negative GPP, LAI, carbon
            v = np.clip(v, TABLE[name].valid_min, None)
        nyear = years[1] - years[0] + 1
        if spec.frequency == "annual" and v.shape[0] == 12 * nyear:
            nyear = v.shape[0] // 12
            w = np.tile(DAYS_PER_MONTH, nyear).reshape(nyear, 12, 1, 1)
            v = (v.reshape(nyear, 12, *v.shape[1:]) * w).sum(axis=1) / w.sum(axis=1)
        out[name] = v
    lat, lon, lat_b, lon_b = grid
    if spec.lat_descending:
        lat, lat_b = lat[::-1], lat_b[::-1, ::-1]
        out = {k: v[:, ::-1, :] for k, v in out.items()}
    time, tbounds, tunits = _time_axis(years, spec.calendar, spec.frequency)
    name = f"{spec.file_name}_{years[0]:04d}-{years[1]:04d}_{spec.stage}.nc"
    path = Path(directory) / name
    with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.setncatts({
            "Model": f"{spec.model}.{spec.version}",
            "CalLMIP_Phase": "Phase1b",
            "Calibration_Scenario": "Scen1",
            "Calibration_stage": spec.stage,
            "Cal_Val": "Validation",
            "Conventions": "CF-1.8",
        })
        ds.createDimension("time", None)
        ds.createDimension("lat", lat.size)
        ds.createDimension("lon", lon.size)
        ds.createDimension("bnds", 2)
        t = ds.createVariable("time", "f8", ("time",))
        t.setncatts({"units": tunits, "calendar": spec.calendar, "standard_name": "time",
                     "axis": "T"})
        t[:] = time
        if spec.time_bounds:
            t.bounds = "time_bnds"
            ds.createVariable("time_bnds", "f8", ("time", "bnds"))[:] = tbounds
        for cname, centres, bnds, units, axis in (
            ("lat", lat, lat_b, "degrees_north", "Y"),
            ("lon", lon, lon_b, "degrees_east", "X"),
        ):
            c = ds.createVariable(cname, "f8", (cname,))
            c.setncatts({"units": units, "standard_name": "latitude" if axis == "Y"
                         else "longitude", "axis": axis, "bounds": f"{cname}_bnds"})
            c[:] = centres
            ds.createVariable(f"{cname}_bnds", "f8", (cname, "bnds"))[:] = bnds
        for vname, values in out.items():
            spec_row = TABLE[vname]
            v = ds.createVariable(vname, "f4", ("time", "lat", "lon"), zlib=True,
                                  complevel=1, fill_value=np.float32(spec.fill_value))
            v.setncatts({"units": spec.lai_units if vname == "lai" else spec_row.units,
                         "long_name": spec_row.long_name})
            if spec_row.standard_name:
                v.standard_name = spec_row.standard_name
            v[:] = np.ma.masked_invalid(values.astype(np.float32))
    return path


SHIPPED_ROOT = Path(__file__).resolve().parents[1] / "data/ILAMB_ROOT"
#: CalLMIP variable -> (shipped FLUXCOM file below ILAMB_ROOT, its variable)
SHIPPED_FLUXCOM = {
    "hfls": ("DATA/Latent_Heat/FLUXCOM/le.nc", "le"),
    "hfss": ("DATA/Sensible_Heat/FLUXCOM/sh.nc", "sh"),
}


def shipped_fields(
    years: tuple[int, int] = (2004, 2005), root: Path = SHIPPED_ROOT
) -> dict[str, tuple[np.ndarray, tuple[np.ndarray, ...]]]:
    """The shipped real FLUXCOM latent and sensible heat (W m-2) with their grid, as
    :func:`write_upload` takes them: the raw material of test uploads."""
    from benchmarks.gridded import read_reference

    out = {}
    for name, (rel, var) in SHIPPED_FLUXCOM.items():
        ref = read_reference([root / rel], var, "W m-2", "W m-2", years)
        grid = (ref.lat, ref.lon, np.clip(ref.lat_bounds, -90, 90), ref.lon_bounds)
        out[name] = (np.asarray(ref.values, dtype=np.float64), grid)
    return out


#: A small upload of three models on three grids, each prior and posterior, with the quirks
#: of real files. ALPHA improves with calibration, BETA's posterior equals its prior, GAMMA's
#: seasonal phase improves.
UPLOAD_SET: tuple[UploadSpec, ...] = (
    UploadSpec("ALPHA", "Prior", 0.5, scale=1.25, bias=0.15, phase_months=1, noise=0.1,
               seed=11),
    UploadSpec("ALPHA", "Posterior", 0.5, scale=1.05, bias=0.03, noise=0.05, seed=12),
    UploadSpec("BETA", "Prior", 1, version="v2", lon0=0.0, lat_descending=True, scale=0.8,
               bias=-0.1, noise=0.1, seed=21, lai_units="m2 m-2", calendar="360_day",
               time_bounds=False),
    UploadSpec("BETA", "Posterior", 1, version="v2", lon0=0.0, lat_descending=True,
               scale=0.8, bias=-0.1, noise=0.1, seed=21, lai_units="m2 m-2",
               calendar="360_day", time_bounds=False),
    UploadSpec("GAMMA", "Prior", 2, offset=0.25, phase_months=2, noise=0.1, seed=31,
               calendar="standard", fill_value=-9999.0),
    UploadSpec("GAMMA", "Posterior", 2, offset=0.25, phase_months=1, noise=0.1, seed=32,
               calendar="standard", fill_value=-9999.0),
)
#: (model, stage) -> linear trend of the SSP runs' carbon per year (relative); BETA's posterior
#: parameters equal its prior ones, so its futures do not diverge
SCENARIO_TRENDS = {("BETA", "Prior"): 0.004, ("BETA", "Posterior"): 0.004,
                   ("GAMMA", "Prior"): 0.003, ("GAMMA", "Posterior"): 0.0045}


def land_fields(
    grid: tuple[np.ndarray, ...], years: tuple[int, int], valid: np.ndarray, seed: int = 5
) -> dict[str, tuple[np.ndarray, tuple[np.ndarray, ...]]]:
    """Plausible monthly carbon and vegetation fields in CalLMIP units on ``grid`` where
    ``valid`` (gpp, nep = gpp - reco, cSoil, lai)."""
    lat, lon = grid[0], grid[1]
    gpp = seasonal_field(lat, lon, years, mean=3.5e-8, amplitude=2.5e-8, seed=seed, mask=valid)
    gpp = np.clip(gpp, 0.0, None)
    mean = np.where(valid, np.nan_to_num(gpp).mean(axis=0), np.nan)[None]
    reco = 0.97 * mean + 0.2 * (gpp - mean)
    fields = {
        "gpp": gpp,
        "nep": gpp - reco,
        "cSoil": np.clip(seasonal_field(lat, lon, years, mean=12.0, amplitude=0.2,
                                        seed=seed + 1, mask=valid), 0.0, None),
        "lai": np.clip(seasonal_field(lat, lon, years, mean=2.0, amplitude=1.2, seed=seed + 3,
                                      mask=valid), 0.0, None),
    }
    return {k: (v, grid) for k, v in fields.items()}


def write_upload_set(
    root: Path,
    years: tuple[int, int] = (2004, 2005),
    scenario: tuple[int, int] | None = (2015, 2100),
    specs: tuple[UploadSpec, ...] = UPLOAD_SET,
) -> dict[tuple[str, str], Path]:
    """Write the upload of :data:`UPLOAD_SET` under ``root/<model>/`` (historical, monthly,
    real FLUXCOM heat fluxes plus synthetic carbon fields) and, with ``scenario``, annual SSP370
    files of gpp, nep and cSoil for BETA and GAMMA under ``root/<model>/ssp370/``."""
    fields = shipped_fields(years)
    grid = fields["hfls"][1]
    valid = np.isfinite(fields["hfls"][0]).all(axis=0)
    fields.update(land_fields(grid, years, valid))
    out = {}
    for spec in specs:
        out[(spec.model, spec.stage)] = write_upload(Path(root) / spec.model, spec, fields, years)
    if scenario is not None:
        n = scenario[1] - scenario[0] + 1
        t = np.arange(n)[:, None, None]
        base = {k: np.where(valid, np.nan_to_num(fields[k][0]).mean(axis=0), np.nan)[None]
                for k in ("gpp", "nep", "cSoil")}
        for (model, stage), trend in SCENARIO_TRENDS.items():
            spec = next(s for s in specs if (s.model, s.stage) == (model, stage))
            annual = {k: (v * (1.0 + trend * t), grid) for k, v in base.items()}
            ssp = UploadSpec(spec.model, stage, spec.resolution, version=spec.version,
                             offset=spec.offset, lon0=spec.lon0, frequency="annual",
                             seed=spec.seed, calendar=spec.calendar)
            out[(model, f"{stage}-ssp370")] = write_upload(
                Path(root) / model / "ssp370", ssp, annual, scenario)
    return out


def write_bad_files(directory: Path, template: Path) -> dict[str, Path]:
    """Bad uploads next to good ones, made from a good CalLMIP file ``template``: a truncated
    NetCDF file, a text file with a CalLMIP name, hfls with (time, lon, lat) dimensions, hfls in
    'W/m2', hfss all missing, and an older duplicate of ``template`` in ``resubmitted/``."""
    import shutil

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tail = template.name.split("_global_", 1)[1]
    out: dict[str, Path] = {}

    def named(model: str) -> Path:
        return directory / f"{model}.v1_global_{tail}"

    data = template.read_bytes()
    out["truncated"] = named("TRUNC")
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["not_netcdf"] = named("TEXT")
    out["not_netcdf"].write_text("model output will follow\n")
    for key, model in (("dims", "DIMS"), ("units", "UNITS"), ("empty", "EMPTY")):
        path = named(model)
        shutil.copy(template, path)
        with netCDF4.Dataset(path, "a") as ds:
            ds.setncattr("Model", f"{model}.v1")
            if key == "dims":
                values = ds["hfls"][:]
                ds.renameVariable("hfls", "hfls_lat_lon")
                v = ds.createVariable("hfls", "f4", ("time", "lon", "lat"),
                                      fill_value=np.float32(1e20))
                v.units = "W m-2"
                v[:] = np.ma.transpose(values, (0, 2, 1))
            elif key == "units":
                ds["hfls"].units = "W/m2"
            else:
                var = ds["hfss"]
                var[:] = np.full(var.shape, var._FillValue, dtype=var.dtype)
        out[key] = path
    dup = directory / "resubmitted" / template.name
    dup.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, dup)
    old = template.stat().st_mtime - 86400
    os.utime(dup, (old, old))
    out["duplicate"] = dup
    return out
