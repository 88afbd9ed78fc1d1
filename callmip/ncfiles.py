"""Integrity checks for NetCDF files written by other programs (forcing inputs, model restarts).

Why: a truncated classic (netCDF-3) file opens without error and reads zeros (or fill) past its
end, and some programs (CABLE among them) then carry on with that state and exit 0. Comparing
the file's size with the data its header describes catches the truncation before anything
reads it. Used by the forcing readers and the model drivers; one copy of the rule.
"""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np


def classic_size_problem(ds: netCDF4.Dataset, path: Path) -> str | None:
    """Why an open classic file is shorter than its header says, or None if it is not.

    The header's data is a lower bound of the size (the header itself adds to it); netCDF-4
    (HDF5) files are not checked here (HDF5 reports truncation itself when read).
    """
    if not ds.data_model.startswith("NETCDF3"):
        return None
    fixed = record = 0
    n_record_vars = 0
    numrecs = 0
    for var in ds.variables.values():
        dims = [ds.dimensions[d] for d in var.dimensions]
        nbytes = var.dtype.itemsize * int(np.prod([len(d) for d in dims if not d.isunlimited()]))
        padded = -(-nbytes // 4) * 4
        if dims and dims[0].isunlimited():
            record += padded
            n_record_vars += 1
            numrecs = len(dims[0])
        else:
            fixed += padded
    if n_record_vars == 1:  # a lone record variable is not padded
        record = sum(
            v.dtype.itemsize * int(np.prod(v.shape[1:]))
            for v in ds.variables.values()
            if v.dimensions and ds.dimensions[v.dimensions[0]].isunlimited()
        )
    expected = fixed + numrecs * record
    size = Path(path).stat().st_size
    if size < expected:
        return (f"file is {size} bytes, shorter than the {expected} bytes of data its header "
                "describes: truncated or corrupted file")
    return None


def unreadable_reason(path: Path) -> str | None:
    """Why ``path`` is not a complete, readable NetCDF file (every variable is read), or None."""
    path = Path(path)
    if not path.exists():
        return "file is missing"
    try:
        with netCDF4.Dataset(path) as ds:
            problem = classic_size_problem(ds, path)
            if problem:
                return problem
            for var in ds.variables.values():
                var[...]
    except (OSError, RuntimeError, IndexError, ValueError) as exc:
        return f"not a readable NetCDF file (truncated or corrupted?): {exc}"
    return None
