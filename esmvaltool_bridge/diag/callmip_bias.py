"""ESMValTool diagnostic of callmip-global: bias and RMSE tables, bias maps, provenance.

Run by ESMValCore as ``python callmip_bias.py settings.yml`` (the ESMValTool Python diagnostic
interface): ``settings.yml`` lists ``input_files`` (each a preprocessor ``metadata.yml``
mapping preprocessed NetCDF files to their facets), ``work_dir``, ``plot_dir`` and ``run_dir``.

Definitions are those of the ILAMB-style benchmark (benchmarks/analyses), applied to the
fields ESMValCore preprocessed (regridded to the reference grid, masked to the cells valid
in every dataset):

* bias = area-weighted mean over the common cells of (model period mean - reference period
  mean); from the ``*_global`` groups (``climate_statistics`` + ``area_statistics``) as
  model mean - reference mean, which is the same number because mask and weights are common;
* RMSE = area-weighted mean over the common cells of sqrt(sum_m d_m (c_m - r_m)^2 / 365), c and
  r the mean annual cycles (``climate_statistics`` period ``month``), d_m the days of month m
  (ILAMB's RMSE on the climatology).

Writes ``work_dir/callmip_bias_rmse.csv`` (one row per model, stage and reference product),
``work_dir/bias_<var>_<product>.nc`` (bias maps), ``plot_dir/bias_<var>_<product>.png`` and a
provenance record for each (ESMValTool's ``ProvenanceLogger`` when ESMValTool is installed,
otherwise the same ``diagnostic_provenance.yml`` format written here). Only numpy, netCDF4,
PyYAML and matplotlib are needed.
"""

from __future__ import annotations

import csv
import logging
import os
import sys
from collections import defaultdict
from pathlib import Path

import netCDF4
import numpy as np
import yaml

logger = logging.getLogger(Path(__file__).stem)

DAYS_PER_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)
#: ILAMB's radius; a copy of callmip.constants.EARTH_RADIUS_M (this script runs without
#: callmip; tests/config/test_constants.py checks they agree)
EARTH_RADIUS_M = 6.371e6
#: CMOR units -> units of the benchmark's tables (the report's display units).
DISPLAY = {"kg m-2 s-1": ("mm d-1", 86400.0)}
COLUMNS = ("variable", "product", "model", "stage", "dataset", "alias", "period", "units",
           "reference_mean", "model_mean", "bias", "rmse", "bias_from_maps")


class ProvenanceRecorder:
    """ESMValTool's provenance file format: ``{output file: record}`` in ``run_dir``.

    Used only when ``esmvaltool.diag_scripts.shared.ProvenanceLogger`` cannot be imported.
    """

    def __init__(self, cfg: dict) -> None:
        self.path = Path(cfg["run_dir"]) / "diagnostic_provenance.yml"
        self.table: dict[str, dict] = {}

    def __enter__(self) -> ProvenanceRecorder:
        if self.path.exists():
            self.table = yaml.safe_load(self.path.read_text()) or {}
        return self

    def log(self, filename: str | Path, record: dict) -> None:
        if str(filename) in self.table:
            raise KeyError(f"provenance of {filename} is already recorded")
        self.table[str(filename)] = dict(record)

    def __exit__(self, *exc) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(yaml.safe_dump(self.table))
        os.replace(tmp, self.path)


def provenance_logger(cfg: dict):
    """ESMValTool's logger if installed, else :class:`ProvenanceRecorder`."""
    try:
        from esmvaltool.diag_scripts.shared import ProvenanceLogger
    except ImportError:
        return ProvenanceRecorder(cfg)
    return ProvenanceLogger(cfg)


def load_settings(path: Path) -> tuple[dict, dict[str, dict]]:
    """Settings and the merged metadata of every input file."""
    cfg = yaml.safe_load(Path(path).read_text())
    metadata: dict[str, dict] = {}
    for name in cfg["input_files"]:
        meta_file = Path(name)
        if meta_file.name == "metadata.yml":
            metadata.update(yaml.safe_load(meta_file.read_text()) or {})
    return cfg, metadata


def read_field(path: str, short_name: str) -> tuple[np.ndarray, netCDF4.Dataset]:
    """The variable as float64 with masked values as NaN (and the open dataset)."""
    ds = netCDF4.Dataset(path)
    data = np.ma.filled(np.ma.asarray(ds.variables[short_name][:], dtype=np.float64), np.nan)
    return data, ds


