"""regrid: exact, fast conservative, bilinear and nearest regridding of lat-lon grids.

Layers (each module's docstring states its contract):

* :mod:`regrid.grid` - :class:`Grid`, rectilinear lat-lon cells with bounds;
* :mod:`regrid.methods` - weight generators, pure numpy -> ``scipy.sparse`` CSR;
* :mod:`regrid.weights` - ESMF/SCRIP weight files and the on-disk cache;
* :mod:`regrid.apply` - applying weights to arrays with NaN/mask renormalisation;
* :mod:`regrid.regridder` - the xarray-facing :class:`Regridder` and :func:`regrid_to`;
* :mod:`regrid.files` - :func:`regrid_file`, streamed netCDF file-to-file regridding;
* :mod:`regrid.backends` - optional CDO and xESMF weight generators.
"""

from regrid.errors import (
    BackendError,
    BackendUnavailableError,
    GridError,
    GridMismatchError,
    RegridError,
    WeightsFileError,
)
from regrid.files import regrid_file
from regrid.grid import EARTH_RADIUS_M, Grid
from regrid.regridder import Regridder, regrid_to
from regrid.weights import read_weights, write_weights

__all__ = [
    "EARTH_RADIUS_M",
    "BackendError",
    "BackendUnavailableError",
    "Grid",
    "GridError",
    "GridMismatchError",
    "RegridError",
    "Regridder",
    "WeightsFileError",
    "read_weights",
    "regrid_file",
    "regrid_to",
    "write_weights",
]
