"""Write a campaign's CalLMIP files and its reference products in the layout ESMValCore reads.

Contract: :func:`write_layout` takes the campaign's monthly CalLMIP files (one per model and
calibration stage) and the resolved reference catalog, and writes under ``data_dir``:

* ``CMIP6/<short_name>_Amon_<dataset>_<exp>_<ensemble>_gn_<YYYYMM>-<YYYYMM>.nc`` - one
  CMOR-like file per model, stage and variable, found by ESMValCore's CMIP6 ``default`` DRS
  (``input_dir: /``). The CalLMIP model ``CELM-A.v1`` becomes dataset ``CELM-A-v1``, the
  simulation (S3) the experiment, and the calibration stage the ensemble label (``prior``,
  ``posterior``), so one recipe holds both stages of every model;
* ``OBS6/Tier<t>/<dataset>/OBS6_<dataset>_<type>_<version>_Amon_<short_name>_<YYYYMM>-<YYYYMM>.nc``
  - each reference product CMORized like ESMValTool's own CMORizers do (hfls/hfss in W m-2,
  GLEAM evaporation as ``evspsbl`` in kg m-2 s-1).

The values are read with the benchmark package's own readers (``benchmarks.gridded``), so
ESMValTool sees exactly the numbers our benchmark scores, in CMOR units: longitudes 0..360,
latitudes ascending with bounds clipped to the poles, time on the 365-day calendar with
monthly bounds (the ILAMB convention our benchmark uses for every product; a Gregorian
reference is relabelled by (year, month), which keeps its monthly values and weights every
February by 28 days as our benchmark does). Values are stored as float64 (exact copies of the
float32 inputs): ESMValCore keeps a cube's dtype through regridding and statistics, and a
float32 area mean of ~50 W m-2 is only good to ~4e-6, while our benchmark computes in float64
and the two bias tables must agree to 1e-6. Files are written to a temporary name in the same
directory and renamed, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from benchmarks.catalog import ReferenceProduct
from benchmarks.confront import ModelOutput
from benchmarks.errors import NotComparableError
from benchmarks.gridded import GriddedSeries, read_model_variable, read_reference
from benchmarks.units import convert
from callmip.atomic import atomic_path
from callmip.conform.table import parse_global_file_name
from esmvaltool_bridge.cmor import CMOR_VARIABLES, CmorVariable, Obs6Dataset, obs6_name
from esmvaltool_bridge.errors import LayoutError

logger = logging.getLogger(__name__)

TIME_UNITS = "days since 1850-01-01 00:00:00"
CALENDAR = "365_day"
FILL = 1.0e20
GRID_LABEL = "gn"


@dataclass(frozen=True)
class ModelDataset:
    """One model and calibration stage as an ESMValTool CMIP6 dataset."""

    model: str
    stage: str
    dataset: str
    exp: str
    ensemble: str
    variables: tuple[str, ...]
    years: tuple[int, int]

    @property
    def alias(self) -> str:
        return f"{self.model} {self.stage}"


@dataclass(frozen=True)
class ReferenceDataset:
    """One reference product as an ESMValTool OBS6 dataset."""

    variable: str
    product: str
    obs6: Obs6Dataset
    years: tuple[int, int]
    path: Path
    citation: str


@dataclass(frozen=True)
class Layout:
    """What :func:`write_layout` wrote: the rootpaths and the datasets for the recipe."""

    data_dir: Path
    models: tuple[ModelDataset, ...]
    references: tuple[ReferenceDataset, ...]

    @property
    def rootpath(self) -> dict[str, str]:
        return {"CMIP6": str(self.data_dir / "CMIP6"), "OBS6": str(self.data_dir / "OBS6")}


def esmvaltool_dataset_name(model: str) -> str:
    """ESMValTool dataset name of a CalLMIP model name (dots are not DRS-safe: ``-``)."""
    return model.replace(".", "-").replace("_", "-")


def find_model_outputs(run_dir: Path, simulation: str = "S3") -> list[ModelOutput]:
    """The monthly CalLMIP files of ``run_dir/callmip/<simulation>/``, parsed from their names
    (by the one parser, :func:`callmip.conform.table.parse_global_file_name`)."""
    sim_dir = Path(run_dir) / "callmip" / simulation
    outputs = []
    for path in sorted(sim_dir.glob("*_monthly_*.nc")):
        name = parse_global_file_name(path.name)
        if name is not None and name.frequency == "monthly":
            outputs.append(ModelOutput(name.model_id, name.stage, path))  # type: ignore[arg-type]
    if not outputs:
        raise LayoutError(
            f"{sim_dir}: no monthly CalLMIP files (<model>_global_<res>_monthly_<y0>-<y1>_"
            "<Prior|Posterior>.nc); has the campaign's conform stage run?"
        )
    return outputs


def _to_0_360(series: GriddedSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Longitudes, bounds and values rolled so centres lie in [0, 360) increasing (CMOR)."""
    lon = np.mod(series.lon, 360.0)
    order = np.argsort(lon, kind="stable")
    lon = lon[order]
    shift = lon - series.lon[order]
    lon_b = series.lon_bounds[order] + shift[:, None]
    return lon, lon_b, series.values[..., order]


