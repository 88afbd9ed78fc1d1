"""Region masks for regional scores: 'global', ILAMB's GFED regions, Giorgi and SREX regions.

Contract: :func:`region_masks` returns, for a lat/lon grid, one boolean (lat, lon) mask per
requested region label; :func:`region_areas` gives the per-region cell areas a rule needs.
Labels are ``'global'``, an ILAMB/GFED label (``'bona'`` ... ``'aust'``, lower case as ILAMB
writes them; ``'gfed:bona'`` also works), a Giorgi abbreviation (``'AMZ'``) or
``'srex:<abbrev>'``. Nothing is downloaded: the GFED boxes are written below, the Giorgi and
SREX polygons ship inside the regionmask wheel.

Where the GFED boxes come from. ILAMB's default regions are the 14 basis regions of the Global
Fire Emissions Database (Giglio et al. 2006, van der Werf et al. 2017) reduced to
latitude/longitude boxes. The two ILAMB generations write the boxes - and the rule that puts a
cell inside one - differently, and each scoring mode follows its own tool:

* ``ilamb27``: the boxes in ILAMB 2.7.3's ``ILAMB/Regions.py`` (edges on .25/.75 degrees,
  e.g. bona 49.75-79.75 N, 170.25-60.25 W); a cell belongs to a box when its centre satisfies
  ``lo < centre <= hi`` in latitude and in longitude (-180..180), ILAMB's ``getMask``.
* ``ilamb3``: the boxes in ilamb3 2025.9.9's ``ilamb3/regions.py`` (whole degrees, e.g. bona
  50-80 N, 170-60 W); a region is the block of grid rows and columns from the centre nearest
  to the lower edge to the centre nearest to the upper edge, inclusive (xarray
  ``sel(method='nearest')`` slices, ties to the larger coordinate), ilamb3's
  ``restrict_to_bbox``. ilamb3 also measures cells of a region from the centres of that block
  alone, so :func:`region_areas` returns those areas.

Giorgi and SREX regions contain the cells whose centre lies in the polygon (regionmask's rule),
in both modes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np

from benchmarks.errors import BenchmarkError

RegionRule = Literal["ilamb27", "ilamb3"]

GFED_NAMES: Mapping[str, str] = MappingProxyType({
    "bona": "Boreal North America",
    "tena": "Temperate North America",
    "ceam": "Central America",
    "nhsa": "Northern Hemisphere South America",
    "shsa": "Southern Hemisphere South America",
    "euro": "Europe",
    "mide": "Middle East",
    "nhaf": "Northern Hemisphere Africa",
    "shaf": "Southern Hemisphere Africa",
    "boas": "Boreal Asia",
    "ceas": "Central Asia",
    "seas": "Southeast Asia",
    "eqas": "Equatorial Asia",
    "aust": "Australia",
})

#: ILAMB 2.7.3 ``ILAMB/Regions.py``: (lat_lo, lat_hi, lon_lo, lon_hi).
GFED_BOXES_ILAMB27: Mapping[str, tuple[float, float, float, float]] = MappingProxyType({
    "bona": (49.75, 79.75, -170.25, -60.25),
    "tena": (30.25, 49.75, -125.25, -66.25),
    "ceam": (9.75, 30.25, -115.25, -80.25),
    "nhsa": (0.25, 12.75, -80.25, -50.25),
    "shsa": (-59.75, 0.25, -80.25, -33.25),
    "euro": (35.25, 70.25, -10.25, 30.25),
    "mide": (20.25, 40.25, -10.25, 60.25),
    "nhaf": (0.25, 20.25, -20.25, 45.25),
    "shaf": (-34.75, 0.25, 10.25, 45.25),
    "boas": (54.75, 70.25, 30.25, 179.75),
    "ceas": (30.25, 54.75, 30.25, 142.58),
    "seas": (5.25, 30.25, 65.25, 120.25),
    "eqas": (-10.25, 10.25, 99.75, 150.25),
    "aust": (-41.25, -10.50, 112.00, 154.00),
})

#: ilamb3 2025.9.9 ``ilamb3/regions.py``: (lat_lo, lat_hi, lon_lo, lon_hi).
GFED_BOXES_ILAMB3: Mapping[str, tuple[float, float, float, float]] = MappingProxyType({
    "bona": (50, 80, -170, -60),
    "tena": (30, 50, -125, -66),
    "ceam": (10, 30, -115, -80),
    "nhsa": (0, 13, -80, -50),
    "shsa": (-60, 0, -80, -33),
    "euro": (35, 70, -10, 30),
    "mide": (20, 40, -10, 60),
    "nhaf": (0, 20, -20, 45),
    "shaf": (-35, 0, 10, 45),
    "boas": (55, 70, 30, 180),
    "ceas": (30, 55, 30, 143),
    "seas": (5, 30, 65, 120),
    "eqas": (-10, 10, 100, 150),
    "aust": (-41, -11, 112, 154),
})

GFED_REGIONS: tuple[str, ...] = tuple(GFED_NAMES)
GIORGI_DEFAULT: tuple[str, ...] = ("AMZ", "ENA", "NEU", "SAF", "NAS", "AUS")
#: Regional subset used by default: the global domain, ILAMB's 14 GFED regions and six
#: Giorgi regions spanning the major biomes (tropical forest, temperate and boreal, savanna,
#: dryland).
DEFAULT_REGIONS: tuple[str, ...] = ("global", *GFED_REGIONS, *GIORGI_DEFAULT)


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
    if label.lower() in GFED_NAMES:
        return "gfed", label.lower()
    return "giorgi", label


def check_regions(labels: Sequence[str]) -> None:
    """Raise :class:`BenchmarkError` naming any label that is not a known region."""
    sets = None
    for label in labels:
        if label == "global":
            continue
        family, abbrev = _split(label)
        if family == "gfed":
            if abbrev not in GFED_NAMES:
                raise BenchmarkError(f"unknown GFED region {abbrev!r}; known: "
                                     f"{', '.join(GFED_NAMES)}")
            continue
        sets = sets or _regionmask_sets()
        if family not in sets:
            raise BenchmarkError(f"unknown region family {family!r} in {label!r}")
        regions = sets[family]
        if abbrev not in regions.abbrevs:
            raise BenchmarkError(
                f"unknown {family} region {abbrev!r}; known: {', '.join(regions.abbrevs)}"
            )


def region_names(labels: Sequence[str]) -> dict[str, str]:
    """Long names for region labels (for tables and the report)."""
    names: dict[str, str] = {}
    sets = None
    for label in labels:
        if label == "global":
            names[label] = "Global land"
            continue
        family, abbrev = _split(label)
        if family == "gfed":
            names[label] = GFED_NAMES.get(abbrev, label)
            continue
        sets = sets or _regionmask_sets()
        names[label] = str(sets[family][abbrev].name)
    return names


def nearest_label_index(coord: np.ndarray, value: float) -> int:
    """Index of the coordinate nearest to ``value`` (ascending ``coord``; ties to the larger),
    as pandas/xarray ``sel(method='nearest')`` picks it."""
    coord = np.asarray(coord, float)
    i = int(np.searchsorted(coord, value, side="left"))
    if i <= 0:
        return 0
    if i >= coord.size:
        return coord.size - 1
    return i if coord[i] - value <= value - coord[i - 1] else i - 1


@dataclass(frozen=True)
class BoxBlock:
    """The rows i0..i1 and columns j0..j1 (inclusive) an ilamb3 bounding box selects."""

    i0: int
    i1: int
    j0: int
    j1: int

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        out = np.zeros(shape, dtype=bool)
        if self.i1 >= self.i0 and self.j1 >= self.j0:
            out[self.i0 : self.i1 + 1, self.j0 : self.j1 + 1] = True
        return out


def ilamb3_block(lat: np.ndarray, lon: np.ndarray, box: tuple[float, ...]) -> BoxBlock:
    """ilamb3's ``restrict_to_bbox`` on an ascending grid."""
    lat0, latf, lon0, lonf = box
    return BoxBlock(
        nearest_label_index(lat, lat0), nearest_label_index(lat, latf),
        nearest_label_index(lon, lon0), nearest_label_index(lon, lonf),
    )


