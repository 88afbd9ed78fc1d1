"""Deployment parameters: the schema the UI renders, and validation at flow start (no server)."""

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prefect.utilities.callables import parameter_schema_from_entrypoint

from flows.deploy_params import (
    REL_PATH,
    UPLOADED,
    ParameterError,
    Roots,
    campaign_config_names,
    collection_runs,
    inside,
    validate_campaign,
    validate_intercomparison,
    validate_run_dir,
    validate_simulation,
)

REPO = Path(__file__).resolve().parents[2]
ENTRY = "flows/deployments.py:{}"


def schema(func):
    return parameter_schema_from_entrypoint(str(REPO / ENTRY.format(func))).model_dump()


@pytest.mark.parametrize("func", ["global_simulation", "benchmark_run", "callmip_campaign",
                                  "intercomparison"])
def test_every_field_has_a_description(func):
    props = schema(func)["properties"]
    assert props
    for name, prop in props.items():
        assert len(prop.get("description", "")) > 10, f"{func}.{name} has no description"


def test_global_simulation_schema_has_dropdowns_and_patterns():
    props = schema("global_simulation")["properties"]
    assert props["parameter_set"]["enum"] == ["prior", "posterior"]
    assert props["resolution"]["enum"] == [0.5, 1, 2]
    assert props["experiment"]["enum"] == ["S0", "S1", "S2", "S3", "CO2only", "CO2LUC",
                                          "CO2Ndep", "CO2LUCNdep"]
    assert props["cal_val"]["enum"] == ["Calibration", "Validation"]
    assert props["calibration_scenario"]["enum"][0] == "Scen1"
    assert props["contact"]["pattern"] and props["institution"]["pattern"]
    assert "historical" in props["scenario"]["enum"]
    assert props["model"]["pattern"] and props["param_file"]["pattern"]
    assert props["historical_first"]["minimum"] == 1902


def test_campaign_schema_lists_configs():
    props = schema("callmip_campaign")["properties"]
    assert props["config"]["enum"] == list(campaign_config_names())
    assert "demo" in props["config"]["enum"] and UPLOADED in props["config"]["enum"]
    assert "server" not in props["config"]["enum"] and "references" not in props["config"]["enum"]


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_rel_path_pattern_never_admits_traversal_or_shell(text):
    # fullmatch: the server (Rust regex) and the UI (JavaScript) anchor '$' at the very end;
    # Python's re.match would let '$' match before a trailing newline
    if re.fullmatch(REL_PATH, text):
        assert not text.startswith("/")
        assert ".." not in text.split("/")
        assert not set(text) & set(";|&$`<>(){}*?!'\" \\\n\t~")


@pytest.mark.parametrize("bad", ["0\n", "params/p.json\n", "a\nb", "../x", "x;y"])
def test_param_file_field_refuses_newlines_as_the_server_does(bad):
    from pydantic import TypeAdapter, ValidationError

    from flows.deploy_params import ParamFile

    with pytest.raises(ValidationError):
        TypeAdapter(ParamFile).validate_python(bad)


@pytest.mark.parametrize("good", ["params/CELM-A_posterior.json", "x.json", "a/b/c.d.json"])
def test_rel_path_pattern_admits_plain_paths(good):
    assert re.match(REL_PATH, good)


@pytest.fixture
def roots(tmp_path):
    data = tmp_path / "data"
    (data / "params").mkdir(parents=True)
    (data / "params" / "p.json").write_text((REPO / "configs/params/CELM-A_posterior.json")
                                           .read_text())
    secret = tmp_path / "secret.json"
    secret.write_text("{}")
    (data / "params" / "link.json").symlink_to(secret)
    return Roots(data=data, runs=tmp_path / "runs")


def test_inside_resolves_and_refuses_escapes(roots, tmp_path):
    assert inside(roots.data, "params/p.json", "f") == (roots.data / "params/p.json").resolve()
    assert inside(roots.data, str(roots.data / "params/p.json"), "f").is_file()
    for bad in ["../secret.json", "params/../../secret.json", str(tmp_path / "secret.json"),
                "/etc/passwd", "params/link.json", ""]:
        with pytest.raises(ParameterError):
            inside(roots.data, bad, "param_file")


def sim(roots, **kw):
    args = dict(model="CELM-A", version="v1", driver="celm", parameter_set="prior",
                param_file="", resolution=2, experiment="S3", scenario="historical",
                historical_first=2004, historical_last=2005, transient_start=1995,
                spinup_max_cycles=4, roots=roots)
    args.update(kw)
    return validate_simulation(**args)


