"""Campaign validation: a bad file gives one clear message naming the field, exit code 2."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from callmip.config import CampaignError, load_campaign

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, **overrides) -> Path:
    base = {
        "name": "t",
        "resolution": 2,
        "periods": {"historical": [2003, 2005], "spinup_cycle": [1901, 1902]},
        "models": [{"name": "CELM-A", "version": "v1"}],
        "experiments": ["prior"],
        "references": {"catalog": str(tmp_path / "refs.yaml")},
    }
    (tmp_path / "refs.yaml").write_text("products: []\n")
    for key, value in overrides.items():
        base[key] = value
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(base))
    return path


def test_valid_minimal(tmp_path):
    c = load_campaign(write(tmp_path))
    assert c.resolution == 2
    assert c.run_dir.name == "t"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"resolution": 3}, "resolution: Input should be 0.5, 1 or 2 (got 3)"),
        ({"experiments": ["prior", "tuned"]}, "experiments.1: Input should be 'prior' or 'posterior'"),
        ({"simulations": ["S4"]}, "simulations.0: Input should be 'S0', 'S1', 'S2', 'S3', "
                                  "'CO2only', 'CO2LUC', 'CO2Ndep' or 'CO2LUCNdep'"),
        ({"simulations": ["S3", "S3"]}, "simulations listed twice: ['S3']"),
        ({"protocol": {"cal_val": "Cal"}}, "protocol.cal_val: Input should be 'Calibration' or "
                                           "'Validation' (got 'Cal')"),
        ({"protocol": {"phase": "Phase2"}}, "protocol.phase: Input should be 'Phase1a' or "
                                            "'Phase1b'"),
        ({"protocol": {"calibration_scenario": "Scen7"}}, "protocol.calibration_scenario: Input "
                                                          "should be 'Scen1', 'Scen2'"),
        ({"protocol": {"contact": "nobody"}}, "protocol.contact: String should match pattern"),
        ({"protocol": {"institution": "x\ny"}}, "protocol.institution: String should match"),
        ({"spinup": {"forcing_levels": "callmip_site"},
          "periods": {"historical": [2003, 2005], "transient_start": 1701}},
         "transient_start must be 1851 (got 1701)"),
        ({"periods": {"historical": [2005, 2003]}}, "periods: periods.historical must be [first, last]"),
        ({"periods": {"historical": [2003, 2030]}}, "historical CO2 stops in 2024"),
        ({"scheduler": {"backend": "pbs"}}, "scheduler.backend: Input should be 'local' or 'slurm'"),
        ({"models": [{"name": "A;rm -rf /"}]}, "models.0.name: String should match pattern"),
        ({"models": []}, "models: List should have at least 1 item"),
        ({"experiments": ["prior", "posterior"]}, "needs models[].posterior for: CELM-A"),
        ({"typo_field": 1}, "typo_field: Extra inputs are not permitted"),
        ({"scheduler": {"resources": {"partition": "x$(id)"}}}, "scheduler.resources.partition"),
    ],
)
def test_bad_fields_are_named(tmp_path, override, expected):
    with pytest.raises(CampaignError) as err:
        load_campaign(write(tmp_path, **override))
    assert expected in str(err.value)
    assert str(tmp_path / "c.yaml") in str(err.value)


def test_missing_parameter_file(tmp_path):
    path = write(tmp_path, models=[{"name": "M", "posterior": "nope.json"}],
                 experiments=["posterior"])
    with pytest.raises(CampaignError, match=r"models\[M\].posterior: file .*nope.json does not exist"):
        load_campaign(path)


def test_not_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(CampaignError, match="not valid YAML"):
        load_campaign(bad)
    with pytest.raises(CampaignError, match="does not exist"):
        load_campaign(tmp_path / "missing.yaml")


def test_cli_exit_code_2_and_nothing_started(tmp_path):
    path = write(tmp_path, resolution=5, run_root=str(tmp_path / "runs"))
    proc = subprocess.run(
        [sys.executable, "-m", "callmip_app.cli", "run", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "resolution: Input should be 0.5, 1 or 2 (got 5)" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_demo_campaign_is_valid():
    c = load_campaign(REPO / "configs" / "demo.yaml")
    assert len(c.models) >= 2
    assert set(c.experiments) == {"prior", "posterior"}


def test_every_registered_driver_is_accepted_with_its_typed_options(tmp_path):
    from callmip.drivers import DRIVERS

    models = [{"name": f"M{i}", "driver": name} for i, name in enumerate(DRIVERS)]
    c = load_campaign(write(tmp_path, models=models, experiments=["prior"]))
    assert [m.driver for m in c.models] == list(DRIVERS)
    assert [type(m.options).__name__ for m in c.models] == [
        "CelmOptions", "CablePopOptions", "OrchideeOptions", "ClmOptions", "ClassicOptions"]


@pytest.mark.parametrize(("model", "expected"), [
    ({"name": "M", "driver": "jules"}, "models.0: unknown model driver; registered: celm, "
                                       "cable_pop"),
    ({"name": "M", "driver": "cable_pop", "options": {"chunks": 0}},
     "models.0.options.chunks: Input should be greater than or equal to 1"),
    ({"name": "M", "driver": "cable_pop", "options": {"mpi_tasks": 4}},
     "models.0.options.mpi_tasks: Extra inputs are not permitted"),
    ({"name": "M", "driver": "orchidee", "options": {"chunks": 2}},
     "models.0.options.chunks: Extra inputs are not permitted"),
    ({"name": "M", "driver": "cable_pop", "options": {"cable_nml": {"a b": 1}}},
     "is not a namelist entry name"),
    ({"name": "M", "driver": "cable_pop", "options": {"gridinfo": "nope.nc"}},
     "models[M].options: gridinfo file"),
    ({"name": "M", "driver": "cable_pop", "options": {"source_dir": "."}},
     "models[M].options: source_dir:"),
])
def test_driver_options_are_checked_before_anything_starts(tmp_path, model, expected):
    with pytest.raises(CampaignError) as err:
        load_campaign(write(tmp_path, models=[model], experiments=["prior"]))
    assert expected in str(err.value)


def test_validate_warns_about_drivers_that_never_ran_their_program(tmp_path):
    path = write(tmp_path, models=[{"name": "ORC", "driver": "orchidee"},
                                   {"name": "CAB", "driver": "cable_pop",
                                    "options": {"chunks": 4}}], experiments=["prior"])
    proc = subprocess.run([sys.executable, "-m", "callmip_app.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING: the orchidee driver has never run its real program" in proc.stdout
    assert "WARNING: the cable_pop driver" not in proc.stdout
    assert "model CAB.v1: driver cable_pop; accelerated spin-up: CASA-only" in proc.stdout
    assert "4 land chunk(s) per run" in proc.stdout


def test_validate_says_how_the_spin_up_is_judged(tmp_path):
    path = write(tmp_path, experiments=["prior"],
                 spinup={"judge": "phase", "consecutive": 1, "max_cycles": 7})
    proc = subprocess.run([sys.executable, "-m", "callmip_app.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert ("judged by first year, one cycle apart, passing 1x in a row within 7 cycles "
            "(then fail)") in proc.stdout
    bad = write(tmp_path, experiments=["prior"], spinup={"judge": "yearly"})
    with pytest.raises(CampaignError, match=r"spinup\.judge"):
        load_campaign(bad)


def test_cable_demo_campaign_is_valid():
    c = load_campaign(REPO / "configs" / "demo-cable.yaml")
    (model,) = c.models
    assert model.driver == "cable_pop" and model.options.chunks == 2
    assert set(c.simulations) == {"S3", "CO2only"} and set(c.experiments) == {"prior",
                                                                              "posterior"}
