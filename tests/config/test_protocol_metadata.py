"""Protocol metadata in a campaign: bad values stop everything before it starts (exit 2), and
an upload bundle needs the contact and institution."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _campaign(tmp_path: Path, **protocol) -> Path:
    doc = {
        "name": "meta", "resolution": 2,
        "periods": {"historical": [2004, 2005], "spinup_cycle": [1901, 1901],
                    "transient_start": 1995},
        "models": [{"name": "CELM-A"}], "experiments": ["prior"],
        "references": {"catalog": str(REPO / "configs/references.yaml")},
        "run_root": str(tmp_path / "runs"), "protocol": protocol,
    }
    path = tmp_path / "meta.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PREFECT_HOME": str(tmp_path / "prefect")}
    return subprocess.run([sys.executable, "-m", "callmip_app.cli", *args], capture_output=True,
                          text=True, timeout=300, env=env)


@pytest.mark.parametrize(("protocol", "field", "allowed"), [
    ({"cal_val": "Cal"}, "protocol.cal_val", "'Calibration' or 'Validation'"),
    ({"calibration_scenario": "Scen7"}, "protocol.calibration_scenario",
     "'Scen1', 'Scen2', 'Scen3', 'Scen4', 'Scen5' or 'Scen6'"),
    ({"phase": "Phase2"}, "protocol.phase", "'Phase1a' or 'Phase1b'"),
    ({"contact": "jane at uni"}, "protocol.contact", "String should match pattern"),
])
def test_bad_protocol_metadata_exits_2_and_starts_nothing(tmp_path, protocol, field, allowed):
    path = _campaign(tmp_path, **protocol)
    for command in ("validate", "run"):
        done = _cli(command, str(path), tmp_path=tmp_path)
        assert done.returncode == 2, done.stderr
        assert field in done.stderr and allowed in done.stderr and str(path) in done.stderr
    assert not (tmp_path / "runs").exists()


def test_bundle_needs_contact_and_institution(tmp_path):
    run_dir = tmp_path / "runs" / "meta"
    run_dir.mkdir(parents=True)
    (run_dir / "campaign.yaml").write_text(_campaign(tmp_path, cal_val="Validation").read_text())
    done = _cli("bundle", str(run_dir), tmp_path=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "protocol.contact is not set" in done.stderr and "protocol.institution" in done.stderr
    assert not (run_dir / "bundle").exists()
