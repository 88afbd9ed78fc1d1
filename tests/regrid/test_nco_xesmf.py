"""Weight exchange with NCO (``ncks --map``) and the optional xESMF backend."""

from __future__ import annotations

import importlib.util
import subprocess

import numpy as np
import pytest
import xarray as xr

from regrid import BackendUnavailableError, Grid, Regridder
from regrid.backends.xesmf import import_xesmf

SRC = Grid.global_regular(2.0)
DST = Grid.global_regular(5.0, lon0=0.0)


@pytest.mark.parametrize("fmt", ["esmf", "scrip"])
def test_nco_applies_our_weights(ncks_exe, tmp_path, make_land_field, fmt):
    ds = make_land_field(SRC.lat, SRC.lon, n_time=2)
    # CMIP-style numeric fill value: NCO does not treat a NaN _FillValue as missing
    ds.to_netcdf(tmp_path / "in.nc", encoding={"tas": {"_FillValue": np.float32(1e20)}})
    regridder = Regridder(SRC, DST)
    regridder.to_netcdf(tmp_path / "map.nc", format=fmt)
    # --rnr=0.0: renormalise over valid source cells, NCO's equivalent of our skipna
    proc = subprocess.run([ncks_exe, "-O", "--rnr=0.0", "--map=map.nc", "in.nc", "out.nc"],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "unable to discern map-file type" not in proc.stderr
    theirs = xr.open_dataset(tmp_path / "out.nc")
    ours = regridder(ds["tas"])
    np.testing.assert_allclose(theirs["lat"], DST.lat, atol=1e-10)
    np.testing.assert_array_equal(np.isnan(theirs["tas"].values), np.isnan(ours.values))
    np.testing.assert_allclose(theirs["tas"].values, ours.values, rtol=2e-7)


@pytest.mark.skipif(importlib.util.find_spec("esmpy") is not None,
                    reason="esmpy is importable here; the unavailable path cannot be tested")
def test_xesmf_backend_reports_why_it_is_unavailable():
    with pytest.raises(BackendUnavailableError, match="esmpy"):
        Regridder(SRC, DST, backend="xesmf")


def _xesmf_or_skip():
    try:
        return import_xesmf()
    except BackendUnavailableError as err:
        pytest.skip(f"xesmf backend unavailable: {err}")


@pytest.mark.parametrize("method", ["conservative", "bilinear"])
def test_xesmf_backend_matches_native_weights(method):
    _xesmf_or_skip()
    ours = Regridder(SRC, DST, method).weights
    theirs = Regridder(SRC, DST, method, backend="xesmf").weights
    # ESMF treats cell edges as great circles, so conservative weights differ slightly
    assert abs(ours - theirs).max() <= (1e-3 if method == "conservative" else 1e-9)
