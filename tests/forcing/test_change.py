"""Land use and N deposition on the model grid (the per-year files every driver reads)."""

from __future__ import annotations

import numpy as np
import pytest

from callmip.drivers.change import (
    CLASSES,
    LUH2_STATES,
    class_fractions,
    read_landuse,
    read_ndep,
)
from forcing.change import prepare_landuse_years, prepare_ndep_years
from forcing.errors import ForcingError
from forcing.grids import cell_area
from forcing.landregrid import target_grid
from forcing.luh2 import read_luh2_states, write_luh2_states
from forcing.ndep import read_ndep_year, write_ndep


@pytest.fixture(scope="module")
def luh2(tmp_path_factory):
    """Synthetic LUH2 states at 1 degree for 1900-1902 (the real product is 0.25 degree)."""
    d = tmp_path_factory.mktemp("luh2")
    write_luh2_states(d, [1900, 1901, 1902], res_deg=1.0)
    return d / "states.nc"


@pytest.fixture(scope="module")
def landuse(luh2, tmp_path_factory):
    out = tmp_path_factory.mktemp("landuse")
    prepare_landuse_years(luh2, [1900, 1901, 1902], 2.0, out, cache_dir=out / "w")
    return out


def test_states_are_land_fractions_and_conserve_land_area_integrals(luh2, landuse):
    from regrid import Grid, Regridder

    src = read_luh2_states(luh2, 1901)
    lat, lon = src["lat"].values, src["lon"].values
    raw = {s: np.nan_to_num(src[s].values.astype(float)) for s in LUH2_STATES}
    land = np.clip(sum(raw.values()), 0, 1)
    dst = read_landuse(landuse, 1901)
    total = sum(dst[s] for s in LUH2_STATES)
    ok = np.isfinite(total)
    assert ok.sum() > 1000 and np.allclose(total[ok], 1.0, atol=1e-6)
    # the destination's land: what the source land covers of each cell
    w = Regridder(Grid.from_centres(lat, lon), target_grid(2.0), "conservative").weights
    dst_land = (w @ land.ravel()).reshape(total.shape)
    a_src, a_dst = cell_area(lat, lon), cell_area(dst["lat"], dst["lon"])
    for s in ("primf", "c3ann", "pastr", "urban"):
        before = float((a_src * raw[s]).sum())
        after = float(np.nansum(a_dst * dst_land * dst[s]))
        assert after == pytest.approx(before, rel=2e-6), s


def test_transitions_turn_each_year_into_the_next(landuse):
    a, b = read_landuse(landuse, 1900), read_landuse(landuse, 1901)
    ca, cb = class_fractions(a), class_fractions(b)
    for c in CLASSES:
        into = sum(a[f"{x}to{c}"] for x in CLASSES if x != c and c != "p")
        out = sum(a[f"{c}to{y}"] for y in CLASSES if y not in (c, "p"))
        ok = np.isfinite(ca[c])
        assert np.allclose((ca[c] + into - out)[ok], cb[c][ok], atol=2e-6), c
    assert np.nanmax(a["ptoc"]) > 0  # the synthetic history clears primary land for crops
    last = read_landuse(landuse, 1902)  # the file has no 1903: no transitions
    assert np.nanmax(np.abs(last["ptoc"])) == 0


def test_missing_land_use_year_is_named(luh2, tmp_path):
    with pytest.raises(ForcingError, match=r"states.nc.*no land-use states for years \[1903\]"):
        prepare_landuse_years(luh2, [1902, 1903], 2.0, tmp_path)


def test_ndep_is_annual_total_conserved_and_held_before_the_files_start(tmp_path):
    src = tmp_path / "src"
    write_ndep(src, [1850, 1851], res_deg=1.0)
    out = tmp_path / "out"
    prepare_ndep_years(src, [1849, 1850, 1851], 2.0, out, constant_ndep={1849: 0.79})
    assert np.all(read_ndep(out, 1849) == np.float32(0.79))
    field = read_ndep_year(src, 1851)
    dst = read_ndep(out, 1851)
    grid = target_grid(2.0)
    before = float((cell_area(field["lat"].values, field["lon"].values) * field.values).sum())
    after = float((cell_area(grid.lat, grid.lon) * dst).sum())
    assert after == pytest.approx(before, rel=1e-6)
    prepare_ndep_years(src, [1700], 2.0, out)  # TRENDY's early years: the first year's field
    assert np.allclose(read_ndep(out, 1700), read_ndep(out, 1850))
