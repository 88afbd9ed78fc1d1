"""Turn a model's native output into CalLMIP global files, and publish only files that pass.

Steps for one run: open the native files, map them to CalLMIP variables through the model's
driver (units, sign of nep, reco = ra + rh, per-PFT weighting, ...), keep the last N years
(building annual means from monthly output for models that write only monthly), attach CF
metadata from the table, write to a temporary name, run the checker, and only then rename to
the protocol's file name. A failing file is never published; the error carries the checker's
report.

For a posterior run with ensemble members, the same mapping is applied to every member and
``<var>_post_unc`` = 1 standard deviation across members (ddof=1, same units) is written next
to each optimised variable of the central posterior file (protocol section 6.2), linked by
``ancillary_variables`` and named with the CF ``standard_error`` modifier. Members are folded in
one at a time (Welford), so memory does not grow with the ensemble size.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
import xarray as xr

from callmip.atomic import atomic_path
from callmip.conform.check import check_file
from callmip.conform.table import OPTIMISED, TABLE, global_file_name, post_unc_name, post_unc_parent
from callmip.drivers.base import ModelDriver, NativeOutputError
from callmip.drivers.native_time import BOUNDS_NAMES, annual_means
from regrid import Grid

log = logging.getLogger(__name__)

FILL_VALUE = np.float32(1.0e20)
CELL_METHODS = "area: mean where land time: mean"


class ConformError(RuntimeError):
    """A conformed file failed the CalLMIP checks and was not published."""


@dataclass(frozen=True)
class ConformedFile:
    """One CalLMIP file the conform stage wrote: what it hands to the benchmark stage."""

    run_id: str
    model: str  # <name>.<version>
    stage: str  # Prior | Posterior
    simulation: str  # S0-S3, CO2only..., or <ssp>_<gcm>
    freq: str  # monthly | annual
    path: Path


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
    contact: str | None = None
    institution: str | None = None
    #: what the simulation varies and holds (callmip.simulations), for the reader of the file
    simulation_description: str = ""


def _attach_metadata(ds: xr.Dataset, attrs: GlobalAttrs) -> xr.Dataset:
    for name in list(ds.data_vars):
        parent = post_unc_parent(name)
        if name == "time_bnds":
            continue
        if parent is not None:
            spec = TABLE[parent]
            n = ds[name].attrs.get("ensemble_members")
            meta = {
                "long_name": f"Posterior uncertainty of {spec.long_name.lower()} "
                             f"(1 standard deviation across {n} posterior ensemble members)",
                "units": spec.units, "cell_methods": CELL_METHODS,
                "ensemble_members": n, "ddof": 1,
            }
            if spec.standard_name:
                meta["standard_name"] = f"{spec.standard_name} standard_error"
            ds[name].attrs = meta
            continue
        spec = TABLE[name]
        meta = {"long_name": spec.long_name, "units": spec.units, "cell_methods": CELL_METHODS}
        if spec.standard_name:
            meta["standard_name"] = spec.standard_name
        if post_unc_name(name) in ds:
            meta["ancillary_variables"] = post_unc_name(name)
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
        "institution": attrs.institution or "not given (campaign protocol.institution)",
        **({"contact": attrs.contact} if attrs.contact else {}),
        **({"simulation_description": attrs.simulation_description}
           if attrs.simulation_description else {}),
        "history": "produced with callmip-global",
    }
    return ds


def _time_axis(ds: xr.Dataset, first_year: int) -> tuple[xr.Dataset, dict]:
    """Keep the native time values (cftime, noleap) and make sure bounds exist."""
    if "time_bnds" not in ds and "time_bounds" in ds:
        ds = ds.rename({"time_bounds": "time_bnds"})
    if "time_bnds" in ds.data_vars:
        ds = ds.set_coords("time_bnds")
    ds["time"].attrs = {"standard_name": "time", "long_name": "time", "axis": "T"}
    if "time_bnds" in ds:
        ds["time"].attrs["bounds"] = "time_bnds"
    encoding = {"units": f"days since {first_year:04d}-01-01 00:00:00", "calendar": "noleap",
                "dtype": "float64"}
    return ds, encoding


def write_atomic_checked(ds: xr.Dataset, path: Path, encoding: dict) -> Path:
    """Write ``ds`` next to ``path`` under a temporary name, check it, then rename."""
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, encoding=encoding, format="NETCDF4")
        report = check_file(tmp, variables=[v for v in TABLE if v in ds], name=path.name)
        problems = [f for f in report.findings if f.level == "ERROR"]
        if problems:
            raise ConformError(
                f"{path.name} failed the CalLMIP checks and was not published:\n"
                + "\n".join(f"  {f}" for f in problems)
            )
    return path


def _check_native_variables(driver: ModelDriver, files: list[Path]) -> None:
    """Name the file and variable when a native variable the mapping needs is absent."""
    contents: dict[Path, set[str]] = {}
    for f in files:
        try:
            with netCDF4.Dataset(f) as nc:
                contents[f] = set(nc.variables)
        except OSError as exc:
            raise NativeOutputError(f"{f}: not a readable NetCDF file: {exc}") from exc
    everywhere = driver.files_per_year is not None  # same layout in every file
    union = set().union(*contents.values()) if contents else set()
    for callmip, natives in driver.required_natives().items():
        for native in natives:
            lacking = [f for f, names in contents.items() if native not in names]
            if native not in union:
                where = str(files[0]) if len(files) == 1 else f"none of {[str(f) for f in files]}"
                raise NativeOutputError(
                    f"{where}: native variable {native!r} (needed for {callmip} by the "
                    f"{driver.name} driver) is missing"
                )
            if everywhere and lacking:
                raise NativeOutputError(
                    f"{lacking[0]}: native variable {native!r} (needed for {callmip} by the "
                    f"{driver.name} driver) is missing"
                )


def native_to_callmip(
    driver: ModelDriver, native_files: Sequence[Path], freq: str, last_years: int,
    variables: Sequence[str] | None = None,
) -> xr.Dataset:
    """One run's native files -> CalLMIP variables (in memory) for its last ``last_years``.

    ``variables``: which mapped variables to keep (default: those of the CalLMIP table; the
    spin-up diagnostics also ask for the driver's pools cVeg, cLitter, cTotal).
    """
    files = sorted(Path(f) for f in native_files)
    if driver.files_per_year:
        files = files[-last_years * driver.files_per_year:]
    missing = [f for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(f"native output missing for conform: {missing[:3]}")
    if not files:
        raise FileNotFoundError(f"no native {freq} output files for conform")
    _check_native_variables(driver, files)
    wanted = driver.native_variables() | set(BOUNDS_NAMES)

    def only_wanted(ds: xr.Dataset) -> xr.Dataset:
        return ds[[v for v in ds.data_vars if v in wanted]]

    native = xr.open_mfdataset(files, combine="by_coords", data_vars="all",
                               compat="no_conflicts", preprocess=only_wanted,
                               decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
    try:
        mapped = driver.to_callmip(native, source=files)
        keep = [v for v in (TABLE if variables is None else variables) if v in mapped]
        if "time_bnds" in mapped:
            keep.append("time_bnds")
        mapped = mapped[keep]
        years = np.array([t.year for t in mapped["time"].values])
        mapped = mapped.isel(time=np.flatnonzero(years > years.max() - last_years))
        mapped = mapped.load()
    finally:
        native.close()
    if freq == "annual" and driver.annual_from_monthly:
        mapped = annual_means(mapped)
    return mapped


class RunningSpread:
    """Mean and sample standard deviation of arrays seen one at a time (Welford's update).

    Numerically stable (no sum of squares minus square of sums) and O(1) in the number of
    members; a cell missing in any member stays missing.
    """

    def __init__(self) -> None:
        self.n = 0
        self.mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype="float64")
        if self.mean is None:
            self.mean, self._m2 = np.zeros_like(x), np.zeros_like(x)
        elif x.shape != self.mean.shape:
            raise ValueError(f"member shape {x.shape} differs from {self.mean.shape}")
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self._m2 += delta * (x - self.mean)

    def std(self) -> np.ndarray:
        """1 standard deviation with ddof=1 (an ensemble is a sample of the posterior)."""
        if self.n < 2 or self._m2 is None:
            raise ValueError(f"a spread needs at least 2 members, got {self.n}")
        return np.sqrt(np.maximum(self._m2, 0.0) / (self.n - 1))


def ensemble_spread(
    driver: ModelDriver,
    members: Sequence[Sequence[Path]],
    variables: Sequence[str],
    freq: str,
    last_years: int,
    like: xr.Dataset,
) -> xr.Dataset:
    """1-sigma (ddof=1) spread across members of ``variables``, streamed member by member."""
    if len(members) < 2:
        raise ConformError(f"posterior uncertainty needs at least 2 ensemble members, got "
                           f"{len(members)}")
    spread = {v: RunningSpread() for v in variables}
    for k, files in enumerate(members):
        ds = native_to_callmip(driver, files, freq, last_years)
        if ds.sizes["time"] != like.sizes["time"] or not np.array_equal(
            ds["time"].values, like["time"].values
        ):
            raise ConformError(f"ensemble member {k} ({Path(sorted(files)[0]).parent}) covers "
                               "other times than the central posterior run")
        for v in variables:
            if v not in ds:
                raise ConformError(f"ensemble member {k} has no {v}")
            spread[v].add(ds[v].values)
    out = xr.Dataset(coords={c: like.coords[c] for c in ("time", "lat", "lon")})
    for v in variables:
        out[post_unc_name(v)] = (("time", "lat", "lon"), spread[v].std().astype("float32"),
                                 {"ensemble_members": spread[v].n})
    return out


def conform_run(
    driver: ModelDriver,
    native_files: list[Path],
    out_dir: Path,
    attrs: GlobalAttrs,
    resolution: float,
    freq: str,
    last_years: int,
    *,
    members: Sequence[Sequence[Path]] = (),
    post_unc_variables: Sequence[str] | None = None,
) -> Path:
    """Conform one run's native ``freq`` files into one CalLMIP global file.

    ``members``: native files of each posterior ensemble member; when given (Posterior only),
    ``<var>_post_unc`` is added for ``post_unc_variables`` (default: the protocol's optimised
    variables nep, hfls, hfss).
    """
    ds = native_to_callmip(driver, native_files, freq, last_years)
    if members:
        if attrs.stage != "Posterior":
            raise ConformError("ensemble members given for a Prior run; _post_unc variables are "
                               "posterior uncertainties")
        wanted = list(OPTIMISED if post_unc_variables is None else post_unc_variables)
        unknown = [v for v in wanted if v not in TABLE]
        if unknown:
            raise ConformError(f"post_unc_variables {unknown} are not CalLMIP variables")
        spread = ensemble_spread(driver, members, [v for v in wanted if v in ds], freq,
                                 last_years, ds)
        ds = ds.assign({v: spread[v] for v in spread.data_vars})
        log.info("%s: posterior uncertainty from %d members for %s", attrs.model, len(members),
                 ", ".join(wanted))
    years = np.array([t.year for t in ds["time"].values])
    y0, y1 = int(years.min()), int(years.max())
    ds, time_enc = _time_axis(ds, y0)
    ds = _attach_metadata(ds, attrs)
    encoding = {v: {"_FillValue": FILL_VALUE, "dtype": "float32", "zlib": True, "complevel": 1}
                for v in ds.data_vars}
    encoding["time"] = time_enc
    if "time_bnds" in ds:
        encoding["time_bnds"] = {k: time_enc[k] for k in ("units", "calendar")}
    name = global_file_name(attrs.model, attrs.version, resolution, freq, y0, y1, attrs.stage)
    return write_atomic_checked(ds, out_dir / name, encoding)
