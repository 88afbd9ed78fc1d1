"""Reference catalog: resolution under ILAMB_ROOT, obs4MIPs discovery and skip reasons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from benchmarks.catalog import load_catalog
from benchmarks.errors import CatalogError
from benchmarks.testing import regular_grid, write_reference

REPO = Path(__file__).resolve().parents[2]


def _write_catalog(path: Path, products: list[dict], defaults: dict | None = None) -> Path:
    path.write_text(yaml.safe_dump({"defaults": defaults or {}, "products": products}))
    return path


def _entry(**over) -> dict:
    entry = {
        "variable": "hfls",
        "product": "P",
        "layout": "ilamb",
        "source": "DATA/hfls/P/hfls.nc",
        "file_variable": "hfls",
        "period": [2001, 2002],
        "citation": "someone (2020)",
    }
    entry.update(over)
    return entry


@pytest.fixture
def root(tmp_path: Path) -> Path:
    lat, lon = regular_grid(10.0)
    values = np.ones((24, lat.size, lon.size))
    write_reference(
        tmp_path / "root/DATA/hfls/P/hfls.nc",
        name="hfls",
        values=values,
        lat=lat,
        lon=lon,
        years=(2001, 2002),
        units="W/m2",
    )
    write_reference(
        tmp_path / "root/obs/hfls_mon_GLEAM_gn_200101-200212.nc",
        name="hfls",
        values=values,
        lat=lat,
        lon=lon,
        years=(2001, 2002),
        units="MJ m-2 d-1",
    )
    return tmp_path / "root"


def test_shipped_catalog_resolves_the_shipped_products() -> None:
    products = load_catalog(REPO / "configs/references.yaml", REPO / "data/ILAMB_ROOT")
    status = {p.key: p.status for p in products}
    assert status["hfls/FLUXCOM"] == "available"
    assert status["hfss/FLUXCOM"] == "available"
    assert status["evspsbl/GLEAM4.2a"] == "available"
    gleam = next(p for p in products if p.key == "evspsbl/GLEAM4.2a")
    assert len(gleam.paths) == 2 and gleam.units == "mm month-1"
    missing = [p for p in products if p.status == "missing"]
    assert missing, "the catalog also declares products that are not shipped"
    for p in missing:
        assert "no file matches" in p.skip_reason and "ILAMB_ROOT" in p.skip_reason
        assert p.citation


def test_ilamb_and_obs4mips_layouts(tmp_path: Path, root: Path) -> None:
    cfg = _write_catalog(
        tmp_path / "c.yaml",
        [
            _entry(),
            _entry(product="G", layout="obs4mips", source=None, source_id="GLEAM"),
        ],
    )
    a, b = load_catalog(cfg, root)
    assert a.available and a.units == "W m-2" and a.mass_weighting
    assert b.available and b.paths[0].name.startswith("hfls_mon_GLEAM_")
    assert b.units == "MJ m-2 d-1"


@pytest.mark.parametrize(
    ("over", "status", "reason"),
    [
        ({"source": "DATA/hfls/NOPE/hfls.nc"}, "missing", "no file matches DATA/hfls/NOPE"),
        ({"file_variable": "le"}, "invalid", "variable 'le' not found"),
        ({"units": "kg m-2 s-1"}, "invalid", "cannot be converted to 'W m-2'"),
        ({"units": "furlongs"}, "invalid", "unknown unit 'furlongs'"),
        ({"period": [1990, 1995]}, "invalid", "outside the declared period 1990-1995"),
    ],
)
def test_unusable_products_get_a_skip_reason(tmp_path, root, over, status, reason) -> None:
    cfg = _write_catalog(tmp_path / "c.yaml", [_entry(**over)])
    (product,) = load_catalog(cfg, root)
    assert product.status == status
    assert reason in product.skip_reason


def test_missing_root_is_a_skip_not_a_crash(tmp_path: Path) -> None:
    cfg = _write_catalog(tmp_path / "c.yaml", [_entry()])
    (product,) = load_catalog(cfg, tmp_path / "does-not-exist")
    assert product.status == "missing" and "does not exist" in product.skip_reason


@pytest.mark.parametrize(
    ("products", "message"),
    [
        ([_entry(varaible="hfls")], "varaible"),
        ([_entry(variable="nbp")], "neither a CalLMIP variable"),
        ([_entry(period=[2005, 2001])], "ends before it starts"),
        ([_entry(), _entry()], "listed twice"),
        ([_entry(display_units="kg m-2")], "cannot express"),
    ],
)
def test_malformed_config_raises(tmp_path, root, products, message) -> None:
    cfg = _write_catalog(tmp_path / "c.yaml", products)
    with pytest.raises(CatalogError, match=message):
        load_catalog(cfg, root)