def test_valid_simulation_builds_a_one_member_campaign(roots):
    c = sim(roots, parameter_set="posterior", param_file="params/p.json", experiment="CO2only")
    assert c.experiments == ["posterior"] and c.simulations == ["CO2only"]
    assert c.models[0].posterior == (roots.data / "params/p.json").resolve()
    assert c.run_dir.parent == roots.runs
    assert c.resolution == 2 and c.periods.historical == (2004, 2005)


@pytest.mark.parametrize("kw, words", [
    ({"parameter_set": "posterior"}, "param_file is required"),
    ({"scenario": "ssp585"}, "must include 2014"),
    ({"scenario": "ssp585", "experiment": "CO2only", "historical_first": 2010,
      "historical_last": 2014}, "choose experiment S3"),
    ({"historical_first": 2006}, "after historical_last"),
    ({"transient_start": 2004}, "must be before historical_first"),
    ({"param_file": "params/missing.json"}, "does not exist"),
    ({"param_file": "../secret.json"}, "'..' is not allowed"),
    ({"param_file": "params/link.json"}, "outside the allowed directory"),
    ({"cal_val": "Val"}, "protocol.cal_val: Input should be 'Calibration' or 'Validation'"),
    ({"contact": "not-an-address"}, "protocol.contact: String should match pattern"),
])
def test_invalid_simulation_is_refused_before_anything_exists(roots, kw, words):
    with pytest.raises(ParameterError, match=re.escape(words)):
        sim(roots, **kw)
    assert not any(p.name.startswith("sim_") for p in roots.runs.glob("*"))


def test_form_offers_every_registered_driver_with_typed_options():
    from callmip.drivers import DRIVERS

    props = schema("global_simulation")["properties"]
    assert props["driver"]["enum"] == list(DRIVERS)
    refs = {r.get("$ref", "").rsplit("/", 1)[-1] for r in props["options"]["anyOf"]}
    assert {"CablePopOptions", "OrchideeOptions", "ClmOptions", "ClassicOptions"} <= refs
    cable = schema("global_simulation")["definitions"]["CablePopOptions"]["properties"]
    assert cable["chunks"]["minimum"] == 1 and cable["chunks"]["type"] == "integer"
    assert {"executable", "source_dir", "gridinfo", "domain"} <= set(cable)


def test_cable_options_reach_the_campaign_and_are_checked_for_the_chosen_driver(roots):
    c = sim(roots, model="CABLE-POP", driver="cable_pop",
            options={"chunks": 3, "domain": [2, 16, 44, 52]})
    assert c.models[0].driver == "cable_pop"
    assert c.models[0].options.chunks == 3 and c.models[0].options.domain == (2, 16, 44, 52)
    # options of another driver, a bad value, or a program outside the data root are refused
    for options, words in [
        ({"mpi_tasks": 4}, "options for driver 'cable_pop': mpi_tasks: Extra inputs"),
        ({"chunks": 0}, "chunks: Input should be greater than or equal to 1"),
        ({"executable": "/usr/bin/true"}, "outside the allowed directory"),
        ({"domain": [20, 10, 40, 50]}, "is not a box"),
    ]:
        with pytest.raises(ParameterError, match=re.escape(words)):
            sim(roots, model="CABLE-POP", driver="cable_pop", options=options)


def test_uploaded_campaign_confines_driver_option_paths(roots):
    text = (REPO / "configs/demo-cable.yaml").read_text().replace(
        "      chunks: 2", "      chunks: 2\n      executable: /usr/bin/true")
    with pytest.raises(ParameterError, match=r"models\[\]\.options\.executable"):
        validate_campaign(UPLOADED, text, roots)


def test_ssp_simulation_adds_the_scenario_run_from_2014(roots):
    c = sim(roots, scenario="ssp370", scenario_gcm="ukesm1-0-ll", scenario_end=2030,
            historical_first=2010, historical_last=2014, transient_start=2005)
    assert c.scenarios == ["ssp370"] and c.scenario_gcms == ["ukesm1-0-ll"]
    assert c.periods.scenario_end == 2030 and c.name.endswith("_ssp370_ukesm1-0-ll")


def test_campaign_config_and_yaml_must_agree(roots):
    with pytest.raises(ParameterError, match="disagree"):
        validate_campaign("demo", "name: x", roots)
    with pytest.raises(ParameterError, match="disagree"):
        validate_campaign(UPLOADED, "  ", roots)
    assert validate_campaign("demo", "", roots) == REPO / "configs" / "demo.yaml"


def uploaded(**over):
    import yaml

    base = {"name": "up", "resolution": 2, "periods": {"historical": [2004, 2005]},
            "models": [{"name": "M", "posterior": "params/p.json"}]}
    base.update(over)
    return yaml.safe_dump(base)


