"""Turn a model's native output into CalLMIP global files, and publish only files that pass.

Steps for one run: open the native files of the last N years, map them to CalLMIP variables
through the model's driver (units, sign of nep, reco = ra + rh, ...), attach CF metadata from the
table, write to a temporary name, run the checker, and only then rename to the protocol's file
name. A failing file is never published; the error carries the checker's report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from callmip.conform.check import check_file
from callmip.conform.table import TABLE, global_file_name
from callmip.drivers.base import ModelDriver
from regrid import Grid

FILL_VALUE = np.float32(1.0e20)


class ConformError(RuntimeError):
    """A conformed file failed the CalLMIP checks and was not published."""


@dataclass(frozen=True)
class GlobalAttrs:
    """Protocol section 6.3 attributes plus provenance."""

    model: str
    version: str
    stage: str  # Prior | Posterior
    phase: str = "Phase1b"
    scenario: str = "Scen1"
    cal_val: str = "Validation"
    simulation: str = "S3"
    campaign: str = ""
    source: str = ""


def _attach_metadata(ds: xr.Dataset, attrs: GlobalAttrs) -> xr.Dataset:
    for name in list(ds.data_vars):
        spec = TABLE[name]
        meta = {"long_name": spec.long_name, "units": spec.units,
                "cell_methods": "area: mean where land time: mean"}
        if spec.standard_name:
            meta["standard_name"] = spec.standard_name
        ds[name].attrs = meta
    grid = Grid.from_centres(ds["lat"].values, ds["lon"].values)
    ds = ds.assign_coords(
        lat_bnds=(("lat", "bnds"), grid.lat_bounds),
        lon_bnds=(("lon", "bnds"), grid.lon_bounds),
    )
    ds["lat"].attrs = {"units": "degrees_north", "long_name": "latitude",
                       "standard_name": "latitude", "axis": "Y", "bounds": "lat_bnds"}
    ds["lon"].attrs = {"units": "degrees_east", "long_name": "longitude",
                       "standard_name": "longitude", "axis": "X", "bounds": "lon_bnds"}
    ds.attrs = {
        "Model": f"{attrs.model}.{attrs.version}",
        "CalLMIP_Phase": attrs.phase,
        "Calibration_Scenario": attrs.scenario,
        "Calibration_stage": attrs.stage,
        "Cal_Val": attrs.cal_val,
        "simulation": attrs.simulation,
        "campaign": attrs.campaign,
        "Conventions": "CF-1.8",
        "source": attrs.source,
        "institution": "produced with callmip-global",
    }
    return ds


def _time_axis(ds: xr.Dataset, first_year: int) -> tuple[xr.Dataset, dict]:
    """Keep the native time values (cftime, noleap) and make sure bounds exist."""
    if "time_bnds" not in ds and "time_bounds" in ds:
        ds = ds.rename({"time_bounds": "time_bnds"})
    ds["time"].attrs = {"standard_name": "time", "long_name": "time", "axis": "T"}
    if "time_bnds" in ds:
        ds["time"].attrs["bounds"] = "time_bnds"
    encoding = {"units": f"days since {first_year:04d}-01-01 00:00:00", "calendar": "noleap",
                "dtype": "float64"}
    return ds, encoding


def write_atomic_checked(ds: xr.Dataset, path: Path, encoding: dict) -> Path:
    """Write ``ds`` next to ``path`` under a temporary name, check it, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    ds.to_netcdf(tmp, encoding=encoding, format="NETCDF4")
    try:
        report = check_file(tmp, variables=[v for v in TABLE if v in ds], name=path.name)
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    problems = [f for f in report.findings if f.level == "ERROR"]
    if problems:
        tmp.unlink(missing_ok=True)
        raise ConformError(
            f"{path.name} failed the CalLMIP checks and was not published:\n"
            + "\n".join(f"  {f}" for f in problems)
        )
    os.replace(tmp, path)
    return path


def conform_run(
    driver: ModelDriver,
    native_files: list[Path],
    out_dir: Path,
    attrs: GlobalAttrs,
    resolution: float,
    freq: str,
    last_years: int,
) -> Path:
    """Conform one run's native ``freq`` files (one per year) into one CalLMIP global file."""
    files = sorted(native_files)[-last_years:]
    missing = [f for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(f"native output missing for conform: {missing[:3]}")
    native = xr.open_mfdataset(files, combine="by_coords", data_vars="all",
                               decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)).load()
    mapped = driver.to_callmip(native)
    ds = mapped[[v for v in TABLE if v in mapped]]
    if "time_bnds" in native:
        ds = ds.assign_coords(time_bnds=native["time_bnds"])
    years = native["time"].dt.year.values
    y0, y1 = int(years.min()), int(years.max())
    ds, time_enc = _time_axis(ds, y0)
    ds = _attach_metadata(ds, attrs)
    encoding = {v: {"_FillValue": FILL_VALUE, "dtype": "float32", "zlib": True, "complevel": 1}
                for v in ds.data_vars}
    encoding["time"] = time_enc
    if "time_bnds" in ds:
        encoding["time_bnds"] = {k: time_enc[k] for k in ("units", "calendar")}
    name = global_file_name(attrs.model, attrs.version, resolution, freq, y0, y1, attrs.stage)
    native.close()
    return write_atomic_checked(ds, out_dir / name, encoding)
