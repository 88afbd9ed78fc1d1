"""A small campaign with posterior ensemble members: the CalLMIP posterior files carry _post_unc.

Runs the real CLI (forcing, spin-up, runs through the local executor, conform), like
tests/flows/test_campaign_e2e.py, with ``ensemble_members: 2`` for the posterior.
"""

from pathlib import Path

import netCDF4
import numpy as np
import pytest

from callmip.conform import check_file

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]  # whole campaigns: minutes


@pytest.fixture(scope="module")
def callmip_dir(tmp_path_factory, campaign_cli) -> Path:
    tmp = tmp_path_factory.mktemp("ens_campaign")
    path = campaign_cli.write(
        tmp, "ens",
        forcing={"seed": 5},
        periods={"spinup_cycle": [1901, 1901], "transient_start": 2002,
                 "historical": [2004, 2005]},
        spinup={"mode": "accelerated", "analytic_cycles": 1, "max_cycles": 2},
        models=[{**campaign_cli.CELM_A, "ensemble_members": 2}],
        references={"variables": ["hfls"]},
    )  # fmt: skip
    done = campaign_cli.run(path, tmp, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return tmp / "runs" / "ens" / "callmip" / "S3"


@pytest.mark.parametrize("freq", ["monthly", "annual"])
def test_posterior_files_have_post_unc_prior_files_do_not(callmip_dir, freq):
    post = callmip_dir / f"CELM-A.v1_global_2deg_{freq}_2004-2005_Posterior.nc"
    prior = callmip_dir / f"CELM-A.v1_global_2deg_{freq}_2004-2005_Prior.nc"
    for path in (post, prior):
        report = check_file(path)
        assert report.ok, report.render()
    with netCDF4.Dataset(post) as nc:
        for v in ("nep", "hfls", "hfss"):
            unc = nc[f"{v}_post_unc"]
            assert unc.units == nc[v].units
            assert unc.ensemble_members == 2
            data = np.ma.masked_invalid(unc[:])
            assert data.count() > 0 and float(data.min()) >= 0.0
        # members differ in kphio/theta_star/r_soil: the spread is not zero everywhere
        assert float(np.ma.masked_invalid(nc["nep_post_unc"][:]).max()) > 0.0
    with netCDF4.Dataset(prior) as nc:
        assert not [v for v in nc.variables if v.endswith("_post_unc")]
