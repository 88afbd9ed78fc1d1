"""Per-variable-year intermediate files ("parts"), their assembly into ``met_<YYYY>.nc``, and
the dask fan-out shared by the historical (CRU-JRA) and scenario (ISIMIP3b) paths.

Contract:

* :func:`write_part` streams blocks of land values (model units, model step) through a
  :class:`~forcing.landregrid.LandRegridder` into ``<var>_<year>.nc``: only the target
  cells that receive land (``landfrac > 0``), uncompressed, with the target ``landfrac`` and a
  digest of the source land mask; written atomically with a manifest.
* :func:`assemble_year` checks that all nine parts come from one land mask and writes the
  model-ready file (:class:`~forcing.modelready.MetWriter`) with provenance and manifest.
* :func:`run_year_tasks` submits one task per variable-year plus one assembly per year to a
  ``distributed.Client`` and fails fast: the first error cancels everything else and is raised.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

from forcing.aggregate import Step
from forcing.conventions import MODEL_VARIABLE_NAMES, MODEL_VARIABLES
from forcing.errors import ForcingError
from forcing.fileio import atomic_path, remove_stale_temporaries
from forcing.landregrid import LandRegridder, target_grid
from forcing.manifest import write_manifest
from forcing.modelready import MetWriter, met_filename

logger = logging.getLogger(__name__)

WORK_DIR = ".work"
_ASSEMBLY_DAYS = 31


def land_digest(land_index: np.ndarray, shape: tuple[int, ...]) -> str:
    """Short digest of a source land mask, to compare masks between variables cheaply."""
    h = hashlib.sha1(str(tuple(shape)).encode(), usedforsecurity=False)
    h.update(np.ascontiguousarray(land_index, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def work_dir(out_dir: Path, year: int) -> Path:
    return Path(out_dir) / WORK_DIR / str(year)


def clean_year(out_dir: Path, year: int) -> None:
    """Remove what a killed run left for ``year``: temporaries of its met file and parts."""
    remove_stale_temporaries(Path(out_dir), met_filename(year))
    remove_stale_temporaries(work_dir(out_dir, year))


def part_path(work: Path, variable: str, year: int) -> Path:
    return Path(work) / f"{variable}_{year}.nc"


def write_part(
    out: Path,
    variable: str,
    regridder: LandRegridder,
    blocks: Iterable[np.ndarray],
    nt_out: int,
    digest: str,
    attrs: Mapping[str, Any],
    params: dict[str, Any],
    inputs: list[dict[str, Any]],
) -> Path:
    """Regrid ``blocks`` of (steps, source land) values and write the part file ``out``."""
    cells = np.flatnonzero(regridder.landfrac.ravel() > 0.0)
    lat, lon = regridder.dst.lat, regridder.dst.lon
    with atomic_path(out) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.createDimension("time", nt_out)
        ds.createDimension("lat", lat.size)
        ds.createDimension("lon", lon.size)
        ds.createDimension("cell", cells.size)
        ds.createVariable("lat", "f8", ("lat",))[:] = lat
        ds.createVariable("lon", "f8", ("lon",))[:] = lon
        ds.createVariable("landfrac", "f4", ("lat", "lon"))[:] = regridder.landfrac
        ds.createVariable("cell_index", "i8", ("cell",))[:] = cells
        var = ds.createVariable(variable, "f4", ("time", "cell"))
        var.units = MODEL_VARIABLES[variable].units
        ds.land_digest = digest
        for key, value in attrs.items():
            setattr(ds, key, value)
        t_out = 0
        for values in blocks:
            regridded = regridder(values).reshape(values.shape[0], -1)[:, cells]
            var[t_out : t_out + regridded.shape[0]] = regridded
            t_out += regridded.shape[0]
        if t_out != nt_out:
            raise ForcingError(out, variable, f"produced {t_out} of {nt_out} steps")
    write_manifest(out, params, inputs)
    return out


def assemble_year(
    year: int,
    parts: Mapping[str, Path],
    out_dir: Path,
    step: Step,
    params: dict[str, Any],
    inputs: list[dict[str, Any]],
    source: str,
) -> Path:
    """Merge the nine parts of ``year`` into ``met_<YYYY>.nc`` (atomic, with manifest)."""
    out = Path(out_dir) / met_filename(year)
    missing = [v for v in MODEL_VARIABLE_NAMES if v not in parts]
    if missing:
        raise ValueError(f"missing parts {missing}")
    with ExitStack() as stack:
        dss = {v: stack.enter_context(netCDF4.Dataset(parts[v])) for v in MODEL_VARIABLE_NAMES}
        ref_name = MODEL_VARIABLE_NAMES[0]
        ref = dss[ref_name]
        for v, ds in dss.items():
            if ds.land_digest != ref.land_digest:
                raise ForcingError(
                    parts[v],
                    v,
                    f"land mask of the {v} sources differs from that of the {ref_name} sources",
                )
        landfrac = np.asarray(ref.variables["landfrac"][:], dtype=np.float32)
        lat = np.asarray(ref.variables["lat"][:])
        lon = np.asarray(ref.variables["lon"][:])
        synthetic = any(int(getattr(ds, "synthetic", 0)) for ds in dss.values())
        attrs = {
            "source": source + (" (SYNTHETIC input data)" if synthetic else ""),
            "provenance_inputs": inputs,
            "provenance_params": params,
            "provenance_software": f"callmip-global {params.get('software')}",
            "land_mask_digest": ref.land_digest,
        }
        grid = target_grid(params["target_res_deg"])
        npix = lat.size * lon.size
        with MetWriter(
            out,
            year,
            lat,
            lon,
            landfrac,
            step,
            attrs,
            lat_bounds=np.asarray(grid.lat_bounds),
            lon_bounds=np.asarray(grid.lon_bounds),
        ) as writer:
            for v, ds in dss.items():
                var = ds.variables[v]
                cells = np.asarray(ds.variables["cell_index"][:])
                for t0 in range(0, var.shape[0], _ASSEMBLY_DAYS):
                    block = np.asarray(var[t0 : t0 + _ASSEMBLY_DAYS], dtype=np.float32)
                    full = np.full((block.shape[0], npix), np.nan, dtype=np.float32)
                    full[:, cells] = block
                    writer.write(v, t0, full.reshape(block.shape[0], lat.size, lon.size))
    write_manifest(out, params, inputs, extra={"year": year})
    return out


def _assemble_task(
    year: int, out_dir: str, step: Step, params: dict, inputs: list, source: str, *parts: str
) -> str:
    named = dict(zip(MODEL_VARIABLE_NAMES, map(Path, parts), strict=True))
    path = assemble_year(year, named, Path(out_dir), step, params, inputs, source)
    shutil.rmtree(work_dir(Path(out_dir), year), ignore_errors=True)
    return str(path)


def run_year_tasks(
    client: Any,
    years: list[int],
    variable_task: Callable[..., str],
    task_args: Callable[[int, str], tuple],
    out_dir: Path,
    step: Step,
    plans: Mapping[int, tuple[dict, list]],
    source: str,
) -> None:
    """Submit ``variable_task(*task_args(year, variable))`` per variable-year, then assemble.

    Workers run one task at a time, so memory per worker is that of one variable-year task;
    tasks return paths only. Earlier years run first (priority), each year's assembly as soon
    as its parts exist.
    """
    from distributed import as_completed

    run = uuid.uuid4().hex[:8]
    futures = []
    for y in years:
        params, inputs = plans[y]
        parts = [
            client.submit(
                variable_task,
                *task_args(y, v),
                key=f"forcing-{v}-{y}-{run}",
                priority=-10 * y,
                pure=False,
            )
            for v in MODEL_VARIABLE_NAMES
        ]
        futures.extend(parts)
        futures.append(
            client.submit(
                _assemble_task,
                y,
                str(out_dir),
                step,
                params,
                inputs,
                source,
                *parts,
                key=f"forcing-assemble-{y}-{run}",
                priority=-10 * y + 5,
                pure=False,
            )
        )
    try:
        for fut in as_completed(futures):
            if fut.status == "error":
                raise fut.exception()
    finally:
        client.cancel(futures)
