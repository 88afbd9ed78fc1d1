"""Natural Earth-style land and ocean shapefiles made offline, for cartopy (ILAMB 2.7's maps).

Contract: :func:`write_natural_earth` writes ``ne_110m_land`` and ``ne_110m_ocean`` polygon
shapefiles where cartopy looks for pre-downloaded Natural Earth data
(``<dir>/shapefiles/natural_earth/physical/``); point ``CARTOPY_DATA_DIR`` at ``<dir>`` and
cartopy never tries to download them. ILAMB 2.7 draws every map over those two features, so
without them ``ilamb-run`` fails with URLError here (no internet). The polygons are traced from
the GLOBE 1-km land mask shipped in the ``global-land-mask`` wheel, sampled at 0.25 degrees
(about the detail of Natural Earth's 1:110m coastlines); they are for drawing backgrounds, not
for any number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FEATURES = ("land", "ocean")


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _oriented(ring: np.ndarray, clockwise: bool) -> list[list[float]]:
    """The ring closed and oriented (shapefile: exteriors clockwise, holes anticlockwise)."""
    if not np.allclose(ring[0], ring[-1]):
        ring = np.vstack([ring, ring[:1]])
    if (_signed_area(ring) < 0) != clockwise:
        ring = ring[::-1]
    return ring.tolist()


def mask_polygons(
    land: bool, res_deg: float = 0.25
) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """(exterior, holes) rings in lon/lat of the filled contours of land (or of ocean).

    Each feature is traced on its own, padded with the other, so every ring closes inside
    the domain (cartopy draws one world-sized polygon with hundreds of holes as a solid fill).
    """
    import contourpy
    from global_land_mask import globe

    lat = np.arange(-90 + res_deg / 2, 90, res_deg)
    lon = np.arange(-180 + res_deg / 2, 180, res_deg)
    lon2, lat2 = np.meshgrid(lon, lat)
    mask = globe.is_land(lat2, lon2).astype(float)
    if not land:
        mask = 1.0 - mask
    # pad with ocean so every coastline closes inside the domain
    lat_p = np.concatenate([[-90.0], lat, [90.0]])
    lon_p = np.concatenate([[-180.0], lon, [180.0]])
    padded = np.zeros((lat_p.size, lon_p.size))
    padded[1:-1, 1:-1] = mask
    gen = contourpy.contour_generator(lon_p, lat_p, padded,
                                      fill_type=contourpy.FillType.OuterOffset)
    points, offsets = gen.filled(0.5, 2.0)
    out = []
    for pts, offs in zip(points, offsets, strict=True):
        rings = [pts[offs[i]:offs[i + 1]] for i in range(len(offs) - 1)]
        out.append((rings[0], rings[1:]))
    return out


def write_natural_earth(data_dir: Path, res_deg: float = 0.25) -> Path:
    """Write the land and ocean shapefiles under ``data_dir`` (once); return ``data_dir``."""
    import shapefile

    target = Path(data_dir) / "shapefiles" / "natural_earth" / "physical"
    if all((target / f"ne_110m_{f}.shp").exists() for f in FEATURES):
        return Path(data_dir)
    target.mkdir(parents=True, exist_ok=True)
    for feature in FEATURES:
        with shapefile.Writer(str(target / f"ne_110m_{feature}"),
                              shapeType=shapefile.POLYGON) as w:
            w.field("featurecla", "C", 20)
            for exterior, holes in mask_polygons(feature == "land", res_deg):
                w.poly([_oriented(exterior, True), *(_oriented(h, False) for h in holes)])
                w.record(feature.capitalize())
    return Path(data_dir)
