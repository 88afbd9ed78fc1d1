"""Parity of mode 'ilamb27' with the real ILAMB 2.7.3 on the same small inputs.

ILAMB runs in a subprocess (benchmarks.peer_ilamb27) through its own Confrontation and
ModelResult classes reading the very files our confront() reads; only plotting is skipped.
Two confrontations cover mass weighting, regions (Giorgi regions handed to ILAMB as a NetCDF
region file), IAV, and a unit conversion (a reference in MJ m-2 d-1). Every score and the
bias/RMSE/phase scalars must agree to 1e-3. ILAMB 2.7 comes with the 'parity' extra
(``uv sync --extra parity``); without it the test skips locally and fails on CI (CI=true).
"""

from __future__ import annotations

import os
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest

from benchmarks.catalog import ReferenceProduct
from benchmarks.confront import ModelOutput, confront
from benchmarks.peer_ilamb27 import ilamb27_available, run_ilamb27
from benchmarks.regions import region_masks
from benchmarks.testing import seasonal_field, write_callmip_monthly, write_reference
from benchmarks.units import convert

YEARS = (2001, 2003)
REGIONS = ("global", "AMZ", "NEU")
TOLERANCE = 1e-3

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ilamb_version() -> str:
    version = ilamb27_available()
    if version is None:
        message = "ILAMB 2.7 is not importable: run `uv sync --extra parity`"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return version


def _regions_file(path: Path, lat: np.ndarray, lon: np.ndarray) -> Path:
    """The Giorgi regions as an ILAMB region file (index map + labels)."""
    masks = region_masks(lat, lon, REGIONS)
    ids = np.ma.masked_all((lat.size, lon.size), dtype="i4")
    for k, mask in enumerate(masks.values()):
        ids[mask] = k
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("lat", lat.size)
        ds.createDimension("lon", lon.size)
        ds.createDimension("n", len(masks))
        ds.createVariable("lat", "f8", ("lat",))[:] = lat
        ds.createVariable("lon", "f8", ("lon",))[:] = lon
        v = ds.createVariable("ids", "i4", ("lat", "lon"), fill_value=-1)
        v[:] = ids
        v.labels = "labels"
        labels = ds.createVariable("labels", str, ("n",))
        for k, name in enumerate(masks):
            labels[k] = name
    return path


def test_scores_match_ilamb_2_7(tmp_path: Path, grid4, ilamb_version: str) -> None:
    assert ilamb_version.startswith("2.7")
    lat, lon, mask = grid4
    hfls = seasonal_field(lat, lon, YEARS, mean=50, amplitude=30, seed=1, mask=mask)
    hfss = seasonal_field(lat, lon, YEARS, mean=30, amplitude=20, seed=2, mask=mask)
    root = tmp_path / "root/DATA"
    ref_hfls = write_reference(
        root / "hfls/TEST/hfls.nc",
        name="hfls",
        values=hfls,
        lat=lat,
        lon=lon,
        years=YEARS,
        units="W m-2",
    )
    ref_hfss = write_reference(
        root / "hfss/TEST/hfss.nc",
        name="hfss",
        values=convert(hfss, "W m-2", "MJ m-2 d-1"),
        lat=lat,
        lon=lon,
        years=YEARS,
        units="MJ m-2 d-1",
    )
    outputs, model_dirs = [], {}
    for k, (name, phase, bias) in enumerate((("M1", 1.0, 5.0), ("M2", -2.5, -3.0))):
        variables = {
            "hfls": seasonal_field(
                lat,
                lon,
                YEARS,
                mean=50 + bias,
                amplitude=25,
                seed=10 + k,
                phase_months=phase,
                mask=mask,
            ),
            "hfss": seasonal_field(
                lat,
                lon,
                YEARS,
                mean=30 - bias,
                amplitude=24,
                seed=20 + k,
                phase_months=-phase,
                mask=mask,
            ),
        }
        directory = tmp_path / "models" / name
        path = write_callmip_monthly(
            directory / f"{name}.v1_global_4deg_monthly_2001-2003_Prior.nc",
            model=name,
            stage="Prior",
            lat=lat,
            lon=lon,
            years=YEARS,
            variables=variables,
        )
        outputs.append(ModelOutput(name, "Prior", path))
        model_dirs[name] = directory

    products = [
        ReferenceProduct(
            variable="hfls",
            product="LE",
            paths=(ref_hfls,),
            file_variable="hfls",
            units="W m-2",
            display_units="W m-2",
            period=YEARS,
            weight=1.0,
            citation="synthetic",
            mass_weighting=True,
        ),
        ReferenceProduct(
            variable="hfss",
            product="SH",
            paths=(ref_hfss,),
            file_variable="hfss",
            units="MJ m-2 d-1",
            display_units="W m-2",
            period=YEARS,
            weight=1.0,
            citation="synthetic",
            mass_weighting=False,
        ),
    ]
    ours = confront(outputs, products, tmp_path / "ours", mode="ilamb27", regions=REGIONS)
    peer = run_ilamb27(
        [
            {
                "name": "LE",
                "source": str(ref_hfls),
                "variable": "hfls",
                "mass_weighting": True,
                "skip_iav": False,
            },
            {
                "name": "SH",
                "source": str(ref_hfss),
                "variable": "hfss",
                "mass_weighting": False,
                "skip_iav": False,
            },
        ],
        model_dirs,
        tmp_path / "peer",
        regions=[r.lower() for r in REGIONS],
        regions_nc=_regions_file(tmp_path / "regions.nc", lat, lon),
    ).scores

    ours = ours.assign(region=ours["region"].str.lower())
    merged = peer.merge(
        ours, on=["source", "product", "region", "name"], suffixes=("_ilamb", "_ours")
    )
    scores = merged[merged["type_ilamb"] == "score"]
    # 2 models x 2 products x 3 regions x 6 scores (bias, RMSE, cycle, IAV, spatial, overall)
    assert len(scores) == 72, merged[["source", "product", "region", "name"]]
    # ILAMB reports scalars in the reference's units (MJ m-2 d-1 for SH), ours in display units
    peer_value = [
        convert(v, u_peer, u_ours) if t == "scalar" and u_peer not in ("", "1", "months") else v
        for v, u_peer, u_ours, t in zip(
            merged["value_ilamb"],
            merged["units_ilamb"],
            merged["units_ours"],
            merged["type_ilamb"],
            strict=True,
        )
    ]
    merged = merged.assign(value_ilamb=np.asarray(peer_value, dtype=float))
    diff = (merged["value_ours"] - merged["value_ilamb"]).abs()
    # scalars (bias, RMSE in W m-2, phase shift in months) to 1e-3 relative
    scale = np.maximum(1.0, merged["value_ilamb"].abs())
    worst = merged.assign(diff=diff / scale).sort_values("diff").tail(5)
    assert (diff / scale <= TOLERANCE).all(), worst[
        ["source", "product", "region", "name", "value_ilamb", "value_ours", "diff"]
    ]
    # the inputs are not trivially perfect: scores spread over a real range
    assert scores["value_ilamb"].min() < 0.7 < scores["value_ilamb"].max()
    assert isinstance(merged, pd.DataFrame)
