"""Region masks for regional scores: 'global' plus Giorgi or SREX regions from regionmask.

Contract: :func:`region_masks` returns, for a lat/lon grid, one boolean (lat, lon) mask per
requested region label. Labels are ``'global'``, a Giorgi abbreviation (``'AMZ'``) or
``'srex:<abbrev>'``. Both region sets ship inside the regionmask wheel, so nothing is
downloaded. A cell belongs to the region that contains its centre (regionmask's rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from benchmarks.errors import BenchmarkError

#: Regional subset used by default: the global domain and six Giorgi regions spanning the
#: major biomes (tropical forest, temperate and boreal, savanna, dryland).
DEFAULT_REGIONS: tuple[str, ...] = ("global", "AMZ", "ENA", "NEU", "SAF", "NAS", "AUS")


def _regionmask_sets() -> dict[str, object]:
    import regionmask

    return {
        "giorgi": regionmask.defined_regions.giorgi,
        "srex": regionmask.defined_regions.srex,
    }


def _split(label: str) -> tuple[str, str]:
    if ":" in label:
        family, abbrev = label.split(":", 1)
        return family.lower(), abbrev
    return "giorgi", label


def region_names(labels: Sequence[str]) -> dict[str, str]:
    """Long names for region labels (for tables and the report)."""
    names: dict[str, str] = {}
    sets = None
    for label in labels:
        if label == "global":
            names[label] = "Global land"
            continue
        sets = sets or _regionmask_sets()
        family, abbrev = _split(label)
        regions = sets[family]
        names[label] = str(regions[abbrev].name)
    return names


def region_masks(
    lat: np.ndarray, lon: np.ndarray, labels: Sequence[str]
) -> Mapping[str, np.ndarray]:
    """Boolean (lat, lon) masks for each label other than 'global' (which needs none)."""
    wanted = [label for label in labels if label != "global"]
    if not wanted:
        return {}
    sets = _regionmask_sets()
    lon180 = ((np.asarray(lon, float) + 180.0) % 360.0) - 180.0
    numbers_by_family: dict[str, np.ndarray] = {}
    masks: dict[str, np.ndarray] = {}
    for label in wanted:
        family, abbrev = _split(label)
        if family not in sets:
            raise BenchmarkError(f"unknown region family {family!r} in {label!r}")
        regions = sets[family]
        if abbrev not in regions.abbrevs:
            raise BenchmarkError(
                f"unknown {family} region {abbrev!r}; known: {', '.join(regions.abbrevs)}"
            )
        if family not in numbers_by_family:
            numbers_by_family[family] = np.asarray(
                regions.mask(lon180, np.asarray(lat, float)).values
            )
        number = regions.map_keys(abbrev)
        masks[label] = numbers_by_family[family] == number
    return masks
