"""Posterior ensemble members: the CalLMIP posterior files of a campaign carry _post_unc.

Reads the shared campaign (``campaign_run`` in tests/conftest.py: the real CLI, forcing,
spin-up, runs through the local executor, conform) whose posterior has
``ensemble_members: 2``.
"""

import netCDF4
import numpy as np
import pytest

from callmip.conform import check_file

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]  # whole campaigns: minutes


@pytest.mark.parametrize("freq", ["monthly", "annual"])
def test_posterior_files_have_post_unc_prior_files_do_not(campaign_run, freq):
    callmip_dir = campaign_run[0] / "callmip" / "S3"
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
