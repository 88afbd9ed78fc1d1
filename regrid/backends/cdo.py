"""CDO backend: weights from Debian's ``cdo`` (``gencon``, ``genbil``, ``gennn``).

Contract: ``weights(src, dst, method)`` writes both grids as CDO grid-description files with
explicit centres and bounds (so CDO sees exactly our cells, in our order, including latitude
direction and longitude convention), runs ``cdo gen<method>,dst.txt -const,1,src.txt`` in a
temporary directory and reads the SCRIP file back through :mod:`regrid.weights` (which turns
CDO's ``fracarea`` normalisation into destination-area weights). A missing ``cdo`` raises
:class:`BackendUnavailableError`; a failing one :class:`BackendError` with CDO's stderr.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from regrid.errors import BackendError, BackendUnavailableError, RegridError
from regrid.grid import Grid
from regrid.weights import read_weights

log = logging.getLogger(__name__)

OPERATORS = {"conservative": "gencon", "bilinear": "genbil", "nearest": "gennn"}
_TIMEOUT_S = 3600


def cdo_executable() -> str:
    """Path of ``cdo`` or :class:`BackendUnavailableError` saying how to get it."""
    exe = shutil.which("cdo")
    if exe is None:
        raise BackendUnavailableError(
            "the CDO backend needs the 'cdo' executable (Debian package 'cdo'); it is not on "
            "PATH"
        )
    return exe


def _values(arr: np.ndarray) -> str:
    return "\n".join(" ".join(f"{v:.17g}" for v in row) for row in np.atleast_2d(arr))


def grid_description(grid: Grid) -> str:
    """CDO grid-description text for ``grid`` (type ``lonlat`` with explicit bounds)."""
    west, width = grid.lon_intervals()
    south, north = grid.lat_intervals()
    lat_b = np.where((grid.lat_bounds[:, :1] <= grid.lat_bounds[:, 1:]),
                     np.column_stack([south, north]), np.column_stack([north, south]))
    ny, nx = grid.shape
    return "\n".join([
        "gridtype = lonlat",
        f"gridsize = {grid.size}",
        f"xsize = {nx}",
        f"ysize = {ny}",
        f"xname = {grid.lon_name}",
        'xunits = "degrees_east"',
        f"yname = {grid.lat_name}",
        'yunits = "degrees_north"',
        f"xvals = {_values(grid.lon[None, :])}",
        f"xbounds = {_values(np.column_stack([west, west + width]))}",
        f"yvals = {_values(grid.lat[None, :])}",
        f"ybounds = {_values(lat_b)}",
        "",
    ])


def write_grid_description(grid: Grid, path: str | Path) -> Path:
    """Write :func:`grid_description` to ``path`` and return it."""
    path = Path(path)
    path.write_text(grid_description(grid))
    return path


def run_cdo(args: list[str], cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cdo -s <args>``; :class:`BackendError` with CDO's message if it fails."""
    cmd = [cdo_executable(), "-s", *args]
    log.debug("running %s", " ".join(cmd))
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=_TIMEOUT_S,
                          check=False)
    if proc.returncode != 0:
        raise BackendError(
            f"cdo failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stderr.strip()}"
        )
    return proc


def weights(src: Grid, dst: Grid, method: str) -> sp.csr_matrix:
    """CDO's weights for ``method`` from ``src`` to ``dst`` (destination-area convention)."""
    if method not in OPERATORS:
        raise RegridError(f"CDO backend: unknown method {method!r}; choose {tuple(OPERATORS)}")
    cdo_executable()
    with tempfile.TemporaryDirectory(prefix="regrid-cdo-") as tmp:
        src_txt = write_grid_description(src, Path(tmp) / "src.txt")
        dst_txt = write_grid_description(dst, Path(tmp) / "dst.txt")
        out = Path(tmp) / "weights.nc"
        run_cdo([f"{OPERATORS[method]},{dst_txt}", f"-const,1,{src_txt}", str(out)], cwd=tmp)
        wf = read_weights(out)
        wf.check_grids(src, dst)
        return wf.weights
