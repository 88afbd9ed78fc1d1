"""Against real CDO (Debian ``cdo``): weights, regridded values, and weight-file exchange.

CDO writes conservative weights ``normalization = "fracarea"`` (each row divided by the
destination's covered fraction) and sets ``dst_grid_frac`` to 1 on every mapped cell, so our
destination-area weights are compared after the same row normalisation; where the
destination is fully covered the two conventions coincide and are compared directly.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import scipy.sparse as sp
import xarray as xr

from regrid import Grid, Regridder
from regrid.backends.cdo import grid_description, write_grid_description
from regrid.methods import build_weights

FLUXCOM = Path(__file__).resolve().parents[2] / "data/ILAMB_ROOT/DATA/Latent_Heat/FLUXCOM/le.nc"


def _cdo(cdo_exe: str, *args: str, cwd: Path) -> None:
    proc = subprocess.run([cdo_exe, "-s", *args], cwd=cwd, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr


def _raw_scrip(path: Path, n_dst: int, n_src: int) -> sp.csr_matrix:
    with netCDF4.Dataset(path) as nc:
        assert nc.normalization == "fracarea"
        s = nc["remap_matrix"][:, 0]
        return sp.csr_matrix((s, (nc["dst_address"][:] - 1, nc["src_address"][:] - 1)),
                             shape=(n_dst, n_src))


def _fracarea(w: sp.csr_matrix) -> sp.csr_matrix:
    rows = np.asarray(w.sum(axis=1)).ravel()
    return (sp.diags(np.divide(1.0, rows, out=np.zeros_like(rows), where=rows > 0)) @ w).tocsr()


def _gencon(cdo_exe: str, src: Grid, dst: Grid, tmp: Path) -> sp.csr_matrix:
    write_grid_description(src, tmp / "src.txt")
    write_grid_description(dst, tmp / "dst.txt")
    _cdo(cdo_exe, "gencon,dst.txt", "-const,1,src.txt", "w.nc", cwd=tmp)
    return _raw_scrip(tmp / "w.nc", dst.size, src.size)


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        pytest.param(Grid.global_regular(0.5), Grid.global_regular(1.0), id="0.5->1",
                     marks=pytest.mark.slow),
        pytest.param(Grid.global_regular(0.5, lon0=0.0), Grid.global_regular(2.0),
                     id="0.5(0..360)->2(-180..180)", marks=pytest.mark.slow),
        pytest.param(Grid.global_regular(1.0, lon0=0.0), Grid.global_regular(2.5),
                     id="1(0..360)->2.5(-180..180)"),
    ],
)
def test_conservative_weights_match_cdo_gencon(cdo_exe, tmp_path, src, dst):
    ours = build_weights(src, dst, "conservative")
    theirs = _gencon(cdo_exe, src, dst, tmp_path)
    assert ours.nnz == theirs.nnz
    assert abs(ours - theirs).max() <= 1e-9


@pytest.mark.slow
@pytest.mark.parametrize("res", [1.0, 2.0])
def test_conservative_weights_match_cdo_for_cdo_named_grids(cdo_exe, tmp_path, res):
    """CDO's own r720x360 (0..359.5) grid to its r<nx>x<ny>, read back from CDO's files."""
    nx, ny = int(360 / res), int(180 / res)
    _cdo(cdo_exe, "-f", "nc", "const,1,r720x360", "src.nc", cwd=tmp_path)
    _cdo(cdo_exe, "-f", "nc", f"const,1,r{nx}x{ny}", "dst.nc", cwd=tmp_path)
    _cdo(cdo_exe, f"gencon,r{nx}x{ny}", "src.nc", "w.nc", cwd=tmp_path)
    src = Grid.from_dataset(xr.open_dataset(tmp_path / "src.nc"))
    dst = Grid.from_dataset(xr.open_dataset(tmp_path / "dst.nc"))
    theirs = Regridder.from_weights_file(tmp_path / "w.nc", src, dst).weights
    assert abs(build_weights(src, dst, "conservative") - theirs).max() <= 1e-9


@pytest.mark.parametrize(
    "direction", ["south-north", pytest.param("north-south", marks=pytest.mark.slow)])
def test_fluxcom_reference_grid_against_cdo(cdo_exe, tmp_path, direction):
    fluxcom = Grid.from_dataset(xr.open_dataset(FLUXCOM))
    if direction == "north-south":
        fluxcom = Grid(fluxcom.lat[::-1], fluxcom.lon, fluxcom.lat_bounds[::-1],
                       fluxcom.lon_bounds)
    # 0.5 deg -> FLUXCOM: every FLUXCOM cell fully covered, compared directly
    src = Grid.global_regular(0.5, lon0=0.0)
    ours = build_weights(src, fluxcom, "conservative")
    assert abs(ours - _gencon(cdo_exe, src, fluxcom, tmp_path)).max() <= 1e-9
    # FLUXCOM -> 1 deg: the 89.25..90 cap is uncovered; CDO stores fracarea rows
    dst = Grid.global_regular(1.0)
    ours = build_weights(fluxcom, dst, "conservative")
    rows = np.asarray(ours.sum(axis=1)).ravel()
    assert rows.reshape(dst.shape)[-1].max() == pytest.approx(
        (np.sin(np.deg2rad(89.25)) - np.sin(np.deg2rad(89.0)))
        / (1.0 - np.sin(np.deg2rad(89.0))), rel=1e-12)
    assert abs(_fracarea(ours) - _gencon(cdo_exe, fluxcom, dst, tmp_path)).max() <= 1e-9


def test_regional_dateline_grid_against_cdo(cdo_exe, tmp_path):
    src = Grid.regional(0.25, -12.0, 33.0, 170.0, 213.0)
    dst = Grid.from_centres(np.arange(88.5, -90, -3.0), np.arange(-178.5, 180, 3.0))
    ours = _fracarea(build_weights(src, dst, "conservative"))
    assert abs(ours - _gencon(cdo_exe, src, dst, tmp_path)).max() <= 1e-9


def test_land_field_matches_cdo_remapcon(cdo_exe, tmp_path, make_land_field):
    """Values on a NaN-masked land field: CDO renormalises over valid cells like we do."""
    src, dst = Grid.global_regular(2.0), Grid.global_regular(5.0, lon0=0.0)
    ds = make_land_field(src.lat, src.lon, n_time=3)
    ds.to_netcdf(tmp_path / "in.nc")
    write_grid_description(dst, tmp_path / "dst.txt")
    _cdo(cdo_exe, "remapcon,dst.txt", "in.nc", "cdo.nc", cwd=tmp_path)
    theirs = xr.open_dataset(tmp_path / "cdo.nc")["tas"]
    ours = Regridder(src, dst)(ds["tas"])
    np.testing.assert_array_equal(np.isnan(ours.values), np.isnan(theirs.values))
    np.testing.assert_allclose(ours.values, theirs.values, rtol=2e-7)
    # and applying CDO's own (land-masked) weights file gives the same numbers
    _cdo(cdo_exe, "gencon,dst.txt", "in.nc", "w.nc", cwd=tmp_path)
    from_cdo = Regridder.from_weights_file(tmp_path / "w.nc", src, dst)
    assert from_cdo.method == "conservative"
    np.testing.assert_allclose(from_cdo(ds["tas"]).values, theirs.values, rtol=2e-7)


@pytest.mark.parametrize("src", [Grid.global_regular(1.0),
                                 Grid.regional(0.5, -20.0, 30.0, 100.0, 160.0)],
                         ids=["global", "regional"])
def test_cdo_remap_applies_our_scrip_weights(cdo_exe, tmp_path, make_land_field, src):
    dst = Grid.global_regular(2.0, lon0=0.0)
    ds = make_land_field(src.lat, src.lon, n_time=2).fillna(271.5)  # CDO reuses weights
    ds.to_netcdf(tmp_path / "in.nc")  # only for fields without missing values
    regridder = Regridder(src, dst)
    regridder.to_netcdf(tmp_path / "ours.nc", format="scrip")
    write_grid_description(dst, tmp_path / "dst.txt")
    proc = subprocess.run([cdo_exe, "remap,dst.txt,ours.nc", "in.nc", "out.nc"],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "not used" not in proc.stderr  # CDO applied our file, did not recompute
    theirs = xr.open_dataset(tmp_path / "out.nc")["tas"]
    ours = regridder(ds["tas"])
    np.testing.assert_array_equal(np.isnan(ours.values), np.isnan(theirs.values))
    np.testing.assert_allclose(ours.values, theirs.values, rtol=2e-7)


@pytest.mark.parametrize("method", ["conservative", "bilinear", "nearest"])
def test_cdo_backend_behind_the_same_interface(cdo_exe, method):
    src, dst = Grid.global_regular(2.0), Grid.global_regular(3.0, lon0=0.0)
    via_cdo = Regridder(src, dst, method, backend="cdo")
    native = Regridder(src, dst, method)
    assert via_cdo.backend == "cdo"
    diff = abs(via_cdo.weights - native.weights).tocsr()
    if method == "bilinear":
        # CDO uses 4-point distance weighting inside the polar caps; elsewhere identical
        cap = np.abs(np.repeat(dst.lat, dst.lon.size)) > 89.0
        diff = sp.diags((~cap).astype(float)) @ diff
    assert diff.max() <= 1e-9


def test_grid_description_keeps_order_and_convention():
    g = Grid.from_centres(np.arange(89.5, -90, -1.0), np.arange(0.5, 360, 1.0))
    text = grid_description(g)
    assert "xsize = 360" in text and "ysize = 180" in text
    assert "yvals = 89.5 88.5" in text and "xvals = 0.5 1.5" in text
    assert "ybounds = 90 89\n89 88" in text


def test_missing_cdo_is_a_clear_error(monkeypatch):
    from regrid import BackendUnavailableError

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BackendUnavailableError, match="Debian package 'cdo'"):
        Regridder(Grid.global_regular(10.0), Grid.global_regular(20.0), backend="cdo")