def test_uploaded_campaign_paths_are_confined(roots, tmp_path):
    path = validate_campaign(UPLOADED, uploaded(), roots)
    assert path.is_file() and path.is_relative_to(roots.runs)
    text = path.read_text()
    assert str((roots.data / "params/p.json").resolve()) in text
    assert f"run_root: {roots.runs}" in text
    for bad in [uploaded(models=[{"name": "M", "posterior": "../secret.json"}]),
                uploaded(run_root="/tmp"),
                uploaded(references={"catalog": "/etc/passwd"}),
                uploaded(forcing={"source": "crujra", "crujra_dir": "/"}),
                uploaded(forcing={"isimip_dir": "/"})]:
        with pytest.raises(ParameterError):
            validate_campaign(UPLOADED, bad, roots)


def test_uploaded_campaign_schema_errors_name_the_field(roots):
    with pytest.raises(ParameterError, match="resolution"):
        validate_campaign(UPLOADED, uploaded(resolution=3), roots)
    with pytest.raises(ParameterError, match="not valid YAML"):
        validate_campaign(UPLOADED, "a: [", roots)


def test_run_dir_must_be_a_finished_run_inside_the_run_root(roots):
    roots.runs.mkdir(parents=True, exist_ok=True)
    with pytest.raises(ParameterError, match="not a run directory"):
        validate_run_dir("nothing", roots)
    run = roots.runs / "r1"
    (run / "callmip" / "S3").mkdir(parents=True)
    (run / "campaign.yaml").write_text("name: r1\n")
    with pytest.raises(ParameterError, match="has not finished"):
        validate_run_dir("r1", roots)
    (run / "callmip" / "S3" / "x.nc").write_bytes(b"")
    assert validate_run_dir("r1", roots) == run.resolve()
    with pytest.raises(ParameterError):
        validate_run_dir("../r1", roots)


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "params", "link.json", "p.json", "/",
                                 "x y", "~"]), min_size=1, max_size=6))
@settings(max_examples=200, deadline=None)
def test_inside_never_returns_a_path_outside_the_root(tmp_path_factory, parts):
    root = tmp_path_factory.getbasetemp() / "inside-root"
    (root / "params").mkdir(parents=True, exist_ok=True)
    link = root / "params" / "link.json"
    if not link.is_symlink():
        link.symlink_to("/etc/hostname")
    given_path = "/".join(parts)
    try:
        out = inside(root, given_path, "p")
    except ParameterError:
        return
    assert out.is_relative_to(root.resolve())
    assert ".." not in Path(given_path).parts


def test_intercomparison_schema_and_path_confinement(tmp_path):
    props = schema("intercomparison")["properties"]
    assert props["mode"]["enum"] == ["ilamb27", "ilamb3"]
    assert props["on_check_error"]["enum"] == ["flag", "skip"]
    assert props["paths"]["items"]["pattern"] == REL_PATH
    data, runs = tmp_path / "data", tmp_path / "runs"
    (data / "uploads" / "CLM5").mkdir(parents=True)
    (data / "refs.yaml").write_text("products: []\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (data / "uploads" / "escape").symlink_to(outside)
    roots = Roots(data=data, runs=runs)
    got = validate_intercomparison(["uploads/CLM5"], "", "", "march", roots)
    assert got.paths == [(data / "uploads" / "CLM5").resolve()]
    assert got.references == REPO / "configs" / "references.yaml"
    assert got.out == (runs / "intercomparison" / "march").resolve()
    got = validate_intercomparison(["uploads"], "refs.yaml", "uploads", "x", roots)
    assert got.references == (data / "refs.yaml").resolve()
    for bad, message in ((["../x"], "'..' is not allowed"),
                         (["uploads/escape"], "outside the allowed directory"),
                         ([str(outside)], "outside the allowed directory"),
                         (["uploads/none"], "does not exist")):
        with pytest.raises(ParameterError, match=message):
            validate_intercomparison(bad, "", "", "x", roots)
    with pytest.raises(ParameterError, match="references"):
        validate_intercomparison(["uploads"], "/etc/passwd", "", "x", roots)


def test_collection_runs_are_the_finished_siblings(tmp_path):
    for name, finished in (("sim_A_prior", True), ("sim_A_posterior", True),
                           ("sim_B_prior", False), (".uploads", True)):
        run = tmp_path / name
        (run / "callmip" / "S3").mkdir(parents=True)
        (run / "campaign.yaml").write_text("name: x\n")
        if finished:
            (run / "callmip" / "S3" / "f.nc").write_bytes(b"CDF")
    got = collection_runs(tmp_path / "sim_A_prior")
    assert [p.name for p in got] == ["sim_A_posterior", "sim_A_prior"]
