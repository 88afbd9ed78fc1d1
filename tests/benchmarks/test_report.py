"""The static HTML report: self-contained, complete, and clean in headless Chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.catalog import ReferenceProduct
from benchmarks.confront import ModelOutput, confront
from benchmarks.report import load_scores, write_report
from benchmarks.testing import seasonal_field, write_callmip_monthly, write_reference

REPO = Path(__file__).resolve().parents[2]
YEARS = (2003, 2005)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _campaign(tmp: Path, grid4, *, full: bool) -> Path:
    """A prior/posterior campaign rendered to a report.

    ``full``: two models, a Giorgi region, flux sites, spin-up and jobs (the slow tier);
    otherwise one model on the global domain only (the fast tier).
    """
    lat, lon, mask = grid4
    ref = seasonal_field(lat, lon, YEARS, mean=50, amplitude=30, seed=1, mask=mask)
    missing = ReferenceProduct(
        variable="gpp",
        product="FLUXCOM",
        paths=(),
        file_variable="gpp",
        units=None,
        display_units="gC m-2 d-1",
        period=(1980, 2013),
        weight=1,
        citation="Jung et al. (2017)",
        status="missing",
        skip_reason="no file matches DATA/gpp/FLUXCOM/gpp.nc",
    )
    path = write_reference(
        tmp / "root/DATA/hfls/TEST/hfls.nc",
        name="hfls",
        values=ref,
        lat=lat,
        lon=lon,
        years=YEARS,
        units="W m-2",
    )
    product = ReferenceProduct(
        variable="hfls",
        product="TEST",
        paths=(path,),
        file_variable="hfls",
        units="W m-2",
        display_units="W m-2",
        period=YEARS,
        weight=1.0,
        citation="synthetic <b>not bold</b>",
    )
    outputs = []
    models = (("A", 9.0, 2.0), ("B", -7.0, -1.0)) if full else (("A", 9.0, 2.0),)
    for k, (model, prior_bias, post_bias) in enumerate(models):
        for stage, bias in (("Prior", prior_bias), ("Posterior", post_bias)):
            hfls = np.roll(ref, 1 if stage == "Prior" else 0, axis=0) + bias
            nep = np.where(np.isfinite(hfls), (hfls - 45.0) * 2e-10 * (k + 1), np.nan)
            p = write_callmip_monthly(
                tmp / f"{model}.v1_global_4deg_monthly_2003-2005_{stage}.nc",
                model=model,
                stage=stage,
                lat=lat,
                lon=lon,
                years=YEARS,
                variables={"hfls": hfls, "hfss": 0.6 * hfls, "nep": nep},
            )
            outputs.append(ModelOutput(model, stage, p))
    out = tmp / "bench"
    scores = confront(
        outputs,
        [product, missing],
        out,
        regions=("global", "AMZ") if full else ("global",),
        sites_dir=REPO / "data/flux-sites" if full else None,
    )
    spin = pd.DataFrame(
        [
            {
                "model": m,
                "stage": s,
                "cycle": c,
                "variable": v,
                "global_total": 100 * (1 - 0.5**c),
                "units": "PgC",
                "drift_per_year": 0.5**c,
                "criterion": "CTSM",
                "threshold": 0.02,
                "passed": 0.5**c < 0.02,
            }
            for m in "AB"
            for s in ("Prior", "Posterior")
            for v in ("cTotal", "cSoil")
            for c in range(1, 8)
        ]
    )
    jobs = pd.DataFrame(
        [
            {
                "run_id": "r1",
                "model": "A",
                "stage": "Prior",
                "experiment": "S3",
                "job_id": 17,
                "state": "COMPLETED",
                "wall_s": 12.5,
                "log_tail": "<script>alert(1)</script> done",
            }
        ]
    )
    return write_report(
        out,
        scores,
        campaign={"name": "demo <campaign>", "models": ["A", "B"]},
        spinup=spin if full else None,
        jobs=jobs,
        catalog=[product, missing],
    )


@pytest.fixture(scope="module")
def small_report(tmp_path_factory, grid4) -> Path:
    return _campaign(tmp_path_factory.mktemp("small"), grid4, full=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory, grid4) -> Path:
    return _campaign(tmp_path_factory.mktemp("full"), grid4, full=True)


def test_report_files_and_content(small_report: Path) -> None:
    report = small_report
    out = report.parent
    assert report.name == "index.html"
    assert {p.name for p in out.iterdir()} >= {"index.html", "scores.csv", "summary.md"}
    assert not list(out.glob("*.tmp"))
    html = report.read_text()
    for anchor in ("scorecard", "headline", "change", "spread", "c-hfls-TEST", "jobs", "methods"):
        assert f'id="{anchor}"' in html, anchor
    # self-contained: no external asset, no script, images inlined
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "url(http" not in html and "@import" not in html
    assert "<script" not in html  # the job log's '<script>' is escaped, not executed
    assert "&lt;script&gt;" in html and "&lt;b&gt;not bold&lt;/b&gt;" in html
    images = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert len(images) >= 4 and all(src.startswith("data:image/png;base64,") for src in images)
    assert "ilamb27" in html and "no file matches DATA/gpp/FLUXCOM/gpp.nc" in html
    scores = load_scores(out / "scores.csv")
    assert {
        "source",
        "stage",
        "variable",
        "product",
        "region",
        "analysis",
        "name",
        "type",
        "units",
        "value",
        "mode",
        "note",
    } <= set(scores.columns)
    summary = (out / "summary.md").read_text()
    assert "| hfls | TEST | ilamb27 |" in summary and "## Skipped" in summary


@pytest.mark.slow
def test_full_report_has_every_section(report: Path) -> None:
    html = report.read_text()
    for anchor in ("sites", "spinup", "jobs"):
        assert f'id="{anchor}"' in html, anchor
    assert "Site scatter" in html and "Spin-up drift" in html and "Amazon Basin" in html
    assert "<script" not in html


@pytest.mark.slow
def test_report_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    """No failed or external requests, no console errors, every image decodes; screenshot."""
    sync_api = pytest.importorskip("playwright.sync_api")
    requests: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[f for f in CHROMIUM_FLAGS if f != "--headless"],
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri(), wait_until="load")
        widths = page.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
        card = page.locator("#scorecard img").first
        card.scroll_into_view_if_needed()
        assert card.is_visible()
        page.screenshot(path=str(tmp_path / "report_full.png"), full_page=True)
        card.screenshot(path=str(tmp_path / "scorecard.png"))
        browser.close()
    assert failed == []
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert widths and min(widths) > 100
    assert (tmp_path / "scorecard.png").stat().st_size > 5_000
    assert (tmp_path / "report_full.png").stat().st_size > 50_000


@pytest.mark.slow
def test_report_with_chromium_command_line(report: Path, tmp_path: Path) -> None:
    """The plain Debian chromium CLI (what CI has even without playwright): DOM + screenshot."""
    import subprocess

    profile = tmp_path / "profile"
    common = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run(
        [*common, "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert 'id="scorecard"' in dom and "Scorecard" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            *common,
            "--hide-scrollbars",
            "--window-size=1400,1800",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 50_000