def write_cmor_file(
    path: Path,
    series: GriddedSeries,
    cmor: CmorVariable,
    global_attributes: dict[str, str],
) -> Path:
    """Write ``series`` (already in ``cmor.units``) as a CMOR-like monthly NetCDF file."""
    lon, lon_b, values = _to_0_360(series)
    lat_b = np.clip(series.lat_bounds, -90.0, 90.0)
    time_b = series.time_bounds
    with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.setncatts({"Conventions": "CF-1.7 CMIP-6.2", **global_attributes})
        ds.createDimension("time", None)
        ds.createDimension("lat", series.lat.size)
        ds.createDimension("lon", lon.size)
        ds.createDimension("bnds", 2)
        t = ds.createVariable("time", "f8", ("time",))
        t.setncatts({"standard_name": "time", "long_name": "time", "units": TIME_UNITS,
                     "calendar": CALENDAR, "axis": "T", "bounds": "time_bnds"})
        t[:] = time_b.mean(axis=1)
        ds.createVariable("time_bnds", "f8", ("time", "bnds"))[:] = time_b
        y = ds.createVariable("lat", "f8", ("lat",))
        y.setncatts({"standard_name": "latitude", "long_name": "Latitude",
                     "units": "degrees_north", "axis": "Y", "bounds": "lat_bnds"})
        y[:] = series.lat
        ds.createVariable("lat_bnds", "f8", ("lat", "bnds"))[:] = lat_b
        x = ds.createVariable("lon", "f8", ("lon",))
        x.setncatts({"standard_name": "longitude", "long_name": "Longitude",
                     "units": "degrees_east", "axis": "X", "bounds": "lon_bnds"})
        x[:] = lon
        ds.createVariable("lon_bnds", "f8", ("lon", "bnds"))[:] = lon_b
        v = ds.createVariable(
            cmor.short_name, "f8", ("time", "lat", "lon"), zlib=True, complevel=1,
            fill_value=FILL,
        )
        attrs = {"standard_name": cmor.standard_name, "long_name": cmor.long_name,
                 "units": cmor.units, "cell_methods": "area: time: mean",
                 "missing_value": FILL}
        if cmor.positive:
            attrs["positive"] = cmor.positive
        v.setncatts(attrs)
        data = np.asarray(values, dtype=np.float64)
        v[:] = np.where(np.isfinite(data), data, FILL)
    return path


def _timerange(series: GriddedSeries) -> str:
    first, last = 0, series.year.size - 1
    return (f"{series.year[first]:04d}{series.month[first]:02d}-"
            f"{series.year[last]:04d}{series.month[last]:02d}")


def _within(series: GriddedSeries, years: tuple[int, int]) -> GriddedSeries:
    keep = np.flatnonzero((series.year >= years[0]) & (series.year <= years[1]))
    return series.select(keep)


