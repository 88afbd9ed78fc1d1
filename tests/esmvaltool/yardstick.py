"""The yardstick of the ESMValTool bridge tests: bias, period means and RMSE of every model file
and product computed with the project's ``regrid`` package, as ESMValCore's recipe defines them.

The model is regridded conservatively to the reference grid (as ESMValCore's ``area_weighted``
scheme does), period means weighted by month length, area-weighted means over the cells valid in
both, RMSE of the mean annual cycles. (The benchmark itself compares on ILAMB's composed grid
instead - nearest copy, not conservative remapping - so it is not the yardstick.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from benchmarks.catalog import load_catalog
from benchmarks.confront import _common_steps
from benchmarks.fields import DAYS_PER_MONTH, cell_areas, time_mean
from benchmarks.gridded import read_model_variable, read_reference
from benchmarks.units import convert, needs_period_length
from esmvaltool_bridge.layout import find_model_outputs
from regrid import Grid, Regridder

REPO = Path(__file__).resolve().parents[2]


def _grid(series) -> Grid:
    return Grid(lat=series.lat, lon=series.lon, lat_bounds=np.clip(series.lat_bounds, -90, 90),
                lon_bounds=series.lon_bounds)


def _area_mean(values: np.ndarray, area: np.ndarray) -> float:
    ok = np.isfinite(values)
    return float((values[ok] * area[ok]).sum() / area[ok].sum())


def recipe_yardstick(run_dir: Path, keys=("hfls/FLUXCOM", "hfss/FLUXCOM", "evspsbl/GLEAM4.2a")
                     ) -> pd.DataFrame:
    """Bias, period means and RMSE of every model file of ``run_dir`` and product in ``keys``."""
    catalog = [p for p in load_catalog(REPO / "configs/references.yaml", REPO / "data/ILAMB_ROOT")
               if p.key in keys]
    rows = []
    for output in find_model_outputs(run_dir):
        for product in catalog:
            model = read_model_variable(output.monthly_path, product.variable)
            ref = read_reference(product.paths, product.file_variable, product.units, None,
                                 product.period)
            mi, ri = _common_steps(model, ref)
            model, ref = model.select(mi), ref.select(ri)
            da = xr.DataArray(np.asarray(model.values, float), dims=("time", "lat", "lon"),
                              coords={"lat": model.lat, "lon": model.lon})
            com = Regridder(_grid(model), _grid(ref), method="conservative")(da).values
            days = ref.days if needs_period_length(ref.units) else None
            r = convert(np.asarray(ref.values, float), ref.units, product.display_units,
                        days_in_period=days)
            c = convert(com, model.units, product.display_units)
            valid = np.isfinite(r).any(axis=0) & np.isfinite(c).any(axis=0)
            r, c = np.where(valid, r, np.nan), np.where(valid, c, np.nan)
            dt = DAYS_PER_MONTH[ref.month - 1]
            area = cell_areas(ref.lat_bounds, ref.lon_bounds)
            flat = lambda x: x.reshape(x.shape[0], -1)  # noqa: E731
            r_mean = time_mean(flat(r), dt).reshape(valid.shape)
            c_mean = time_mean(flat(c), dt).reshape(valid.shape)
            cyc = [np.stack([np.nanmean(x[ref.month == m], axis=0) for m in range(1, 13)])
                   for x in (r, c)]
            rmse = np.sqrt(np.tensordot(DAYS_PER_MONTH, (cyc[1] - cyc[0]) ** 2, axes=1) / 365)
            ids = {"source": output.model, "stage": output.stage,
                    "variable": product.variable, "product": product.product}
            for name, value in (("Reference Period Mean", _area_mean(r_mean, area)),
                                ("Period Mean", _area_mean(c_mean, area)),
                                ("Bias", _area_mean(c_mean - r_mean, area)),
                                ("RMSE", _area_mean(rmse, area))):
                rows.append({**ids, "name": name, "value": value})
    return pd.DataFrame(rows)