def cell_areas(ds: netCDF4.Dataset) -> np.ndarray:
    """Spherical cell areas [m2] of the file's lat/lon grid from its bounds."""
    lat_b = np.clip(np.asarray(ds.variables[ds.variables["lat"].bounds][:], float), -90, 90)
    lon_b = np.asarray(ds.variables[ds.variables["lon"].bounds][:], float)
    dsin = np.abs(np.sin(np.deg2rad(lat_b[:, 1])) - np.sin(np.deg2rad(lat_b[:, 0])))
    dlon = np.abs(np.deg2rad(lon_b[:, 1] - lon_b[:, 0]))
    return EARTH_RADIUS_M**2 * np.outer(dsin, dlon)


def area_mean(values: np.ndarray, area: np.ndarray) -> float:
    """Area-weighted mean over the finite cells."""
    ok = np.isfinite(values)
    if not ok.any():
        return float("nan")
    return float((values[ok] * area[ok]).sum() / area[ok].sum())


def group_files(metadata: dict[str, dict]) -> dict[str, dict[str, list[tuple[str, dict]]]]:
    """``{<var>_<product> key: {kind: [(file, meta), ...]}}`` from the variable groups."""
    groups: dict[str, dict[str, list[tuple[str, dict]]]] = defaultdict(lambda: defaultdict(list))
    for path, meta in metadata.items():
        key, _, kind = meta["variable_group"].rpartition("_")
        groups[key][kind].append((path, meta))
    return groups


def _reference(items: list[tuple[str, dict]]) -> tuple[str, dict]:
    refs = [(p, m) for p, m in items if m.get("callmip_role") == "reference"]
    if len(refs) != 1:
        raise ValueError(f"expected one reference dataset, found {len(refs)} in {items}")
    return refs[0]


