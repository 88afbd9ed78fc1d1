"""The ESMValTool bridge without running a recipe: schemes, layout, recipe, config, CLI errors."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.catalog import load_catalog
from benchmarks.gridded import GriddedSeries, read_model_variable, read_reference
from callmip.config import CampaignError, load_campaign
from callmip_app.cli import main
from esmvaltool_bridge.cmor import CMOR_VARIABLES
from esmvaltool_bridge.errors import LayoutError, SchemeError
from esmvaltool_bridge.layout import _to_0_360, find_model_outputs
from esmvaltool_bridge.recipe import check_scheme, esmpy_available, needs_esmf
from esmvaltool_bridge.runner import prepare
from esmvaltool_bridge.stage import run_stage

REPO = Path(__file__).resolve().parents[2]
ESMF_SCHEMES = [
    "esmf_area_weighted",
    "ESMPyAreaWeighted",
    {"reference": "esmf_regrid.schemes:ESMFAreaWeighted"},
    {"reference": "esmvalcore.preprocessor.regrid_schemes:IrisESMFRegrid", "method": "bilinear"},
]
no_esmpy = pytest.mark.skipif(esmpy_available(), reason="a real esmpy is installed here")


# ---- regridding schemes ------------------------------------------------------------------------


@no_esmpy
@pytest.mark.parametrize("scheme", ESMF_SCHEMES)
def test_esmf_schemes_are_refused_with_the_alternatives(scheme):
    assert needs_esmf(scheme)
    with pytest.raises(SchemeError, match=r"needs ESMF.*area_weighted, linear, nearest"):
        check_scheme(scheme)


@pytest.mark.parametrize("scheme", ["area_weighted", "linear", "nearest"])
def test_schemes_without_esmf_are_accepted(scheme):
    assert not needs_esmf(scheme)
    assert check_scheme(scheme) == scheme


def test_unknown_scheme_is_refused():
    with pytest.raises(SchemeError, match="unknown regridding scheme 'conservative'"):
        check_scheme("conservative")


@no_esmpy
def test_cli_refuses_an_esmf_scheme_before_writing_anything(fresh_run_dir, capsys):
    code = main(["esmvaltool", str(fresh_run_dir), "--scheme", "esmf_area_weighted",
                 "--prepare-only"])
    assert code == 2
    err = capsys.readouterr().err
    assert "esmf_area_weighted" in err and "needs ESMF" in err
    assert not (fresh_run_dir / "esmvaltool").exists()


BLOCK_ESMVALCORE = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "esmvalcore" or name.startswith("esmvalcore."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, Block())
from callmip_app.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_missing_extra_gives_the_install_command(fresh_run_dir):
    """Without ESMValCore (hidden from the interpreter) the CLI says how to install it."""
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_ESMVALCORE, "esmvaltool", str(fresh_run_dir)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert proc.returncode == 2, proc.stderr
    assert "ESMValCore is not installed" in proc.stderr
    assert "uv sync --extra esmvaltool" in proc.stderr
    assert not (fresh_run_dir / "esmvaltool").exists()


def test_not_a_run_directory_is_named(tmp_path):
    with pytest.raises(LayoutError, match=r"not a campaign run directory \(no campaign.yaml\)"):
        prepare(tmp_path)


def test_run_directory_without_callmip_files_is_named(fresh_run_dir):
    for f in (fresh_run_dir / "callmip" / "S3").glob("*.nc"):
        f.unlink()
    with pytest.raises(LayoutError, match="no monthly CalLMIP files"):
        prepare(fresh_run_dir)


# ---- layout --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(run_dir):
    return prepare(run_dir)


def _read_cmor(path: Path, name: str) -> dict:
    with netCDF4.Dataset(path) as ds:
        var = ds[name]
        return {
            "values": np.ma.filled(var[:].astype(float), np.nan),
            "lat": ds["lat"][:], "lon": ds["lon"][:], "lat_bnds": ds["lat_bnds"][:],
            "lon_bnds": ds["lon_bnds"][:], "time_bnds": ds["time_bnds"][:],
            "calendar": ds["time"].calendar, "units": var.units,
            "standard_name": var.standard_name, "positive": getattr(var, "positive", ""),
        }


def test_model_files_are_cmip6_named_and_exact(prepared, run_dir):
    cmip6 = prepared.layout.data_dir / "CMIP6"
    names = sorted(p.name for p in cmip6.glob("*.nc"))
    assert names == sorted(
        f"{v}_Amon_{d}_S3_{e}_gn_200301-200512.nc"
        for v in ("hfls", "hfss", "evspsbl") for d in ("CELM-A-v1", "CELM-B-v1")
        for e in ("prior", "posterior")
    )
    for output in find_model_outputs(run_dir):
        src = read_model_variable(output.monthly_path, "hfls")
        dataset = output.model.replace(".", "-")
        got = _read_cmor(cmip6 / f"hfls_Amon_{dataset}_S3_{output.stage.lower()}_gn_"
                                 "200301-200512.nc", "hfls")
        assert got["units"] == "W m-2" and got["positive"] == "up"
        assert got["standard_name"] == "surface_upward_latent_heat_flux"
        assert got["calendar"] == "365_day"
        assert np.all(np.diff(got["lon"]) > 0) and got["lon"].min() >= 0 and got["lon"].max() < 360
        assert got["lat_bnds"].min() >= -90 and got["lat_bnds"].max() <= 90
        np.testing.assert_array_equal(got["time_bnds"], src.time_bounds)
        order = np.argsort(np.mod(src.lon, 360.0))
        np.testing.assert_array_equal(got["values"], src.values[..., order])


def test_reference_is_the_benchmark_reader_output_in_cmor_form(prepared):
    catalog = {p.key: p for p in load_catalog(REPO / "configs/references.yaml",
                                              REPO / "data/ILAMB_ROOT")}
    product = catalog["hfls/FLUXCOM"]
    src = read_reference(product.paths, product.file_variable, product.units, "W m-2",
                         product.period)
    path = (prepared.layout.data_dir / "OBS6/Tier3/FLUXCOM/"
            "OBS6_FLUXCOM_reanaly_ANN-v1_Amon_hfls_200401-200512.nc")
    got = _read_cmor(path, "hfls")
    order = np.argsort(np.mod(src.lon, 360.0))
    np.testing.assert_array_equal(got["values"], src.values[..., order])
    # the offset FLUXCOM grid: first latitude cell clipped at the South Pole
    assert got["lat_bnds"][0, 0] == -90.0 and got["lat"][0] == pytest.approx(-89.75)


def test_cmor_entries_match_esmvalcore_tables():
    spec = importlib.util.find_spec("esmvalcore")
    if spec is None:
        pytest.skip("ESMValCore (extra 'esmvaltool') not installed")
    table = Path(spec.submodule_search_locations[0]) / "cmor/tables/cmip6/Tables/CMIP6_Amon.json"
    entries = json.loads(table.read_text())["variable_entry"]
    for name, cmor in CMOR_VARIABLES.items():
        entry = entries[name]
        assert (cmor.standard_name, cmor.long_name, cmor.units, cmor.positive) == (
            entry["standard_name"], entry["long_name"], entry["units"], entry["positive"]
        ), name


@settings(max_examples=60, deadline=None)
@given(
    resolution=st.sampled_from([1.0, 2.0, 2.5, 5.0, 10.0]),
    offset=st.floats(-0.49, 0.49),
    start=st.sampled_from([-180.0, 0.0, -90.0]),
)
def test_longitudes_to_0_360_keep_every_cell_and_value(resolution, offset, start):
    lon = start + resolution / 2 + offset + resolution * np.arange(int(360 / resolution))
    lon_b = np.stack([lon - resolution / 2, lon + resolution / 2], axis=1)
    lat = np.array([-45.0, 45.0])
    values = np.arange(2 * lon.size, dtype=float).reshape(1, 2, lon.size)
    series = GriddedSeries(values=values, year=np.array([2000]), month=np.array([1]), lat=lat,
                           lon=lon, lat_bounds=np.array([[-90, 0], [0, 90]]), lon_bounds=lon_b,
                           units="W m-2")
    new_lon, new_b, new_values = _to_0_360(series)
    assert np.all((new_lon >= 0) & (new_lon < 360)) and np.all(np.diff(new_lon) > 0)
    np.testing.assert_allclose(new_b[:, 1] - new_b[:, 0], resolution)
    np.testing.assert_allclose(new_b.mean(axis=1), new_lon)
    before = dict(zip(np.round(np.mod(lon, 360), 9), values[0, 1], strict=True))
    after = dict(zip(np.round(new_lon, 9), new_values[0, 1], strict=True))
    assert before == after


# ---- recipe and configuration ----------------------------------------------------------------


def test_recipe_has_the_preprocessors_and_datasets(prepared):
    text = prepared.recipe.read_text()
    assert "&id" not in text and "*id" not in text  # plain YAML, no anchors
    recipe = yaml.safe_load(text)
    assert recipe["documentation"]["authors"] == ["callmip_global"]
    pre = recipe["preprocessors"]
    targets = {"hfls": "FLUXCOM", "hfss": "FLUXCOM", "evspsbl": "GLEAM"}
    assert set(pre) == {f"{v}_{t}_{k}" for v, t in targets.items()
                        for k in ("global", "map", "cycle")}
    for name, steps in pre.items():
        target = targets[name.split("_")[0]]
        assert steps["regrid"] == {"target_grid": target, "scheme": "area_weighted"}
        assert "mask_multimodel" in steps
        period = {"global": "full", "map": "full", "cycle": "month"}[name.rsplit("_", 1)[1]]
        assert steps["climate_statistics"] == {"operator": "mean", "period": period}
        assert ("area_statistics" in steps) == name.endswith("_global")
    variables = recipe["diagnostics"]["callmip_benchmark"]["variables"]
    group = variables["hfls_FLUXCOM_global"]
    assert group["timerange"] == "2004/2005" and group["mip"] == "Amon"
    datasets = group["additional_datasets"]
    ref = [d for d in datasets if d["project"] == "OBS6"]
    assert ref == [{"dataset": "FLUXCOM", "project": "OBS6", "type": "reanaly",
                    "version": "ANN-v1", "tier": 3, "alias": "FLUXCOM",
                    "callmip_role": "reference"}]
    assert sorted((d["dataset"], d["ensemble"]) for d in datasets if d["project"] == "CMIP6") == [
        ("CELM-A-v1", "posterior"), ("CELM-A-v1", "prior"),
        ("CELM-B-v1", "posterior"), ("CELM-B-v1", "prior"),
    ]
    script = recipe["diagnostics"]["callmip_benchmark"]["scripts"]["bias_rmse"]["script"]
    assert Path(script).is_file()


def test_config_is_offline_and_points_at_the_layout(prepared):
    config = yaml.safe_load((prepared.config_dir / "callmip.yml").read_text())
    assert config["search_esgf"] == "never"
    assert config["rootpath"] == {"CMIP6": str(prepared.layout.data_dir / "CMIP6"),
                                  "OBS6": str(prepared.layout.data_dir / "OBS6")}
    assert config["drs"] == {"CMIP6": "default", "OBS6": "default"}
    assert config["output_dir"] == str(prepared.output_dir)
    tags = yaml.safe_load((prepared.workspace / "config-references.yml").read_text())
    assert "callmip_global" in tags["authors"]
    assert (prepared.workspace / "references" / "jung19.bibtex").is_file()


# ---- campaign field and stage ----------------------------------------------------------------


def _campaign_file(tmp_path: Path, esmvaltool: dict | None) -> Path:
    raw = {"name": "c", "resolution": 2, "periods": {"historical": [2004, 2005]},
           "models": [{"name": "CELM-A"}], "experiments": ["prior"]}
    if esmvaltool is not None:
        raw["esmvaltool"] = esmvaltool
    path = tmp_path / f"c{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_campaign_field_defaults_off_and_does_not_change_the_config_hash(tmp_path):
    plain = load_campaign(_campaign_file(tmp_path, None))
    assert plain.esmvaltool.enabled is False and plain.esmvaltool.scheme == "area_weighted"
    enabled = load_campaign(_campaign_file(tmp_path, {"enabled": True, "scheme": "linear"}))
    assert enabled.esmvaltool.enabled
    assert enabled.config_hash() == plain.config_hash()  # evaluation changes no run output


def test_campaign_refuses_an_esmf_scheme(tmp_path):
    with pytest.raises(CampaignError, match=r"esmvaltool.scheme.*area_weighted"):
        load_campaign(_campaign_file(tmp_path, {"enabled": True, "scheme": "esmf_area_weighted"}))


def test_stage_does_nothing_when_not_enabled(fresh_run_dir):
    outcome = run_stage(fresh_run_dir, enabled=False, scheme="area_weighted",
                        variables=["hfls"])
    assert outcome.result is None and "enabled is false" in outcome.skipped
    assert not (fresh_run_dir / "esmvaltool").exists()


# ---- launcher --------------------------------------------------------------------------------

PLACEHOLDER = """
import sys
from esmvaltool_bridge.launcher import EsmfUnavailableError, install_esmpy_placeholder
assert install_esmpy_placeholder()
import esmvalcore.preprocessor  # imports esmpy (and esmf_regrid) at import time
from esmvalcore.preprocessor import regrid
import esmpy
try:
    esmpy.Grid(1)
