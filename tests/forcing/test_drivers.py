"""CO2 (TRENDY file, SSPs from fair's CSV), N deposition and LUH2 land-use states."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forcing.co2 import (
    PREINDUSTRIAL_CO2_PPM,
    co2_for_years,
    default_trendy_co2_file,
    read_trendy_co2,
    ssp_co2,
    write_trendy_co2,
)
from forcing.errors import ForcingError
from forcing.luh2 import (
    LUH2_STATES,
    aggregate_states,
    read_luh2_states,
    spinup_states,
    write_luh2_states,
)
from forcing.ndep import (
    PREINDUSTRIAL_NDEP_KG_N_HA_YR,
    ndep_filename,
    preindustrial_ndep,
    read_ndep_year,
    write_ndep,
)


# ----------------------------------------------------------------------------------- CO2
def test_trendy_file() -> None:
    co2 = read_trendy_co2()
    assert default_trendy_co2_file().name == "CO2_1700_2024_TRENDYv2025.txt"
    assert min(co2) == 1700 and max(co2) == 2024 and len(co2) == 325
    assert co2[1700] == 277.57 and co2[2024] == 422.77
    assert all(co2[y + 1] > co2[y] for y in range(1960, 2024))


def test_preindustrial_co2_is_the_protocol_value_and_agrees_with_the_file() -> None:
    assert PREINDUSTRIAL_CO2_PPM == 287.42  # CalLMIP protocol v2, section 8
    assert read_trendy_co2()[1850] == 287.43  # the shipped TRENDYv2025 file
    assert abs(read_trendy_co2()[1850] - PREINDUSTRIAL_CO2_PPM) <= 0.0100001
    assert PREINDUSTRIAL_NDEP_KG_N_HA_YR == 0.79


def test_malformed_trendy_file(tmp_path: Path) -> None:
    path = tmp_path / "co2.txt"
    path.write_text("Annee_1850=287.43\nAnnee_1851=287.5\nyear 1852: 287.6\n")
    with pytest.raises(ForcingError, match=r"co2.txt: variable 'co2': malformed line.*line 3"):
        read_trendy_co2(path)
    path.write_text("Annee_1850=287.43\nAnnee_1852=287.5\n")
    with pytest.raises(ForcingError, match=r"missing years \[1851\]"):
        read_trendy_co2(path)
    path.write_text("Annee_1850=0.000287\n")
    with pytest.raises(ForcingError, match="implausible CO2"):
        read_trendy_co2(path)


@given(st.dictionaries(st.integers(1700, 2500), st.floats(200.0, 1500.0), min_size=1))
@settings(max_examples=25, deadline=None)
def test_trendy_write_read_round_trip(
    tmp_path_factory: pytest.TempPathFactory, values: dict
) -> None:
    years = range(min(values), max(values) + 1)
    full = {y: round(values.get(y, 300.0), 2) for y in years}
    path = tmp_path_factory.mktemp("co2") / "co2.txt"
    write_trendy_co2(path, full)
    assert read_trendy_co2(path) == full


def test_ssp_co2_from_fair_csv() -> None:
    s126, s370, s585 = ssp_co2("ssp126"), ssp_co2("ssp370"), ssp_co2("ssp585")
    assert min(s585) == 1700 and max(s585) == 2500
    assert 395.0 < s585[2015] < 405.0 and s126[2015] == pytest.approx(s585[2015], abs=0.01)
    assert s126[2100] < 460.0 < s370[2100] < s585[2100]
    assert 1100.0 < s585[2100] < 1150.0
    with pytest.raises(ForcingError, match="no CO2 concentrations for scenario 'ssp999'"):
        ssp_co2("ssp999")


def test_fair_is_never_imported() -> None:
    code = "import sys; from forcing.co2 import ssp_co2; ssp_co2('ssp370'); print('fair' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_co2_for_years_joins_history_and_scenario() -> None:
    hist = read_trendy_co2()
    s585 = ssp_co2("ssp585")
    got = co2_for_years(range(2012, 2030), "ssp585")
    assert got[2014] == hist[2014] and got[2015] == s585[2015] and got[2029] == s585[2029]
    with pytest.raises(ForcingError, match="give an SSP"):
        co2_for_years([2030])


# ----------------------------------------------------------------------------- N deposition
def test_ndep_round_trip(tmp_path: Path) -> None:
    paths = write_ndep(tmp_path, range(1850, 1853), "histsoc", res_deg=10.0, seed=1)
    assert [p.name for p in paths] == [
        ndep_filename("nhx", "histsoc", 1850, 1852),
        ndep_filename("noy", "histsoc", 1850, 1852),
    ]
    total = read_ndep_year(tmp_path, 1851)
    with netCDF4.Dataset(paths[0]) as a, netCDF4.Dataset(paths[1]) as b:
        assert a["nhx"].units == "gN m-2 month-1" and a["time"].units.startswith(
            "months since 1850"
        )
        monthly = np.asarray(a["nhx"][12:24]) + np.asarray(b["noy"][12:24])
    expected = monthly.sum(axis=0)[::-1] * 10.0  # g m-2 -> kg ha-1, north-to-south -> south-first
    np.testing.assert_allclose(total.values, expected, rtol=1e-5)
    assert total.attrs["units"] == "kg N ha-1 yr-1" and np.all(total.lat.diff("lat") > 0)
    assert float(total.min()) > 0.5 and float(total.max()) < 10.0  # 1850: little industry


def test_ndep_scenarios_and_errors(tmp_path: Path) -> None:
    write_ndep(tmp_path, [1990], "histsoc", res_deg=10.0)
    write_ndep(tmp_path, [2100], "ssp370soc", res_deg=10.0)
    write_ndep(tmp_path, [2100], "ssp126soc", res_deg=10.0)
    assert float(read_ndep_year(tmp_path, 1990).max()) > 15.0
    assert float(read_ndep_year(tmp_path, 2100, "ssp370soc").max()) > float(
        read_ndep_year(tmp_path, 2100, "ssp126soc").max()
    )
    pi = preindustrial_ndep(np.array([-45.0, 45.0]), np.array([0.0, 90.0]))
    assert (pi.values == np.float32(0.79)).all()
    with pytest.raises(ForcingError, match="no file covering 1991"):
        read_ndep_year(tmp_path, 1991)
    path = tmp_path / ndep_filename("noy", "histsoc", 1990, 1990)
    with netCDF4.Dataset(path, "a") as ds:
        ds["noy"][3, 4, 5] = -1.0
    with pytest.raises(ForcingError, match=r"noy.*negative deposition.*month 4 of 1990"):
        read_ndep_year(tmp_path, 1990)
    with netCDF4.Dataset(path, "a") as ds:
        ds["noy"].units = "kg m-2 s-1"
    with pytest.raises(ForcingError, match="wrong units 'kg m-2 s-1'"):
        read_ndep_year(tmp_path, 1990)


# ------------------------------------------------------------------------------------ LUH2
def test_luh2_round_trip_and_consistency(tmp_path: Path) -> None:
    states_path, static = write_luh2_states(tmp_path, range(1850, 1852), res_deg=5.0)
    assert states_path.name == "states.nc" and static.name == "staticData_quarterdeg.nc"
    with netCDF4.Dataset(states_path) as ds:
        assert ds["time"].units == "years since 850-01-01 0:0:0"
        assert ds["lat"][0] > ds["lat"][-1]
    s1850 = read_luh2_states(states_path, 1850)
    assert list(s1850.data_vars) == list(LUH2_STATES)
    total = sum(s1850[s] for s in LUH2_STATES).values
    with netCDF4.Dataset(static) as ds:
        icwtr = np.asarray(ds["icwtr"][:])[::-1]
    land = np.isfinite(total)
    np.testing.assert_allclose(total[land] + icwtr[land], 1.0, atol=1e-5)
    broad = aggregate_states(s1850)
    np.testing.assert_allclose(sum(broad[k] for k in broad).values[land], total[land], rtol=1e-6)
    spin = spinup_states(states_path)
    np.testing.assert_array_equal(spin.primf.values, s1850.primf.values)


def test_luh2_land_use_grows_and_sum_check(tmp_path: Path) -> None:
    path, _ = write_luh2_states(tmp_path, range(1850, 2001), res_deg=10.0)
    crop = {y: float(aggregate_states(read_luh2_states(path, y)).crop.sum()) for y in (1850, 2000)}
    assert crop[2000] > 3.0 * crop[1850]
    with pytest.raises(ForcingError, match="year 1849 not in the file"):
        read_luh2_states(path, 1849)
    with netCDF4.Dataset(path, "a") as ds:
        lat = np.asarray(ds["lat"][:])
        i = int(np.argmin(np.abs(lat - 45.0)))
        j = int(np.argmax(np.asarray(ds["primf"][150, i, :]) < 1e19))
        ds["pastr"][150, i, j] = 0.9
    with pytest.raises(ForcingError, match="states sum to more than 1"):
        read_luh2_states(path, 2000)
