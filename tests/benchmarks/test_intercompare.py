"""Bootstrap intervals, reference-free totals, upload discovery and the composed grid: unit
and property tests of the intercomparison's own logic (small real NetCDF where files are read).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.common_grid import GridAxes, nest
from benchmarks.fields import bounds_from_centres, cell_areas
from benchmarks.intercompare import change_intervals, spread_intervals
from benchmarks.regions import GFED_BOXES_ILAMB27, region_masks
from benchmarks.testing import UploadSpec, upload_grid, write_upload
from benchmarks.totals import global_annual, prior_posterior_totals, scenario_divergence
from benchmarks.uploads import collect_uploads


def _yearly(shifts: dict[str, float], noise: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for model, shift in shifts.items():
        for stage in ("Prior", "Posterior"):
            for year in range(2000, 2010):
                for region in ("r1", "r2", "r3", "r4", "global"):
                    value = 0.5 + (shift if stage == "Posterior" else 0.0)
                    rows.append({"source": model, "stage": stage, "variable": "hfls",
                                 "product": "P", "region": region, "name": "Bias Score",
                                 "mode": "ilamb27", "year": year,
                                 "value": value + noise * rng.standard_normal()})
    return pd.DataFrame(rows)


def test_change_intervals_separate_signal_from_noise() -> None:
    table = change_intervals(_yearly({"A": 0.1, "B": 0.0, "C": -0.08}, noise=0.03))
    got = table.set_index("source")
    assert not got.loc["A", "within_noise"] and got.loc["A", "ci_low"] > 0
    assert got.loc["B", "within_noise"]
    assert not got.loc["C", "within_noise"] and got.loc["C", "ci_high"] < 0
    assert (got["n_years"] == 10).all() and (got["n_regions"] == 4).all()
    # reproducible: a fixed seed gives the same interval
    again = change_intervals(_yearly({"A": 0.1, "B": 0.0, "C": -0.08}, noise=0.03))
    pd.testing.assert_frame_equal(table, again)


def test_identical_stages_have_a_zero_interval() -> None:
    table = change_intervals(_yearly({"A": 0.0}, noise=0.0))
    assert table["ci_low"].iloc[0] == 0.0 == table["ci_high"].iloc[0]
    assert table["within_noise"].iloc[0]


def test_spread_intervals_see_models_converge() -> None:
    """Models 0.3 apart before calibration, 0.02 apart after: the spread shrinks beyond noise."""
    rows = _yearly({"A": 0.0, "B": 0.0, "C": 0.0}, noise=0.01)
    offsets = {("A", "Prior"): -0.15, ("B", "Prior"): 0.0, ("C", "Prior"): 0.15,
               ("A", "Posterior"): -0.01, ("B", "Posterior"): 0.0, ("C", "Posterior"): 0.01}
    rows["value"] += [offsets[(s, t)] for s, t in zip(rows["source"], rows["stage"],
                                                         strict=True)]
    got = spread_intervals(rows).iloc[0]
    assert got["n_models"] == 3
    assert got["spread_prior"] == pytest.approx(np.std([-0.15, 0, 0.15]), abs=0.01)
    assert got["spread_change"] < 0 and got["ci_high"] < 0 and not got["within_noise"]
    assert spread_intervals(rows[rows["source"] == "A"]).empty  # one model: no spread


def test_global_totals_of_a_constant_field(tmp_path: Path) -> None:
    """gpp = 1e-8 kgC m-2 s-1 everywhere on a 360_day calendar: total = 1e-8 x area x 360 d."""
    spec = UploadSpec("CONST", "Prior", 2, calendar="360_day", time_bounds=False)
    lat, lon, lat_b, lon_b = upload_grid(spec)
    grid = (lat, lon, lat_b, lon_b)
    fields = {"gpp": (np.full((24, lat.size, lon.size), 1e-8), grid),
              "cSoil": (np.full((24, lat.size, lon.size), 10.0), grid),
              "hfls": (np.full((24, lat.size, lon.size), 40.0), grid)}
    path = write_upload(tmp_path, spec, fields, (2004, 2005))
    annual, skipped = global_annual(path, "CONST.v1", "Prior", "historical")
    area = cell_areas(lat_b, lon_b).sum()
    gpp = annual[annual["variable"] == "gpp"]["value"].to_numpy()
    np.testing.assert_allclose(gpp, 1e-8 * area * 360 * 86400 / 1e12, rtol=1e-6)
    soil = annual[annual["variable"] == "cSoil"]["value"].to_numpy()
    np.testing.assert_allclose(soil, 10.0 * area / 1e12, rtol=1e-6)
    np.testing.assert_allclose(annual[annual["variable"] == "hfls"]["value"], 40.0, rtol=1e-6)
    assert skipped == []
    assert "count whole" in annual["note"].iloc[0]


def test_totals_compare_stages_and_scenario_ends() -> None:
    rows = []
    for model, k_prior, k_post in (("A", 1.0, 1.5), ("B", 2.0, 2.0)):
        for stage, k in (("Prior", k_prior), ("Posterior", k_post)):
            for year in range(2015, 2101):
                rows.append({"source": model, "stage": stage, "experiment": "ssp585",
                             "variable": "gpp", "label": "GPP", "year": year,
                             "value": 100 + k * (year - 2015), "units": "PgC yr-1",
                             "note": ""})
    annual = pd.DataFrame(rows)
    div = scenario_divergence(annual).iloc[0]
    end = np.arange(2091, 2101) - 2015
    assert div["divergence_max"] == pytest.approx(0.5 * end.mean())
    assert div["divergence_min"] == pytest.approx(0.0)
    assert div["end_years"] == "2091-2100"
    pp = prior_posterior_totals(annual).set_index("source")
    assert pp.loc["B", "difference"] == 0.0
    assert pp.loc["A", "difference"] == pytest.approx(0.5 * (np.arange(86)).mean())


def test_upload_discovery_policy_and_duplicates(tmp_path: Path) -> None:
    spec = UploadSpec("M", "Prior", 2)
    lat, lon, lat_b, lon_b = upload_grid(spec)
    grid = (lat, lon, lat_b, lon_b)
    hfls = np.full((24, lat.size, lon.size), 40.0)
    hfls[:, : lat.size // 3] = np.nan
    good = write_upload(tmp_path / "a", spec, {"hfls": (hfls, grid)}, (2004, 2005))
    older = write_upload(tmp_path / "b", spec, {"hfls": (hfls, grid)}, (2004, 2005))
    os.utime(older, (good.stat().st_mtime - 10, good.stat().st_mtime - 10))
    (tmp_path / "notes.nc").write_text("not a CalLMIP name")
    inv = collect_uploads([tmp_path, tmp_path / "missing"], "flag")
    by_name = {(f.path.parent.name, f.path.name): f for f in inv.files}
    kept = by_name[("a", good.name)]
    assert kept.status == "flagged"  # required variables other than hfls are missing
    assert "hfss" in kept.unusable and "hfls" not in kept.unusable
    dup = by_name[("b", older.name)]
    assert dup.status == "skipped" and str(good) in dup.reason
    assert by_name[(tmp_path.name, "notes.nc")].reason.endswith("protocol section 7)")
    assert any("no such file" in f.reason for f in inv.files)
    assert [f.path for f in inv.scoring_files()] == [good]
    strict = collect_uploads([tmp_path / "a"], "skip")
    assert strict.files[0].status == "skipped" and "checker errors" in strict.files[0].reason


def test_gfed_boxes_follow_each_tool() -> None:
    """A 0.5-degree grid: ILAMB 2.7's bona (49.75, 79.75] vs ilamb3's nearest-centre block."""
    lat = np.arange(-89.75, 90, 0.5)
    lon = np.arange(-179.75, 180, 0.5)
    m27 = region_masks(lat, lon, ["bona"], "ilamb27")["bona"]
    m3 = region_masks(lat, lon, ["bona"], "ilamb3")["bona"]
    rows27 = lat[m27.any(axis=1)]
    assert rows27.min() == 50.25 and rows27.max() == 79.75
    rows3 = lat[m3.any(axis=1)]
    assert rows3.min() == 50.25 and rows3.max() == 80.25  # nearest to 50 and 80, ties up
    assert set(GFED_BOXES_ILAMB27) == {"bona", "tena", "ceam", "nhsa", "shsa", "euro", "mide",
                                       "nhaf", "shaf", "boas", "ceas", "seas", "eqas", "aust"}


def _axes(res: float, offset: float, lon0: float) -> GridAxes:
    lat = np.arange(-90 + res / 2 + offset, 90, res)
    lat = lat[(lat > -90) & (lat < 90)]
    lon = lon0 + res / 2 + offset + res * np.arange(round(360 / res))
    return GridAxes(lat, lon, np.clip(bounds_from_centres(lat), -90, 90), bounds_from_centres(lon))


@settings(max_examples=25, deadline=None)
@given(
    res=st.sampled_from([1.0, 2.0, 2.5, 4.0]),
    offset=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
    lon0=st.sampled_from([-180.0, 0.0]),
)
def test_composed_grid_copies_cells_that_overlap(res, offset, lon0) -> None:
    """Every composed cell inside a source's extent copies the source cell that contains its
    centre (outside it ILAMB 2.7 copies the nearest cell all the same)."""
    ref = _axes(2.0, -0.75, -180.0)  # FLUXCOM's offset 2-degree grid
    com = _axes(res, offset, lon0)
    n = nest(ref, com, "ilamb27")
    lat_c = np.repeat(n.lat, n.lon.size)
    lon_c = np.tile(n.lon, n.lat.size)
    ok = (n.com_index >= 0) & (lat_c >= com.lat_bounds.min()) & (lat_c <= com.lat_bounds.max())
    row, col = np.divmod(n.com_index[ok], com.lon.size)
    lon180 = ((com.lon_bounds + 180) % 360) - 180
    inside_lat = (com.lat_bounds[row, 0] <= lat_c[ok] + 1e-9) & (
        lat_c[ok] <= com.lat_bounds[row, 1] + 1e-9)
    assert inside_lat.all()
    west = lon180[col, 0]
    east = np.where(lon180[col, 1] < west, lon180[col, 1] + 360, lon180[col, 1])
    x = np.where(lon_c[ok] < west - 1e-9, lon_c[ok] + 360, lon_c[ok])
    assert ((west - 1e-9 <= x) & (x <= east + 1e-9)).mean() > 0.99
    # the composed cells tile the band both grids span: their areas add up to its surface
    south = max(-90.0, min(ref.lat_bounds.min(), com.lat_bounds.min()))
    north = min(90.0, max(ref.lat_bounds.max(), com.lat_bounds.max()))
    band = 2 * np.pi * 6.371e6**2 * (np.sin(np.radians(north)) - np.sin(np.radians(south)))
    assert n.area.sum() == pytest.approx(band, rel=1e-9)
