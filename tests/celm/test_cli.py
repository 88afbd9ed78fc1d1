"""The standalone program: ``python -m celm`` as its own process, its files and its errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr
import yaml

from celm.output import OUTPUT_VARS
from celm.params import posterior_demo_path, write_prior


def celm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "celm", *args], capture_output=True, text=True, timeout=600
    )


def namelist(tmp: Path, forcing: Path, **extra) -> Path:
    params = write_prior(tmp / "prior.json")
    doc = {
        "forcing_dir": str(forcing),
        "params_file": str(params),
        "restart_in": None,
        "restart_out": str(tmp / "restart.nc"),
        "output_dir": str(tmp / "out"),
        "output": {"daily": False, "monthly": True, "annual": True},
        "years": [
            {"year": 1851, "forcing_year": 1901, "co2_ppm": 284.7},
            {"year": 1852, "forcing_year": 1902, "co2_ppm": 284.9},
        ],
        **extra,
    }
    path = tmp / "namelist.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_run_writes_cf_outputs_and_restart(tmp_path, coarse_forcing):
    res = celm("run", str(namelist(tmp_path, coarse_forcing)))
    assert res.returncode == 0, res.stderr
    assert "year 1851" in res.stderr and "year 1852" in res.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "annual_1851.nc", "annual_1852.nc", "monthly_1851.nc", "monthly_1852.nc",
    ]  # fmt: skip
    with netCDF4.Dataset(out / "monthly_1852.nc") as ds:
        assert ds["time"].calendar == "noleap"
        assert ds["time"].units.startswith("days since 1852-01-01")
        assert ds["time_bnds"][:].tolist()[0] == [0.0, 31.0]
    ds = xr.open_dataset(out / "monthly_1852.nc")
    assert ds.sizes["time"] == 12
    assert set(OUTPUT_VARS) <= set(ds.data_vars)
    ocean = ds["landfrac"].values == 0
    land = ~ocean
    for name in OUTPUT_VARS:
        v = ds[name].values
        assert np.all(np.isnan(v[:, ocean])), name
        assert np.all(np.isfinite(v[:, land])), name
    # NEE sign convention and energy closure of the means
    assert np.allclose(ds.NEE, ds.RA + ds.RH - ds.GPP, atol=1e-4, equal_nan=True)
    assert np.allclose(ds.RNET, ds.QLE + ds.QH + ds.QG, atol=1e-3, equal_nan=True)
    assert float(ds["WOOD_ABOVE_FRAC"]) == pytest.approx(0.7)
    ann = xr.open_dataset(out / "annual_1852.nc")
    assert ann.sizes["time"] == 1
    with netCDF4.Dataset(tmp_path / "restart.nc") as rs:
        assert rs.dimensions["land"].size == int(land.sum())
        assert rs.last_year == 1852


@pytest.mark.slow
def test_restart_continues_and_rejects_other_grid(tmp_path, coarse_forcing, climate):
    first = tmp_path / "a"
    first.mkdir()
    assert celm("run", str(namelist(first, coarse_forcing))).returncode == 0
    second = tmp_path / "b"
    second.mkdir()
    nml = namelist(
        second,
        coarse_forcing,
        restart_in=str(first / "restart.nc"),
        years=[{"year": 1853, "forcing_year": 1903, "co2_ppm": 285.0}],
    )
    assert celm("run", str(nml)).returncode == 0
    other = climate.write_forcing(tmp_path / "f15", climate.make_grid(15.0), [1901])
    bad = namelist(
        tmp_path,
        other,
        restart_in=str(first / "restart.nc"),
        years=[{"year": 1853, "forcing_year": 1901, "co2_ppm": 285.0}],
    )
    res = celm("run", str(bad))
    assert res.returncode == 2
    assert "grid_hash" in res.stderr and "restart.nc" in res.stderr
    assert res.stderr.count("\n") == 1  # one clear line


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ({"params_file": "/nonexistent/params.json"}, "parameter file not found"),
        ({"years": [{"year": 1851, "forcing_year": 1777, "co2_ppm": 280.0}]}, "1777"),
        ({"bogus_key": 1}, "bogus_key"),
        ({"years": [{"year": 1851, "forcing_year": 1901, "co2_ppm": -1.0}]}, "co2_ppm"),
    ],
)
def test_bad_namelist_exits_2(tmp_path, coarse_forcing, change, expect):
    res = celm("run", str(namelist(tmp_path, coarse_forcing, **change)))
    assert res.returncode == 2
    assert expect in res.stderr


def test_bad_forcing_exits_2(tmp_path, coarse_forcing):
    forcing = tmp_path / "forcing"
    forcing.mkdir()
    for src in coarse_forcing.glob("met_*.nc"):
        (forcing / src.name).write_bytes(src.read_bytes())
    with netCDF4.Dataset(forcing / "met_1902.nc", "a") as ds:
        ds["tas"].units = "degC"
    with netCDF4.Dataset(forcing / "met_1901.nc", "a") as ds:
        ds.renameVariable("huss", "q")
    res = celm("run", str(namelist(tmp_path, forcing)))
    assert res.returncode == 2
    assert "met_1901.nc" in res.stderr and "'huss'" in res.stderr and "missing" in res.stderr


def test_params_cli_and_compact_years(tmp_path, coarse_forcing):
    res = celm("params", "--write-prior", str(tmp_path / "p.json"))
    assert res.returncode == 0 and (tmp_path / "p.json").is_file()
    res = celm("params", "--check", str(posterior_demo_path()), "--member", "2")
    assert res.returncode == 0 and "kphio" in res.stdout
    nml = namelist(
        tmp_path,
        coarse_forcing,
        years={"first": 1851, "last": 1855, "forcing_cycle": [1901, 1903],
               "co2_ppm": {1850: 284.0, 1853: 285.0}},
        output={"daily": False, "monthly": False, "annual": True},
    )  # fmt: skip
    res = celm("run", str(nml))
    assert res.returncode == 0, res.stderr
    ds = xr.open_dataset(tmp_path / "out" / "annual_1854.nc")
    assert ds.attrs["forcing_year"] == 1901 and ds.attrs["co2_ppm"] == 285.0
    assert celm("--help").returncode == 0


@pytest.mark.slow
def test_daily_output(tmp_path, coarse_forcing):
    nml = namelist(
        tmp_path,
        coarse_forcing,
        years=[{"year": 1851, "forcing_year": 1901, "co2_ppm": 284.7}],
        output={"daily": True, "monthly": True, "annual": False},
    )
    assert celm("run", str(nml)).returncode == 0
    daily = xr.open_dataset(tmp_path / "out" / "daily_1851.nc")
    monthly = xr.open_dataset(tmp_path / "out" / "monthly_1851.nc")
    assert daily.sizes["time"] == 365
    jan = daily.GPP.isel(time=slice(0, 31)).mean("time")
    assert np.allclose(jan, monthly.GPP.isel(time=0), rtol=1e-5, atol=1e-6, equal_nan=True)


@pytest.mark.slow
def test_steady_state_command_equilibrates_soil_carbon(tmp_path, coarse_forcing):
    runs = {}
    for cmd in ("run", "steady-state"):
        d = tmp_path / cmd
        d.mkdir()
        nml = namelist(d, coarse_forcing, output={"daily": False, "monthly": False, "annual": False})
        res = celm(cmd, str(nml))
        assert res.returncode == 0, res.stderr
        with netCDF4.Dataset(d / "restart.nc") as ds:
            runs[cmd] = {v: ds[v][:] for v in ("C_SOM", "C_WOOD", "C_LEAF")}
    assert runs["steady-state"]["C_SOM"].sum() > 10 * runs["run"]["C_SOM"].sum()
    # foliage is solved too, but it turns over within a few years: the end-of-cycle correction
    # (celm.spinup.end_of_cycle_value) moves it by a bounded amount, never below zero
    leaf_ss, leaf_run = runs["steady-state"]["C_LEAF"], runs["run"]["C_LEAF"]
    assert np.all(np.isfinite(leaf_ss)) and np.all(leaf_ss >= 0.0)
    assert 0.5 * leaf_run.sum() < leaf_ss.sum() < 2.0 * leaf_run.sum()
