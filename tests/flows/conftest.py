"""The small campaign the whole-campaign tests of this directory share (it runs once)."""

import pytest

from callmip.scheduler import JobLedger

#: protocol metadata of the shared campaign (written into every file, needed by bundles)
PROTOCOL = {"contact": "Jane Doe <jane.doe@example.org>", "institution": "Example Institute",
            "cal_val": "Validation", "calibration_scenario": "Scen1", "phase": "Phase1b"}


@pytest.fixture(scope="session")
def campaign_run(tmp_path_factory, campaign_cli):
    """2 degrees, CELM-A prior + posterior, S2, S3 and CO2only 2004-2005 after a transient
    from 1995 (land use and CO2 held at 1994 levels in spin-up, on a 2-year cycle that must
    pass every criterion twice in a row within 4 cycles), synthetic weather warming by 1 K per
    century; run twice (the second run must reuse everything)."""
    tmp = tmp_path_factory.mktemp("campaign")
    path = campaign_cli.write(
        tmp, "e2e",
        forcing={"seed": 3, "trend_k_per_century": 1.0},
        periods={"spinup_cycle": [1901, 1902], "transient_start": 1995,
                 "historical": [2004, 2005]},
        spinup={"mode": "accelerated", "max_cycles": 4, "consecutive": 2,
                "on_max_cycles": "fail"},
        references={"variables": ["hfls", "hfss"]},
        simulations=["S2", "S3", "CO2only"],
        protocol=PROTOCOL,
    )  # fmt: skip
    first = campaign_cli.run(path, tmp, timeout=1200)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-5000:]
    run_dir = tmp / "runs" / "e2e"
    n_jobs = JobLedger(run_dir / "jobs.json").submissions()
    second = campaign_cli.run(path, tmp, timeout=900)
    assert second.returncode == 0, second.stderr[-5000:]
    return run_dir, first, second, n_jobs