def _gfed_mask_ilamb27(lat: np.ndarray, lon: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
    lat0, latf, lon0, lonf = box
    lon180 = ((np.asarray(lon, float) + 180.0) % 360.0) - 180.0
    lon180 = np.where(np.asarray(lon, float) == 180.0, 180.0, lon180)
    rows = (lat > lat0) & (lat <= latf)
    cols = (lon180 > lon0) & (lon180 <= lonf)
    return rows[:, None] & cols[None, :]


def region_masks(
    lat: np.ndarray,
    lon: np.ndarray,
    labels: Sequence[str],
    rule: RegionRule = "ilamb27",
) -> Mapping[str, np.ndarray]:
    """Boolean (lat, lon) masks for each label other than 'global' (which needs none).

    ``lat`` must be ascending; ``lon`` in any convention (ilamb3's rule uses it as given, as
    ilamb3 does, and expects it sorted).
    """
    wanted = [label for label in labels if label != "global"]
    if not wanted:
        return {}
    check_regions(wanted)
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    masks: dict[str, np.ndarray] = {}
    numbers_by_family: dict[str, np.ndarray] = {}
    sets = None
    lon180 = ((lon + 180.0) % 360.0) - 180.0
    for label in wanted:
        family, abbrev = _split(label)
        if family == "gfed":
            if rule == "ilamb3":
                masks[label] = ilamb3_block(lat, lon, GFED_BOXES_ILAMB3[abbrev]).mask(
                    (lat.size, lon.size))
            else:
                masks[label] = _gfed_mask_ilamb27(lat, lon, GFED_BOXES_ILAMB27[abbrev])
            continue
        sets = sets or _regionmask_sets()
        regions = sets[family]
        if family not in numbers_by_family:
            numbers_by_family[family] = np.asarray(regions.mask(lon180, lat).values)
        masks[label] = numbers_by_family[family] == regions.map_keys(abbrev)
    return masks


def region_areas(
    lat: np.ndarray, lon: np.ndarray, labels: Sequence[str], rule: RegionRule
) -> Mapping[str, np.ndarray]:
    """Per-region (lat, lon) cell areas where a rule measures cells per region.

    Only ilamb3 does: it recomputes bounds from the centres of the selected block, so the
    cells at a block's edge are measured by extrapolation within the block. Other rules and
    labels use the grid's own areas (no entry here).
    """
    if rule != "ilamb3":
        return {}
    from benchmarks.fields import areas_from_centres

    out: dict[str, np.ndarray] = {}
    for label in labels:
        family, abbrev = _split(label) if label != "global" else ("global", "")
        if family != "gfed":
            continue
        block = ilamb3_block(lat, lon, GFED_BOXES_ILAMB3[abbrev])
        area = np.zeros((lat.size, lon.size))
        if block.i1 >= block.i0 and block.j1 >= block.j0:
            area[block.i0 : block.i1 + 1, block.j0 : block.j1 + 1] = areas_from_centres(
                lat[block.i0 : block.i1 + 1], lon[block.j0 : block.j1 + 1])
        out[label] = area
    return out
