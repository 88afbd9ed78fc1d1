"""CF metadata of regridded variables and datasets.

Contract: pure functions on attribute dicts. Regridding keeps every attribute (units,
standard_name, long_name...) except ones that can no longer be true (``actual_range``), records
the method in ``regrid_method`` (as xESMF does) and, for conservative regridding, appends
``area: mean`` to ``cell_methods``: each value is now the area-weighted mean over the new cell,
which is what CF's ``area: mean`` states. A dataset's ``history`` gets one line per regrid.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_AREA_MEAN = re.compile(r"\barea:\s*mean\b")
_STALE = ("actual_range",)


def regridded_attrs(attrs: dict[str, Any], method: str) -> dict[str, Any]:
    """Attributes of a variable after regridding with ``method``."""
    new = {k: v for k, v in attrs.items() if k not in _STALE}
    if method == "conservative":
        cell_methods = str(new.get("cell_methods", "")).strip()
        if not _AREA_MEAN.search(cell_methods):
            new["cell_methods"] = f"{cell_methods} area: mean".strip()
    new["regrid_method"] = method
    return new


def history_line(method: str, src_shape: tuple[int, int], dst_shape: tuple[int, int]) -> str:
    """One ``history`` entry describing a regrid."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f"{stamp}: regridded ({method}) from {src_shape[0]}x{src_shape[1]} to "
            f"{dst_shape[0]}x{dst_shape[1]} lat-lon cells with callmip-global regrid")


def add_history(attrs: dict[str, Any], line: str) -> dict[str, Any]:
    """Global attributes with ``line`` put first in ``history`` (newest first, as CDO/NCO)."""
    new = dict(attrs)
    old = str(new.get("history", "")).strip("\n")
    new["history"] = f"{line}\n{old}" if old else line
    return new