def write_model_files(
    outputs: Sequence[ModelOutput],
    variables: Sequence[str],
    cmip6_dir: Path,
    simulation: str = "S3",
) -> tuple[ModelDataset, ...]:
    """Write one CMIP6-like file per model output and variable; return the datasets."""
    datasets = []
    for output in outputs:
        dataset = esmvaltool_dataset_name(output.model)
        ensemble = output.stage.lower()
        written: list[str] = []
        years: tuple[int, int] | None = None
        for variable in variables:
            cmor = CMOR_VARIABLES[variable]
            try:
                series = read_model_variable(output.monthly_path, variable)
            except NotComparableError:
                logger.info("%s has no %s: not laid out", output.monthly_path.name, variable)
                continue
            values = convert(series.values, series.units, cmor.units)
            series = series.with_values(values, cmor.units)
            name = (f"{variable}_{cmor.mip}_{dataset}_{simulation}_{ensemble}_{GRID_LABEL}_"
                    f"{_timerange(series)}.nc")
            write_cmor_file(
                cmip6_dir / name, series, cmor,
                {"source_id": dataset, "experiment_id": simulation, "variant_label": ensemble,
                 "callmip_model": output.model, "callmip_stage": output.stage,
                 "history": f"from {output.monthly_path} by callmip-global esmvaltool_bridge"},
            )
            written.append(variable)
            years = (int(series.year.min()), int(series.year.max()))
        if written and years is not None:
            datasets.append(ModelDataset(output.model, output.stage, dataset, simulation,
                                         ensemble, tuple(written), years))
    return tuple(datasets)


def write_reference_files(
    catalog: Sequence[ReferenceProduct], variables: Sequence[str], obs6_dir: Path
) -> tuple[ReferenceDataset, ...]:
    """CMORize every available product of ``variables`` into the OBS6 tree."""
    refs = []
    for product in catalog:
        if product.variable not in variables or not product.available:
            continue
        cmor = CMOR_VARIABLES[product.variable]
        units = product.units or ""
        try:
            series = read_reference(product.paths, product.file_variable, units, cmor.units,
                                    product.period)
        except Exception as exc:  # the benchmark's reader raises typed errors with the file name
            raise LayoutError(
                f"reference {product.key} ({product.paths[0] if product.paths else '?'}): "
                f"cannot be CMORized as {cmor.short_name} [{cmor.units}]: {exc}"
            ) from exc
        if series.static:
            logger.info("%s is static (no time axis): not laid out for ESMValTool", product.key)
            continue
        obs6 = obs6_name(product.product)
        name = (f"OBS6_{obs6.dataset}_{obs6.type}_{obs6.version}_{cmor.mip}_{cmor.short_name}_"
                f"{_timerange(series)}.nc")
        path = write_cmor_file(
            obs6_dir / f"Tier{obs6.tier}" / obs6.dataset / name, series, cmor,
            {"project_id": "OBS6", "dataset_id": obs6.dataset, "tier": str(obs6.tier),
             "type": obs6.type, "version": obs6.version, "reference": product.citation,
             "source": ", ".join(str(p) for p in product.paths),
             "history": f"CMORized from {product.file_variable} [{units or 'file units'}] by "
                        "callmip-global esmvaltool_bridge; months relabelled on the 365-day "
                        "calendar (ILAMB convention)"},
        )
        refs.append(ReferenceDataset(product.variable, product.product, obs6,
                                     (int(series.year.min()), int(series.year.max())), path,
                                     product.citation))
    return tuple(refs)


def write_layout(
    outputs: Sequence[ModelOutput],
    catalog: Sequence[ReferenceProduct],
    data_dir: Path,
    variables: Sequence[str],
    simulation: str = "S3",
) -> Layout:
    """Write model and reference files for ``variables``; see the module docstring."""
    data_dir = Path(data_dir)
    wanted = [v for v in variables if v in CMOR_VARIABLES]
    unknown = [v for v in variables if v not in CMOR_VARIABLES]
    if unknown:
        logger.info("no CMOR entry for %s in the bridge: left to the ILAMB-style benchmark",
                    unknown)
    if not wanted:
        raise LayoutError(
            f"none of the variables {list(variables)} can be evaluated with ESMValTool "
            f"(supported: {sorted(CMOR_VARIABLES)})"
        )
    refs = write_reference_files(catalog, wanted, data_dir / "OBS6")
    if not refs:
        raise LayoutError(
            f"no reference product of {wanted} is available (check references.catalog and "
            "references.ilamb_root)"
        )
    ref_vars = sorted({r.variable for r in refs})
    models = write_model_files(outputs, ref_vars, data_dir / "CMIP6", simulation)
    if not models:
        raise LayoutError(f"no model file holds any of {ref_vars}")
    return Layout(data_dir, models, refs)
