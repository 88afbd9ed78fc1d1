"""The model-ready forcing files ``met_<YYYY>.nc``: writer and checker.

Contract (the interface the embedded model reads):

* one file per year, dims (time, lat, lon) plus ``bnds``; 365 daily steps (or 1460 6-hourly
  steps when asked), time in ``days since <YYYY>-01-01 00:00:00`` on the ``noleap`` calendar,
  stamped at the middle of each step, with ``time_bnds``;
* 1-D ``lat`` (south to north) and ``lon`` (from -180) with ``lat_bnds``/``lon_bnds``;
* float32 variables with CF standard_name and units: tas, tasmax, tasmin (K), pr
  (kg m-2 s-1), rsds, rlds (W m-2), huss (kg kg-1), ps (Pa), sfcWind (m s-1); NaN (stored as
  the CF fill 1e20) exactly where the static ``landfrac`` (lat, lon, in [0, 1]) is 0;
* global provenance attributes (inputs, parameters, software, time of creation).

:class:`MetWriter` writes a file atomically (temporary name, ``os.replace`` on success),
variable by variable in blocks of steps so memory stays bounded. :func:`check_model_ready`
re-reads a file and raises :class:`ForcingError` for any departure from the contract.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

from forcing.aggregate import Step
from forcing.conventions import (
    DAYS_PER_YEAR,
    MODEL_VARIABLE_NAMES,
    MODEL_VARIABLES,
    STEPS_PER_DAY,
)
from forcing.errors import ForcingError
from forcing.fileio import atomic_path

logger = logging.getLogger(__name__)

MODEL_FILL = np.float32(1e20)
MODEL_READY_LAYOUT = "callmip-global model-ready met v1"
_CELL_METHODS = {"mean": "time: mean", "max": "time: maximum", "min": "time: minimum"}
_ORDER_TOL_K = 1e-3


def met_filename(year: int) -> str:
    return f"met_{year:04d}.nc"


def steps_per_year(step: Step) -> int:
    return DAYS_PER_YEAR if step == "daily" else DAYS_PER_YEAR * STEPS_PER_DAY


def _time_axis(step: Step) -> tuple[np.ndarray, np.ndarray]:
    n = steps_per_year(step)
    width = 1.0 if step == "daily" else 1.0 / STEPS_PER_DAY
    lower = np.arange(n, dtype=np.float64) * width
    bounds = np.stack([lower, lower + width], axis=1)
    return lower + width / 2.0, bounds


def _bounds(centres: np.ndarray) -> np.ndarray:
    step = (centres[-1] - centres[0]) / (centres.size - 1) if centres.size > 1 else 1.0
    return np.stack([centres - step / 2.0, centres + step / 2.0], axis=1)


class MetWriter:
    """Write one ``met_<YYYY>.nc`` atomically; use as a context manager.

    ``lat``/``lon`` are the target grid's cell centres (south to north, from -180),
    ``lat_bounds``/``lon_bounds`` its (n, 2) cell bounds.
    """

    def __init__(
        self,
        path: Path,
        year: int,
        lat: np.ndarray,
        lon: np.ndarray,
        landfrac: np.ndarray,
        step: Step = "daily",
        attrs: dict[str, Any] | None = None,
        lat_bounds: np.ndarray | None = None,
        lon_bounds: np.ndarray | None = None,
        variables: tuple[str, ...] = MODEL_VARIABLE_NAMES,
    ) -> None:
        self.path = Path(path)
        self.year = year
        self.lat = np.asarray(lat, dtype=np.float64)
        self.lon = np.asarray(lon, dtype=np.float64)
        self.lat_bounds = _bounds(self.lat) if lat_bounds is None else np.asarray(lat_bounds)
        self.lon_bounds = _bounds(self.lon) if lon_bounds is None else np.asarray(lon_bounds)
        self.landfrac = np.asarray(landfrac, dtype=np.float32)
        self.step = step
        self.attrs = dict(attrs or {})
        self.variables = variables
        self._stack = ExitStack()
        self._ds: netCDF4.Dataset | None = None
        self._written: dict[str, int] = {}

    def __enter__(self) -> MetWriter:
        with ExitStack() as stack:
            tmp = stack.enter_context(atomic_path(self.path))
            self._ds = netCDF4.Dataset(tmp, "w", format="NETCDF4")
            stack.callback(self._close)
            self._define()
            self._stack = stack.pop_all()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            missing = [v for v in self.variables if self._written.get(v) != self.nt]
            if missing:
                err = ForcingError(self.path, missing[0], "not all steps written")
                self._stack.__exit__(type(err), err, None)
                raise err
        self._stack.__exit__(exc_type, exc, tb)  # type: ignore[arg-type]

    def _close(self) -> None:
        if self._ds is not None and self._ds.isopen():
            self._ds.close()

    @property
    def nt(self) -> int:
        return steps_per_year(self.step)

    def _define(self) -> None:
        ds = self._ds
        assert ds is not None
        nlat, nlon = self.lat.size, self.lon.size
        ds.createDimension("time", self.nt)
        ds.createDimension("lat", nlat)
        ds.createDimension("lon", nlon)
        ds.createDimension("bnds", 2)
        centres, bounds = _time_axis(self.step)
        t = ds.createVariable("time", "f8", ("time",))
        t.standard_name, t.long_name, t.axis = "time", "time", "T"
        t.units = f"days since {self.year:04d}-01-01 00:00:00"
        t.calendar = "noleap"
        t.bounds = "time_bnds"
        t[:] = centres
        ds.createVariable("time_bnds", "f8", ("time", "bnds"))[:] = bounds
        for name, values, bnds, units, std, axis in (
            ("lat", self.lat, self.lat_bounds, "degrees_north", "latitude", "Y"),
            ("lon", self.lon, self.lon_bounds, "degrees_east", "longitude", "X"),
        ):
            v = ds.createVariable(name, "f8", (name,))
            v.standard_name, v.long_name, v.units, v.axis = std, std, units, axis
            v.bounds = f"{name}_bnds"
            v[:] = values
            ds.createVariable(f"{name}_bnds", "f8", (name, "bnds"))[:] = bnds
        lf = ds.createVariable("landfrac", "f4", ("lat", "lon"), zlib=True, complevel=1)
        lf.standard_name, lf.long_name, lf.units = "land_area_fraction", "land fraction", "1"
        lf.comment = "valid fraction of the land-only source after conservative regridding"
        lf[:] = self.landfrac
        period = "day" if self.step == "daily" else "6 hours"
        for name in self.variables:
            spec = MODEL_VARIABLES[name]
            var = ds.createVariable(
                name,
                "f4",
                ("time", "lat", "lon"),
                fill_value=MODEL_FILL,
                zlib=True,
                complevel=1,
                shuffle=True,
                chunksizes=(1, nlat, nlon),
            )
            var.standard_name = spec.standard_name
            var.long_name = spec.long_name
            var.units = spec.units
            var.cell_methods = (
                f"{_CELL_METHODS[spec.reduce]} (interval: 1 {period}) area: mean where land"
            )
        ds.Conventions = "CF-1.8"
        kind = "daily" if self.step == "daily" else "6-hourly"
        ds.title = f"Model-ready {kind} meteorological forcing {self.year}"
        ds.layout = MODEL_READY_LAYOUT
        ds.institution = "callmip-global"
        ds.history = f"{datetime.now(UTC).isoformat(timespec='seconds')} forcing"
        for key, value in self.attrs.items():
            setattr(ds, key, value if isinstance(value, (str, int, float)) else json.dumps(value))

    def write(self, name: str, t0: int, values: np.ndarray) -> None:
        """Write steps ``t0..t0+len(values)`` of ``name``; NaN becomes the CF fill."""
        assert self._ds is not None
        if name not in self.variables:
            raise ValueError(f"{name} is not a model-ready variable")
        nt = values.shape[0]
        var = self._ds.variables[name]
        var.set_auto_mask(False)
        var[t0 : t0 + nt] = np.where(np.isnan(values), MODEL_FILL, values).astype(np.float32)
        self._written[name] = self._written.get(name, 0) + nt


# ------------------------------------------------------------------------------- checks
def _fail(path: Path, var: str | None, problem: str, **kw: Any) -> ForcingError:
    return ForcingError(path, var, problem, **kw)


def iter_variable(
    ds: netCDF4.Dataset, name: str, block: int = 31
) -> Iterator[tuple[int, np.ndarray]]:
    var = ds.variables[name]
    var.set_auto_mask(False)
    fill = np.float32(getattr(var, "_FillValue", MODEL_FILL))
    for t0 in range(0, var.shape[0], block):
        raw = np.asarray(var[t0 : t0 + block], dtype=np.float32)
        yield t0, np.where(raw == fill, np.float32(np.nan), raw)


def check_model_ready(path: Path) -> None:
    """Raise :class:`ForcingError` unless ``path`` follows the model-ready contract."""
    path = Path(path)
    if not path.exists():
        raise _fail(path, None, "missing model-ready file")
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise _fail(path, None, f"cannot open as netCDF: {exc}") from exc
    with ds:
        for dim in ("time", "lat", "lon"):
            if dim not in ds.dimensions:
                raise _fail(path, dim, "missing dimension")
        nt = len(ds.dimensions["time"])
        if nt not in (DAYS_PER_YEAR, DAYS_PER_YEAR * STEPS_PER_DAY):
            raise _fail(path, "time", f"{nt} steps, expected 365 (daily) or 1460 (6-hourly)")
        t = ds.variables["time"]
        if getattr(t, "calendar", None) != "noleap":
            raise _fail(
                path, "time", f"calendar {getattr(t, 'calendar', None)!r}, expected 'noleap'"
            )
        if not str(getattr(t, "units", "")).startswith("days since"):
            raise _fail(path, "time", f"units {getattr(t, 'units', None)!r}, expected 'days since'")
        if "time_bnds" not in ds.variables or getattr(t, "bounds", None) != "time_bnds":
            raise _fail(path, "time", "missing time_bnds")
        tv = np.asarray(t[:])
        tb = np.asarray(ds.variables["time_bnds"][:])
        if not (
            np.all(tb[:, 0] <= tv) and np.all(tv <= tb[:, 1]) and np.allclose(tb[1:, 0], tb[:-1, 1])
        ):
            raise _fail(path, "time", "time_bnds do not bracket contiguous steps")
        if not np.isclose(tb[-1, 1] - tb[0, 0], DAYS_PER_YEAR):
            raise _fail(path, "time", "the steps do not span 365 days")
        for name in ("lat", "lon"):
            if name not in ds.variables or ds.variables[name].ndim != 1:
                raise _fail(path, name, "missing 1-D coordinate")
            if f"{name}_bnds" not in ds.variables:
                raise _fail(path, name, f"missing {name}_bnds")
        lat = np.asarray(ds.variables["lat"][:])
        if not np.all(np.diff(lat) > 0):
            raise _fail(path, "lat", "latitude must increase (south to north)")
        if "landfrac" not in ds.variables:
            raise _fail(path, "landfrac", "missing variable")
        landfrac = np.asarray(ds.variables["landfrac"][:], dtype=np.float64)
        if landfrac.shape != (lat.size, len(ds.dimensions["lon"])):
            raise _fail(path, "landfrac", f"shape {landfrac.shape}, expected (lat, lon)")
        if not np.all(np.isfinite(landfrac)) or landfrac.min() < 0.0 or landfrac.max() > 1.0 + 1e-6:
            raise _fail(
                path, "landfrac", "values outside [0, 1]", value=float(np.nanmax(np.abs(landfrac)))
            )
        land = landfrac > 0.0
        lon = np.asarray(ds.variables["lon"][:])
        for name in MODEL_VARIABLE_NAMES:
            spec = MODEL_VARIABLES[name]
            if name not in ds.variables:
                raise _fail(path, name, "missing variable")
            var = ds.variables[name]
            if var.dimensions != ("time", "lat", "lon") or var.dtype != np.float32:
                raise _fail(
                    path,
                    name,
                    f"expected float32 (time, lat, lon), got {var.dtype} {var.dimensions}",
                )
            if (
                getattr(var, "units", None) != spec.units
                or getattr(var, "standard_name", None) != spec.standard_name
            ):
                raise _fail(
                    path,
                    name,
                    f"units/standard_name {getattr(var, 'units', None)!r}/"
                    f"{getattr(var, 'standard_name', None)!r}, "
                    f"expected {spec.units!r}/{spec.standard_name!r}",
                )
            for t0, vals in iter_variable(ds, name):
                finite = np.isfinite(vals)
                wrong = finite != land[None, :, :]
                if wrong.any():
                    s, i, j = np.argwhere(wrong)[0]
                    what = (
                        "NaN on a land cell (landfrac > 0)"
                        if land[i, j]
                        else "a value where landfrac == 0"
                    )
                    raise _fail(
                        path,
                        name,
                        what,
                        value=float(vals[s, i, j]),
                        where=f"step {t0 + s}, lat {lat[i]:.3f}, lon {lon[j]:.3f}",
                    )
                v = vals[finite]
                if v.size and (v.min() < spec.valid_min or v.max() > spec.valid_max):
                    bad = v.min() if v.min() < spec.valid_min else v.max()
                    raise _fail(
                        path,
                        name,
                        f"outside the physical range [{spec.valid_min:g}, {spec.valid_max:g}] "
                        f"{spec.units}",
                        value=float(bad),
                        where=f"steps {t0}..{t0 + vals.shape[0] - 1}",
                    )
        _check_temperature_order(ds, path)


def _check_temperature_order(ds: netCDF4.Dataset, path: Path) -> None:
    blocks = zip(
        iter_variable(ds, "tasmin"),
        iter_variable(ds, "tas"),
        iter_variable(ds, "tasmax"),
        strict=True,
    )
    for (t0, tmin), (_, tas), (_, tmax) in blocks:
        with np.errstate(invalid="ignore"):
            bad = (tmin > tas + _ORDER_TOL_K) | (tas > tmax + _ORDER_TOL_K)
        if bad.any():
            s, i, j = np.argwhere(bad)[0]
            raise _fail(
                path,
                "tas",
                "tasmin <= tas <= tasmax violated",
                value=(float(tmin[s, i, j]), float(tas[s, i, j]), float(tmax[s, i, j])),
                where=f"step {t0 + s}, lat index {i}, lon index {j}",
            )
