"""The driver-facing contract of land use and N deposition (callmip/drivers/change.py): what a
driver reads for each simulated year is the prepared file of the year its YearSpec names, with
the file's values; and the CELM driver passes land use, never N deposition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from callmip.drivers import ModelRun, YearSpec, get_driver
from callmip.drivers.change import ndep_by_simulated_year, read_landuse, read_ndep
from forcing.change import prepare_landuse_years, prepare_ndep_years
from forcing.luh2 import write_luh2_states
from forcing.ndep import write_ndep


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("change")
    write_ndep(d / "src", [1850, 1851, 1852], res_deg=2.0)
    prepare_ndep_years(d / "src", [1850, 1851, 1852], 2.0, d / "ndep")
    write_luh2_states(d / "luh2", [1850, 1851, 1852], res_deg=2.0)
    prepare_landuse_years(d / "luh2" / "states.nc", [1850, 1851], 2.0, d / "landuse")
    return d


def _run(d: Path, years: tuple[YearSpec, ...]) -> ModelRun:
    return ModelRun("r", d / "p.json", d, years, d / "work", landuse_dir=d / "landuse",
                    ndep_dir=d / "ndep")


def test_ndep_per_simulated_year_follows_the_year_spec(prepared):
    held = tuple(YearSpec(y, 1901, 300.0, 1850, 1850) for y in (1851, 1852))
    varying = tuple(YearSpec(y, 1901, 300.0, y, y) for y in (1851, 1852))
    for years in (held, varying):
        fields = ndep_by_simulated_year(_run(prepared, years))
        assert sorted(fields) == [1851, 1852]
        for spec in years:
            assert np.array_equal(fields[spec.year], read_ndep(prepared / "ndep", spec.ndep_year),
                                  equal_nan=True)
    a, b = (ndep_by_simulated_year(_run(prepared, varying))[y] for y in (1851, 1852))
    assert not np.array_equal(a, b, equal_nan=True)  # a varying year really changes
    assert ndep_by_simulated_year(_run(prepared, (YearSpec(1851, 1901, 300.0),))) == {}


def test_landuse_file_holds_states_and_transitions_on_the_model_grid(prepared):
    lu = read_landuse(prepared / "landuse", 1850)
    assert lu["lat"].size == 90 and lu["lon"][0] == -179.0
    assert np.nanmax(lu["ptoc"]) > 0 and "qtor" in lu and "ptop" not in lu


def test_celm_namelist_gets_land_use_and_no_n_deposition(prepared, tmp_path):
    driver = get_driver("celm")
    assert "Ndep" not in driver.capabilities.drivers_of_change
    assert "nitrogen" in driver.capabilities.note
    years = (YearSpec(1851, 1901, 300.0, 1851, 1851),)
    run = ModelRun("r", tmp_path / "p.json", tmp_path, years, tmp_path / "w",
                   landuse_dir=prepared / "landuse", ndep_dir=prepared / "ndep")
    driver.prepare(run)
    nml = yaml.safe_load((tmp_path / "w" / "namelist.yaml").read_text())
    assert nml["landuse_dir"] == str(prepared / "landuse")
    assert nml["years"] == [{"year": 1851, "forcing_year": 1901, "co2_ppm": 300.0,
                             "landuse_year": 1851}]
    assert "ndep" not in yaml.safe_dump(nml).lower()


def test_cable_ndep_file_holds_the_campaigns_n_deposition_per_simulated_year(prepared, tmp_path):
    """What CABLE's CRU reader gets (record ``year - 1849`` of ``N_deposition``, kg N m-2 s-1)
    is the prepared field of each year's ``ndep_year``, cut to the CABLE domain, read back from
    the file the driver writes."""
    import netCDF4

    from callmip.drivers.cable_pop import inputs

    assert "Ndep" in get_driver("cable_pop").capabilities.drivers_of_change
    years = tuple(YearSpec(y, 1901, 300.0, y, y) for y in (1851, 1852))
    fields = ndep_by_simulated_year(_run(prepared, years))
    full = read_ndep(prepared / "ndep", 1851)
    lat = np.linspace(-89.0, 89.0, 90)
    lon = np.linspace(-179.0, 179.0, 180)
    i0, j0 = 65, 90  # a box over Europe on the 2-degree grid, south to north
    box = np.isfinite(full[i0:i0 + 4, j0:j0 + 6])
    assert box.any()
    domain = inputs.Domain(lat[i0:i0 + 4], lon[j0:j0 + 6], i0, j0, box)
    path = inputs.write_ndep(tmp_path, domain, [y.year for y in years],
                             inputs.campaign_ndep(fields))
    with netCDF4.Dataset(path) as ds:
        got = ds["N_deposition"][:].filled(np.nan)
    for spec in years:
        want = read_ndep(prepared / "ndep", spec.ndep_year)[i0:i0 + 4, j0:j0 + 6]
        np.testing.assert_allclose(got[spec.year - 1850][box],
                                   want[box] * inputs.KG_HA_YR_TO_KG_M2_S, rtol=1e-6)
    assert not np.allclose(got[1851 - 1850][box], got[1852 - 1850][box], rtol=1e-3, atol=0)
