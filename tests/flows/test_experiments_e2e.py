"""TRENDY S2/S3 and the CO2-only-equivalent on the shared small campaign, and its upload bundle.

Reads the outputs of ``campaign_run`` (tests/flows/conftest.py: CELM-A prior + posterior, S2, S3
and CO2only 2004-2005 after a transient from 1995, weather warming by 1 K per century):

* S3 minus S2 (same weather, CO2 and N deposition; S3's land use changes from 1994, S2's stays
  at 1994): a positive land-use flux, less land carbon, and closed carbon budgets;
* CO2only minus S2: CO2only keeps recycling the 1901 weather, S2 gets 2004-2005's, 1 K warmer:
  S2's surface is warmer and its litter and soil decompose faster (CELM's Q10 response);
* every file carries the campaign's protocol metadata;
* ``callmip bundle``: one folder per experiment and stage, each file passing ``callmip check``,
  checksums that ``sha256sum -c`` verifies, and a refusal (nothing written) when a file fails.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import netCDF4
import numpy as np
import pytest
import xarray as xr
import yaml

from callmip.bundle import verify_bundle
from callmip.conform import check_file

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

MEMBER = "CELM-A.v1_prior"
POOLS = ("C_LABILE", "C_LEAF", "C_ROOT", "C_WOOD", "C_LITTER", "C_SOM")
EXPERIMENTS = ("S2", "S3", "CO2only")


def _annual(run_dir, run, year) -> xr.Dataset:
    return xr.open_dataset(run_dir / "runs" / f"{MEMBER}_{run}" / "out" / f"annual_{year}.nc")


def _land_mean(ds: xr.Dataset, name: str) -> float:
    """Mean over land cells weighted by land area (CalLMIP files carry no landfrac: then by
    cell area over the cells with values)."""
    w = np.cos(np.deg2rad(ds["lat"]))
    if "landfrac" in ds:
        w = w * ds["landfrac"]
    v = ds[name]
    return float((v * w).sum() / w.where(v.notnull()).sum())


def _restart_carbon(path) -> tuple[np.ndarray, np.ndarray]:
    """Land carbon + products per land cell (gC m-2) and the cells' flat grid index."""
    with netCDF4.Dataset(path) as ds:
        nat = sum(np.asarray(ds[n][:]) for n in POOLS)
        man = sum(np.asarray(ds[f"{n}_MANAGED"][:]) for n in POOLS)
        f = np.asarray(ds["MANAGED_FRACTION"][:])
        prod = np.asarray(ds["C_PRODUCT_10"][:]) + np.asarray(ds["C_PRODUCT_100"][:])
        return (1 - f) * nat + f * man + prod, np.asarray(ds["land_index"][:])


def test_s3_minus_s2_has_a_land_use_flux_less_carbon_and_closed_budgets(campaign_run):
    run_dir = campaign_run[0]
    chains = {"S3": "transient_CO2LUC", "S2": "transient_CO2"}
    fluc = {}
    for sim, transient in chains.items():
        years = [(transient, y) for y in range(1995, 2004)] + [(sim, 2004), (sim, 2005)]
        fluc[sim] = sum(_land_mean(_annual(run_dir, r, y), "FLUC") * 365 for r, y in years)
    assert fluc["S2"] == 0.0  # land use held at 1994: nothing cleared
    assert fluc["S3"] > 0.0
    s2, s3 = _annual(run_dir, "S2", 2005), _annual(run_dir, "S3", 2005)
    assert _land_mean(s3, "MANAGED_FRAC") > _land_mean(s2, "MANAGED_FRAC")
    assert _land_mean(s3, "C_TOTAL") < _land_mean(s2, "C_TOTAL")
    assert (_land_mean(s3, "C_TOTAL") + _land_mean(s3, "C_PRODUCT")
            < _land_mean(s2, "C_TOTAL") + _land_mean(s2, "C_PRODUCT"))
    # budgets: from the transient's end state (2003) to the run's (2005), per cell
    for sim, transient in chains.items():
        c0, idx = _restart_carbon(run_dir / "runs" / f"{MEMBER}_{transient}" / "restart.nc")
        c1, _ = _restart_carbon(run_dir / "runs" / f"{MEMBER}_{sim}" / "restart.nc")
        nbp = sum(np.asarray(_annual(run_dir, sim, y)["NBP"][0], float).ravel()[idx] * 365
                  for y in (2004, 2005))
        gpp = sum(np.asarray(_annual(run_dir, sim, y)["GPP"][0], float).ravel()[idx] * 365
                  for y in (2004, 2005))
        assert np.all(np.abs((c1 - c0) - nbp) <= 2e-6 * (gpp + c0) + 1e-3), sim