def _models(items: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    return sorted((x for x in items if x[1].get("callmip_role") == "model"),
                  key=lambda x: (x[1]["callmip_model"], x[1]["callmip_stage"]))


def _display(units: str) -> tuple[str, float]:
    return DISPLAY.get(units, (units, 1.0))


def evaluate_key(key: str, kinds: dict[str, list[tuple[str, dict]]]) -> tuple[list[dict], dict]:
    """Rows of the table and bias maps of one ``<var>_<product>``."""
    ref_g, ref_meta = _reference(kinds["global"])
    short = ref_meta["short_name"]
    units, factor = _display(ref_meta.get("units", ""))
    ref_val, ds = read_field(ref_g, short)
    ds.close()
    ref_mean = float(np.nanmean(ref_val)) * factor
    ref_map_file, _ = _reference(kinds["map"])
    ref_map, ds = read_field(ref_map_file, short)
    area = cell_areas(ds)
    lat, lon = ds.variables["lat"][:], ds.variables["lon"][:]
    ds.close()
    ref_cyc_file, _ = _reference(kinds["cycle"])
    ref_cyc, ds = read_field(ref_cyc_file, short)
    month_order = _month_order(ds)
    ds.close()
    cycle_by_alias = {m["alias"]: p for p, m in _models(kinds["cycle"])}
    map_by_alias = {m["alias"]: p for p, m in _models(kinds["map"])}
    rows, bias_maps = [], {}
    for path, meta in _models(kinds["global"]):
        model_val, ds = read_field(path, short)
        ds.close()
        model_mean = float(np.nanmean(model_val)) * factor
        com_map, ds = read_field(map_by_alias[meta["alias"]], short)
        ds.close()
        bias_map = (com_map - ref_map) * factor
        com_cyc, ds = read_field(cycle_by_alias[meta["alias"]], short)
        ds.close()
        diff = (com_cyc - ref_cyc)[month_order] * factor
        rmse_map = np.sqrt(np.tensordot(DAYS_PER_MONTH, diff**2, axes=1) / DAYS_PER_MONTH.sum())
        bias_maps[meta["alias"]] = bias_map
        rows.append({
            "variable": short,
            "product": meta["callmip_product"],
            "model": meta["callmip_model"],
            "stage": meta["callmip_stage"],
            "dataset": meta["dataset"],
            "alias": meta["alias"],
            "period": meta["timerange"].replace("/", "-"),
            "units": units,
            "reference_mean": ref_mean,
            "model_mean": model_mean,
            "bias": model_mean - ref_mean,
            "rmse": area_mean(rmse_map, area),
            "bias_from_maps": area_mean(bias_map, area),
        })
    return rows, {"lat": np.asarray(lat), "lon": np.asarray(lon), "maps": bias_maps,
                  "units": units, "short_name": short, "product": ref_meta["callmip_product"],
                  "ancestors": [p for kind in kinds.values() for p, _ in kind]}


def _month_order(ds: netCDF4.Dataset) -> np.ndarray:
    """Indices putting the climatology's steps in calendar order (month_number 1..12)."""
    if "month_number" in ds.variables:
        months = np.asarray(ds.variables["month_number"][:], dtype=int)
        if sorted(months.tolist()) != list(range(1, 13)):
            raise ValueError(f"{ds.filepath()}: month_number is {months}, expected 1..12")
        return np.argsort(months)
    return np.arange(12)


def write_maps(path: Path, info: dict) -> None:
    """Bias maps of every model and stage on the reference grid."""
    tmp = path.with_name(f".{path.name}.tmp")
    with netCDF4.Dataset(tmp, "w") as ds:
        ds.title = f"bias of {info['short_name']} against {info['product']}"
        ds.createDimension("lat", info["lat"].size)
        ds.createDimension("lon", info["lon"].size)
        ds.createVariable("lat", "f8", ("lat",))[:] = info["lat"]
        ds.createVariable("lon", "f8", ("lon",))[:] = info["lon"]
        for i, (alias, bias) in enumerate(info["maps"].items()):
            v = ds.createVariable(f"bias_{i}", "f4", ("lat", "lon"), fill_value=np.float32(1e20))
            v.long_name = f"{alias} minus {info['product']} (period mean)"
            v.units = info["units"]
            v[:] = np.ma.masked_invalid(bias)
    os.replace(tmp, path)


def plot_maps(path: Path, info: dict) -> None:
    """One panel per model and stage, a symmetric colour scale shared by all panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    maps = info["maps"]
    n = len(maps)
    ncol = 2 if n > 1 else 1
    nrow = (n + ncol - 1) // ncol
    vmax = max(float(np.nanmax(np.abs(m))) for m in maps.values()) or 1.0
    fig, axes = plt.subplots(nrow, ncol, figsize=(6 * ncol, 3.2 * nrow), squeeze=False)
    for ax, (alias, bias) in zip(axes.flat, maps.items(), strict=False):
        mesh = ax.pcolormesh(info["lon"], info["lat"], bias, cmap="RdBu_r", vmin=-vmax,
                             vmax=vmax, shading="nearest")
        ax.set_title(f"{alias} - {info['product']}", fontsize=9)
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        fig.colorbar(mesh, ax=ax, label=f"{info['short_name']} bias [{info['units']}]")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_table(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    os.replace(tmp, path)


def record(caption: str, ancestors: list[str], plot_type: str | None = None) -> dict:
    rec = {
        "caption": caption,
        "ancestors": sorted(set(ancestors)),
        "authors": ["callmip_global"],
        "projects": ["callmip"],
        "realms": ["land"],
        "domains": ["global"],
        "statistics": ["bias", "rmsd"],
        "themes": ["phys"],
    }
    if plot_type:
        rec["plot_types"] = [plot_type]
    return rec


def main(settings_file: str) -> None:
    cfg, metadata = load_settings(Path(settings_file))
    logging.basicConfig(level=cfg.get("log_level", "info").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    work_dir, plot_dir = Path(cfg["work_dir"]), Path(cfg["plot_dir"])
    work_dir.mkdir(parents=True, exist_ok=True)
    plot_dir.mkdir(parents=True, exist_ok=True)
    all_rows: list[dict] = []
    with provenance_logger(cfg) as provenance:
        all_ancestors: list[str] = []
        for key, kinds in sorted(group_files(metadata).items()):
            rows, info = evaluate_key(key, kinds)
            all_rows += rows
            all_ancestors += info["ancestors"]
            nc = work_dir / f"bias_{key}.nc"
            write_maps(nc, info)
            what = f"{info['short_name']} against {info['product']}"
            provenance.log(nc, record(f"Period-mean bias maps of {what}.", info["ancestors"]))
            if cfg.get("write_plots", True):
                png = plot_dir / f"bias_{key}.{cfg.get('output_file_type', 'png')}"
                plot_maps(png, info)
                provenance.log(png, record(f"Period-mean bias of {what}, every model and "
                                           "calibration stage.", info["ancestors"], "geo"))
            for row in rows:
                logger.info("%s %s %s/%s: bias %.6g %s, RMSE %.6g", row["model"], row["stage"],
                            row["variable"], row["product"], row["bias"], row["units"],
                            row["rmse"])
        table = work_dir / "callmip_bias_rmse.csv"
        write_table(table, all_rows)
        provenance.log(table, record(
            f"Bias and RMSE of every model and stage of campaign {cfg.get('campaign', '?')} "
            "against the reference products (area-weighted over the common cells).",
            all_ancestors))


if __name__ == "__main__":
    main(sys.argv[1])
