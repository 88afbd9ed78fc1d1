"""Spin-up diagnostics for any driver: pools read through the driver's mapping and the conform
stage from monthly or annual output, total carbon derived where a model writes none, and the
declared accelerator (or its absence) deciding how cycles run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from callmip.conform.conform import native_to_callmip
from callmip.drivers import DRIVERS, CablePopDriver
from flows.spinup.diagnostics import SPINUP_VARIABLES, with_total_carbon
from flows.spinup.loop import spinup_method

NATIVE = Path(__file__).resolve().parents[1] / "drivers" / "native.py"


def _native():
    spec = importlib.util.spec_from_file_location("spinup_test_native", NATIVE)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_cable_monthly_output_gives_annual_pools_and_total_from_veg_litter_soil(tmp_path):
    native = _native()
    truth = native.make_truth(3)
    path, _ = native.cable_files(tmp_path / "cable_out.nc", truth)
    mapped = native_to_callmip(CablePopDriver(), [path], "annual", 2,
                               variables=SPINUP_VARIABLES)
    assert mapped.sizes["time"] == 2  # annual means from 24 monthly records
    mapped, how = with_total_carbon(mapped)
    assert how == "cVeg + cLitter + cSoil"
    with xr.open_dataset(path, decode_times=False) as ds:
        monthly_total = (ds.TotLivBiomass + ds.TotSoilCarb).values  # CABLE: soil incl. litter
    days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)
    expect = np.tensordot(days / 365.0, monthly_total[:12], axes=1)
    np.testing.assert_allclose(mapped.cTotal.values[0], expect, rtol=1e-5)
    # cSoil excludes litter, so the total does not count it twice
    np.testing.assert_allclose(mapped.cSoil.values[0],
                               np.tensordot(days / 365.0, truth["cSoil"][:12], axes=1),
                               rtol=1e-5)


def test_total_carbon_rules():
    grid = {"dims": ("time", "lat"), "data": np.ones((1, 2), dtype="float32")}
    ds = xr.Dataset({"cVeg": (grid["dims"], grid["data"]), "cSoil": (grid["dims"],
                                                                      3 * grid["data"])})
    out, how = with_total_carbon(ds)
    assert how.startswith("cVeg + cSoil") and float(out.cTotal[0, 0]) == 4.0
    own = ds.assign(cTotal=(grid["dims"], 9 * grid["data"]))
    assert with_total_carbon(own)[1] == "written by the model"
    with pytest.raises(ValueError, match="maps no cVeg"):
        with_total_carbon(ds.drop_vars("cVeg"))


def test_drivers_declare_their_accelerator_and_templates_cycle_plainly():
    assert spinup_method("accelerated", DRIVERS["cable_pop"].capabilities.accelerated_spinup,
                         "cable_pop") == (True, "accelerated: CASA-only analytic spin-up "
                                          "(icycle=12, spincasa) after each cycle, then plain "
                                          "cycles")
    assert spinup_method("accelerated", DRIVERS["celm"].capabilities.accelerated_spinup,
                         "celm")[0]
    # CELM's accelerated job ends with a normal cycle from the state it found (its outputs run
    # into its restart); CABLE's ends with CASA's solve after its outputs
    assert DRIVERS["celm"].capabilities.accelerated_ends_with_cycle
    assert not DRIVERS["cable_pop"].capabilities.accelerated_ends_with_cycle
    for name in ("orchidee", "clm", "classic"):
        caps = DRIVERS[name].capabilities
        assert not caps.ran_real_program
        ok, sentence = spinup_method("accelerated", caps.accelerated_spinup, name)
        assert not ok and f"the {name} driver declares no accelerated spin-up" in sentence
    assert spinup_method("brute", "anything", "celm") == (False, "plain cycles "
                                                          "(spinup.mode: brute)")
