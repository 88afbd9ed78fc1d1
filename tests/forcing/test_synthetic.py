"""Synthetic weather generator: determinism, land mask, physical realism and consistency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forcing.conventions import CRUJRA_FILL_VALUE
from forcing.crujra import crujra_path, open_crujra
from forcing.grids import cell_area, lat_centres, lon_centres
from forcing.landmask import crujra_land_mask, land_fraction
from forcing.synthetic import bitround, ssp_warming, write_crujra_years
from forcing.weather import (
    SOLAR_CONSTANT,
    Cells,
    WeatherModel,
    _toa_step_energy,
    saturation_specific_humidity,
)


def _cells(res: float = 10.0, land_only: bool = True) -> Cells:
    lat2, lon2 = np.meshgrid(lat_centres(res), lon_centres(res), indexing="ij")
    if land_only:
        mask = crujra_land_mask(res)
        return Cells.from_points(lat2[mask], lon2[mask])
    return Cells.from_points(lat2, lon2)


def _year(model: WeatherModel, block_days: int = 73) -> dict[str, np.ndarray]:
    blocks = list(model.blocks(block_days))
    return {
        v: np.concatenate([b.six_hourly(v) for b in blocks])
        for v in ("tmp", "tmax", "tmin", "pre", "spfh", "dswrf", "dlwrf", "pres", "ugrd", "vgrd")
    }


def test_same_seed_same_weather_whatever_the_blocks() -> None:
    cells = _cells()
    a = _year(WeatherModel(cells, 1950, seed=7), block_days=365)
    b = _year(WeatherModel(cells, 1950, seed=7), block_days=10)
    c = _year(WeatherModel(cells, 1950, seed=8))
    for v in a:
        np.testing.assert_array_equal(a[v], b[v])
    assert not np.array_equal(a["tmp"], c["tmp"])


def test_files_are_deterministic(tmp_path: Path) -> None:
    one = write_crujra_years(tmp_path / "a", [1905], 10.0, seed=2, variables=["pre"])
    two = write_crujra_years(
        tmp_path / "b", [1904, 1905], 10.0, seed=2, variables=["pre"], workers=2
    )
    np.testing.assert_array_equal(
        open_crujra(one[0], "pre").values, open_crujra(two[1], "pre").values
    )


def test_land_only_from_real_land_fraction(crujra_dir: Path) -> None:
    frac = land_fraction(5.0)
    area = cell_area(lat_centres(5.0), lon_centres(5.0))
    assert 1.40e14 < (frac * area).sum() < 1.55e14  # Earth's land area ~1.49e14 m2
    da = open_crujra(crujra_path(crujra_dir, "dlwrf", 1901), "dlwrf")
    land = ~np.isnan(da.isel(time=0).values)
    np.testing.assert_array_equal(land, crujra_land_mask(5.0))
    lat = da.lat.values
    assert not land[lat < -60.0].any()  # no Antarctica in CRU-JRA
    assert land[np.abs(lat - 50.0) < 3.0].sum() > 20  # plenty of Eurasia and North America


def test_fill_over_ocean_in_file(crujra_dir: Path) -> None:
    import netCDF4

    with netCDF4.Dataset(crujra_path(crujra_dir, "pre", 1901)) as ds:
        ds["pre"].set_auto_mask(False)
        first = ds["pre"][0]
    assert (first[~crujra_land_mask(5.0)] == CRUJRA_FILL_VALUE).all()


def test_seasonal_and_latitudinal_climate() -> None:
    cells = _cells(5.0)
    y = _year(WeatherModel(cells, 1950, seed=1))
    t = y["tmp"].reshape(365, 4, -1).mean(axis=1)
    lat = cells.lat
    annual = t.mean(axis=0)
    tropics, boreal = np.abs(lat) < 15, (lat > 55) & (lat < 70)
    assert annual[tropics].mean() - annual[boreal].mean() > 20.0
    jan, jul = t[:31].mean(axis=0), t[181:212].mean(axis=0)
    assert (jul - jan)[boreal].mean() > 20.0  # northern summer in July
    south = (lat < -25) & (lat > -45)
    assert (jan - jul)[south].mean() > 3.0  # southern summer in January
    assert abs((jul - jan)[tropics].mean()) < 4.0
    pre_annual = y["pre"].sum(axis=0)
    assert (
        pre_annual[tropics].mean()
        > 2.0 * pre_annual[(np.abs(lat) > 20) & (np.abs(lat) < 30)].mean()
    )


def test_diurnal_cycle_and_radiation() -> None:
    cells = _cells(5.0)
    y = _year(WeatherModel(cells, 1950, seed=1))
    # solar hour of each 6-hour step's middle
    steps = np.arange(4)[:, None] * 6.0 + 3.0
    solar = (steps + cells.lon[None, :] / 15.0) % 24.0
    t = y["tmp"].reshape(365, 4, -1).mean(axis=0)
    day = (solar > 10) & (solar < 17)
    night = (solar < 1) | (solar > 23)  # the whole step within 21-3 h solar time
    assert t[day].mean() > t[night].mean() + 3.0
    sw = y["dswrf"].reshape(365, 4, -1).mean(axis=0)
    no_midnight_sun = np.broadcast_to(np.abs(cells.lat) < 55.0, night.shape)
    assert sw[night & no_midnight_sun].max() < 0.05 * sw[day].mean()
    assert (y["dswrf"] >= 0).all() and (y["pre"] >= 0).all()
    polar = cells.lat > 70
    dec = y["dswrf"].reshape(365, 4, -1)[340:355].sum(axis=1)
    assert dec[:, polar].max() == 0.0  # polar night


def test_toa_insolation_averages_to_a_quarter_of_the_solar_constant() -> None:
    cells = _cells(5.0, land_only=False)
    energy = _toa_step_energy(cells.lat, cells.lon, np.arange(365.0), 365)
    mean_flux = energy.sum(axis=1).mean(axis=0) / 86400.0
    area = np.cos(np.deg2rad(cells.lat))
    assert (mean_flux * area).sum() / area.sum() == pytest.approx(SOLAR_CONSTANT / 4, rel=0.01)


@given(st.integers(0, 10_000), st.integers(1901, 2100))
@settings(max_examples=6, deadline=None)
def test_physical_consistency_property(seed: int, year: int) -> None:
    """For any seed and year: tmin <= tmp <= tmax, humidity below saturation, values within
    the CRU-JRA physical bounds the reader enforces."""
    from forcing.conventions import CRUJRA_SPECS

    cells = _cells(15.0)
    y = _year(WeatherModel(cells, year, seed))
    assert (y["tmin"] <= y["tmp"]).all() and (y["tmp"] <= y["tmax"]).all()
    qsat = saturation_specific_humidity(y["tmax"].astype(float), y["pres"].astype(float))
    assert (y["spfh"] <= qsat).all()
    for v, arr in y.items():
        spec = CRUJRA_SPECS[v]
        assert spec.valid_min <= arr.min() and arr.max() <= spec.valid_max, v


def test_trend(tmp_path: Path) -> None:
    cells = _cells(10.0)
    base = _year(WeatherModel(cells, 2001, 4, warming_k=0.0))["tmp"].mean()
    warm = _year(WeatherModel(cells, 2001, 4, warming_k=1.5))["tmp"].mean()
    assert warm - base == pytest.approx(1.5, abs=0.01)
    paths = write_crujra_years(
        tmp_path,
        [1901, 2001],
        10.0,
        seed=4,
        variables=["tmp"],
        trend_k_per_century=2.0,
        workers=1,
    )
    t1901 = float(open_crujra(paths[0], "tmp").mean())
    t2001 = float(open_crujra(paths[1], "tmp").mean())
    assert t2001 - t1901 == pytest.approx(2.0, abs=0.5)  # trend plus year-to-year weather


def test_ssp_warming_paths() -> None:
    assert ssp_warming("ssp585", 2015) == 0.0
    assert ssp_warming("ssp126", 2100) < ssp_warming("ssp370", 2100) < ssp_warming("ssp585", 2100)
    with pytest.raises(ValueError, match="unknown SSP"):
        ssp_warming("ssp245x", 2050)


@given(
    st.lists(st.floats(2.0**-20, 2.0**20, width=32), min_size=1, max_size=50), st.integers(8, 22)
)
def test_bitround_error_bound(values: list[float], keep: int) -> None:
    a = np.asarray(values, dtype=np.float32)
    r = bitround(a, keep)
    assert np.all(np.abs(r - a) <= np.abs(a) * 2.0 ** -(keep + 1) * (1 + 1e-6))