except EsmfUnavailableError as exc:
    print("ERROR:", exc)
"""


@no_esmpy
@pytest.mark.slow  # imports ESMValCore in a fresh interpreter: 14 s, ~50 s on a loaded machine
def test_launcher_lets_esmvalcore_import_and_esmf_use_fails_clearly():
    if importlib.util.find_spec("esmvalcore") is None:
        pytest.skip("ESMValCore (extra 'esmvaltool') not installed")
    proc = subprocess.run([sys.executable, "-c", PLACEHOLDER], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ERROR: esmpy.Grid was called, but esmpy (ESMF) is not installed" in proc.stdout
    # nothing named esmpy is installed in the environment
    assert importlib.util.find_spec("esmpy") is None


# ---- the diagnostic's arithmetic -------------------------------------------------------------


def _diag_module():
    from esmvaltool_bridge.recipe import DIAGNOSTIC_SCRIPT

    spec = importlib.util.spec_from_file_location("callmip_bias", DIAGNOSTIC_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DIAG = _diag_module()


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), masked=st.floats(0.0, 0.9))
def test_bias_of_means_equals_mean_of_bias_on_a_common_mask(seed, masked):
    """Why the recipe may take bias = area mean(model) - area mean(ref): the mask is common."""
    rng = np.random.default_rng(seed)
    lat_b = np.stack([np.arange(-90, 90, 10.0), np.arange(-80, 91, 10.0)], axis=1)
    area = np.outer(np.abs(np.diff(np.sin(np.deg2rad(lat_b)), axis=1))[:, 0], np.ones(36))
    ref = rng.normal(50, 20, area.shape)
    com = ref + rng.normal(-5, 10, area.shape)
    common = rng.random(area.shape) >= masked
    if not common.any():
        common[0, 0] = True
    ref[~common] = np.nan
    com[~common] = np.nan
    diff = DIAG.area_mean(com, area) - DIAG.area_mean(ref, area)
    assert diff == pytest.approx(DIAG.area_mean(com - ref, area), abs=1e-9)


def test_month_order_follows_month_number(tmp_path):
    path = tmp_path / "clim.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", 12)
        ds.createVariable("month_number", "i4", ("time",))[:] = np.roll(np.arange(1, 13), 3)
    with netCDF4.Dataset(path) as ds:
        order = DIAG._month_order(ds)
    np.testing.assert_array_equal(np.roll(np.arange(1, 13), 3)[order], np.arange(1, 13))


@no_esmpy
def test_a_hand_edited_recipe_with_an_esmf_scheme_is_refused_before_running(fresh_run_dir):
    from esmvaltool_bridge.runner import run_recipe

    prepared = prepare(fresh_run_dir)
    text = prepared.recipe.read_text().replace("scheme: area_weighted",
                                               "scheme: esmf_area_weighted", 1)
    prepared.recipe.write_text(text)
    if importlib.util.find_spec("esmvalcore") is None:
        pytest.skip("ESMValCore (extra 'esmvaltool') not installed")
    with pytest.raises(SchemeError, match=r"preprocessor 'hfls_FLUXCOM_global'.*needs ESMF"):
        run_recipe(prepared)
    assert not prepared.output_dir.exists() or not any(prepared.output_dir.iterdir())


def test_no_overlap_with_the_reference_period_is_named(tmp_path):
    from esmvaltool_bridge.testing import make_run_dir

    run = make_run_dir(tmp_path, years=(2010, 2011), variables=("hfls",))
    with pytest.raises(LayoutError, match=r"no reference product overlaps the model years"):
        prepare(run)