def test_co2only_differs_from_s2_as_the_warming_implies(campaign_run):
    run_dir = campaign_run[0]
    met = run_dir / "forcing" / "model_2deg"

    def tas(year):
        with xr.open_dataset(met / f"met_{year}.nc") as ds:
            return _land_mean(ds.mean("time"), "tas")

    warming = (tas(2004) + tas(2005)) / 2 - tas(1901)  # S2's weather minus CO2only's
    assert warming > 0.5
    callmip = {e: xr.open_dataset(next((run_dir / "callmip" / e).glob("*annual*Prior.nc")))
               for e in ("S2", "CO2only")}
    dts = _land_mean(callmip["S2"].mean("time"), "ts") - _land_mean(
        callmip["CO2only"].mean("time"), "ts")
    assert 0.5 * warming < dts < 1.5 * warming
    rate = {}
    for e in ("S2", "CO2only"):
        ds = _annual(run_dir, e, 2005)
        rate[e] = _land_mean(ds, "RH") / (_land_mean(ds, "C_LITTER") + _land_mean(ds, "C_SOM"))
    assert rate["S2"] > rate["CO2only"]  # warmer soils decompose faster (Q10)


def test_every_file_carries_the_campaign_protocol_metadata(campaign_run):
    run_dir = campaign_run[0]
    protocol = yaml.safe_load((run_dir / "campaign.yaml").read_text())["protocol"]
    files = sorted((run_dir / "callmip").glob("*/*.nc"))
    assert {f.parent.name for f in files} == set(EXPERIMENTS)
    for f in files:
        with netCDF4.Dataset(f) as ds:
            assert ds.CalLMIP_Phase == protocol["phase"]
            assert ds.Calibration_Scenario == protocol["calibration_scenario"]
            assert ds.Cal_Val == protocol["cal_val"]
            assert ds.contact == protocol["contact"] and ds.institution == protocol["institution"]
            assert ds.simulation == f.parent.name
            assert f.parent.name in ds.simulation_description


def _bundle(run_dir, out) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "callmip_app.cli", "bundle", str(run_dir),
                           "--out", str(out)], capture_output=True, text=True, timeout=600)


def test_bundle_folders_pass_the_checker_and_their_checksums_verify(campaign_run, tmp_path):
    run_dir = campaign_run[0]
    done = _bundle(run_dir, tmp_path / "bundle")
    assert done.returncode == 0, done.stderr
    folders = sorted(p.name for p in (tmp_path / "bundle").iterdir())
    assert folders == sorted(f"CELM-A.v1_global_2deg_{e}_{s}" for e in EXPERIMENTS
                             for s in ("Prior", "Posterior"))
    for name in folders:
        folder = tmp_path / "bundle" / name
        stage = name.rsplit("_", 1)[1]
        ncs = sorted(p.name for p in folder.glob("*.nc"))
        assert ncs == [f"CELM-A.v1_global_2deg_{f}_2004-2005_{stage}.nc"
                       for f in ("annual", "monthly")]
        for nc in ncs:
            report = check_file(folder / nc)
            assert report.ok, report.render()
        sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder,
                              capture_output=True, text=True)
        assert sums.returncode == 0 and sums.stdout.count(": OK") == 2, sums.stdout
        assert verify_bundle(folder) == []
        readme = (folder / "README.md").read_text()
        experiment = name.split("_")[3]
        assert f"experiment **{experiment}**" in readme and "ignores Ndep" in readme
    # a changed byte is caught by both
    victim = sorted((tmp_path / "bundle" / folders[0]).glob("*.nc"))[0]
    data = bytearray(victim.read_bytes())
    data[-100] ^= 0xFF
    victim.unlink()  # a hard link: do not change the run's own file
    victim.write_bytes(bytes(data))
    assert verify_bundle(victim.parent) == [f"{victim}: sha256 differs from the manifest"]
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=victim.parent,
                          capture_output=True, text=True)
    assert sums.returncode != 0
    assert check_file(run_dir / "callmip" / folders[0].split("_")[3] / victim.name).ok


def test_bundle_refuses_a_failing_file_and_writes_nothing(campaign_run, tmp_path):
    run_dir = campaign_run[0]
    copy = tmp_path / "e2e"
    copy.mkdir()
    shutil.copy(run_dir / "campaign.yaml", copy / "campaign.yaml")
    shutil.copytree(run_dir / "callmip", copy / "callmip")
    bad = sorted((copy / "callmip" / "S3").glob("*annual*Prior.nc"))[0]
    with netCDF4.Dataset(bad, "a") as ds:
        ds.Cal_Val = "Cal"
    done = _bundle(copy, tmp_path / "bundle")
    assert done.returncode == 5, done.stderr
    assert str(bad) in done.stderr and "Cal_Val='Cal'" in done.stderr
    assert "allowed: Calibration, Validation" in done.stderr
    assert not (tmp_path / "bundle").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bundle")]
