"""End to end in a real browser: the global-simulation Run form -> run -> automatic benchmark.

Starts the server and worker with ``callmip server up`` (SQLite, loopback), drives the Prefect
UI in headless Debian Chromium with Playwright: fills the Run form, submits, waits for the
simulation and for the benchmark the automation starts - which scores it together with the
other finished run of its collection (a prior run of the same model already in the run root),
so its report compares prior and posterior - and checks the report artifacts and that the
report link opens the report over HTTP. The ``intercomparison`` deployment then benchmarks an
upload placed in the data root. The same form with an invalid model name shows the server's
error and creates no run. A run whose parameters pass the schema but fail flow-start
validation fails with the message and leaves no run directory. Set
``CALLMIP_SAVE_SCREENSHOTS=1`` to refresh docs/screenshots/.
"""

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from callmip_app.server import load_profile
from callmip_app.server.lifecycle import api_request, free_port, release_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    import yaml

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from benchmarks.testing import UploadSpec, shipped_fields, write_upload

    tmp = tmp_path_factory.mktemp("ui")
    data = tmp / "data"
    shutil.copytree(REPO / "configs" / "params", data / "params")
    fields = shipped_fields()
    for stage in ("Prior", "Posterior"):  # an upload for the intercomparison deployment
        write_upload(data / "uploads" / "UP", UploadSpec("UP", stage, 2, offset=0.25,
                                                         phase_months=int(stage == "Prior"),
                                                         noise=0.05), fields, (2004, 2005))
    # a finished prior run of CELM-A in the collection (the run root): the automation's
    # benchmark of the posterior run compares the two
    prior = tmp / "runs" / "sim_CELM-A.v1_prior_S3_2deg"
    write_upload(prior / "callmip" / "S3", UploadSpec("CELM-A", "Prior", 2, scale=1.3,
                                                      noise=0.1), fields, (2004, 2005))
    (prior / "campaign.yaml").write_text("name: sim_CELM-A.v1_prior_S3_2deg\n")
    path = tmp / "server.yaml"
    port = free_port(4300, 4399)  # reserved for this module (released below)
    report_port = free_port(4300, 4399)
    path.write_text(yaml.safe_dump({
        "home": str(tmp / "home"), "port": port, "report_port": report_port,
        "data_root": str(data), "run_root": str(tmp / "runs"), "worker_limit": 2,
        "startup_timeout_s": 300}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    cli = [sys.executable, "-m", "callmip_app.cli", "server"]
    up = subprocess.run([*cli, "up", "--profile", str(path)], env=env, capture_output=True,
                        text=True, timeout=900)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        profile = load_profile(path)
        yield profile
    finally:
        subprocess.run([*cli, "down", "--profile", str(path)], env=env, capture_output=True,
                       timeout=300, check=False)
        release_port(port)
        release_port(report_port)


def deployment(profile, flow, name):
    status, dep = api_request(profile, "GET", f"/deployments/name/{flow}/{name}")
    assert status == 200, dep
    return dep


def flow_runs(profile, deployment_id):
    status, runs = api_request(profile, "POST", "/flow_runs/filter",
                               {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}})
    assert status == 200, runs
    return runs


def wait_run(profile, run_id, timeout=1500):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, run = api_request(profile, "GET", f"/flow_runs/{run_id}")
        if status == 200 and run["state_type"] in TERMINAL:
            return run
        time.sleep(3)
    pytest.fail(f"flow run {run_id} did not finish within {timeout} s")


def field(page, name):
    """The form block of one parameter (label 'name (Optional)')."""
    return page.locator(".schema-form-property:not(.schema-form-property-object)").filter(
        has=page.locator(".schema-form-property__label", has_text=re.compile(rf"^{name} "))
    ).last


def choose(page, name, option):
    field(page, name).locator("button.p-select-button__control").focus()
    page.keyboard.press(" ")
    page.get_by_role("option", name=option, exact=True).click()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def open_form(browser, profile, dep_id):
    page = browser.new_page(viewport={"width": 1400, "height": 1700})
    page.set_default_timeout(60_000)
    page.goto(f"{profile.api_url.removesuffix('/api')}/deployments/deployment/{dep_id}/run",
              wait_until="networkidle")
    page.get_by_text("param_file").first.wait_for()
    return page


def shot(page, tmp_path, name):
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=False)
    if os.environ.get("CALLMIP_SAVE_SCREENSHOTS"):
        dest = REPO / "docs" / "screenshots"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, dest / name)


def test_invalid_form_value_shows_error_and_creates_no_run(ui, browser, tmp_path):
    dep = deployment(ui, "global-simulation", "global-simulation")
    before = len(flow_runs(ui, dep["id"]))
    page = open_form(browser, ui, dep["id"])
    field(page, "model").locator("textarea").fill("CELM-A; rm -rf /")
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("Validation failed for field 'model'", exact=False).first.wait_for()
    assert "/run" in page.url  # still on the form
    page.close()
    time.sleep(2)
    assert len(flow_runs(ui, dep["id"])) == before


def test_flow_start_validation_fails_fast_without_a_run_dir(ui):
    dep = deployment(ui, "global-simulation", "global-simulation")
    runs_before = sorted(ui.run_root.glob("sim_*"))  # the module's prepared prior run
    status, run = api_request(ui, "POST", f"/deployments/{dep['id']}/create_flow_run",
                              {"parameters": {"parameter_set": "posterior",
                                              "param_file": "params/does-not-exist.json"}})
    assert status == 201, run
    run = wait_run(ui, run["id"], timeout=600)
    assert run["state_type"] == "FAILED"
    assert "does not exist" in run["state"]["message"] or "param_file" in str(run["state"])
    assert sorted(ui.run_root.glob("sim_*")) == runs_before  # no run directory was made


def test_form_submit_runs_simulation_then_benchmark_with_report(ui, browser, tmp_path):
    sim = deployment(ui, "global-simulation", "global-simulation")
    bench = deployment(ui, "benchmark-run", "benchmark")
    page = open_form(browser, ui, sim["id"])
    choose(page, "parameter_set", "posterior")
    field(page, "param_file").locator("textarea, input").first.fill(
        "params/CELM-A_posterior.json")
    field(page, "model").locator("textarea").fill("CELM-A")
    shot(page, tmp_path, "01-run-form.png")
    before = {r["id"] for r in flow_runs(ui, sim["id"])}
    page.get_by_role("button", name="Submit").click()
    deadline = time.monotonic() + 120
    while not (new := [r for r in flow_runs(ui, sim["id"]) if r["id"] not in before]):
        if time.monotonic() > deadline:
            page.screenshot(path=str(tmp_path / "after-submit.png"))
            pytest.fail(f"the form created no run; see {tmp_path / 'after-submit.png'}")
        time.sleep(1)
    assert len(new) == 1
    run_id = new[0]["id"]
    page.close()  # no live page polling the server while the simulation runs
    run = wait_run(ui, run_id)
    assert run["state_type"] == "COMPLETED", run["state"]
    assert run["parameters"]["parameter_set"] == "posterior"
    run_dir = ui.run_root / "sim_CELM-A.v1_posterior_S3_2deg"
    assert sorted(p.name for p in (run_dir / "callmip" / "S3").glob("*.nc")) == [
        "CELM-A.v1_global_2deg_annual_2004-2005_Posterior.nc",
        "CELM-A.v1_global_2deg_monthly_2004-2005_Posterior.nc"]
    # per-stage sub-flows are visible for the run
    _, subs = api_request(ui, "POST", "/flow_runs/filter", {
        "flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}})
    _, flows = api_request(ui, "POST", "/flows/filter", {})
    names = {f["id"]: f["name"] for f in flows}
    assert {names[s["flow_id"]] for s in subs} >= {"forcing", "spin-up", "runs", "conform"}
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(f"{ui.api_url.removesuffix('/api')}/runs/flow-run/{run_id}",
              wait_until="networkidle")
    page.get_by_text(run["name"]).first.wait_for()
    page.get_by_text("Completed").first.wait_for()
    page.wait_for_timeout(3000)  # the run graph (sub-flows per stage) is drawn on a canvas
    shot(page, tmp_path, "02-flow-run-graph.png")

    # the automation starts the benchmark deployment on the run directory
    deadline = time.monotonic() + 300
    while not (runs := flow_runs(ui, bench["id"])) and time.monotonic() < deadline:
        time.sleep(3)
    assert len(runs) == 1, "the automation did not start the benchmark"
    assert runs[0]["parameters"] == {"run_dir": "sim_CELM-A.v1_posterior_S3_2deg"}
    brun = wait_run(ui, runs[0]["id"], timeout=900)
    assert brun["state_type"] == "COMPLETED", brun["state"]
    report = run_dir / "benchmark" / "index.html"
    assert report.is_file() and "hfls" in report.read_text()
    _, arts = api_request(ui, "POST", "/artifacts/filter",
                          {"artifacts": {"flow_run_id": {"any_": [brun["id"]]}}})
    keys = {a["key"]: a for a in arts}
    assert {"benchmark-summary", "benchmark-scorecard", "benchmark-report"} <= set(keys)
    assert keys["benchmark-scorecard"]["type"] == "table"
    link = f"{ui.report_url}/sim_CELM-A.v1_posterior_S3_2deg/benchmark/index.html"
    assert link in keys["benchmark-report"]["data"]
    assert "hfls" in keys["benchmark-summary"]["data"]
    # the link opens the report over HTTP; it compares the collection's prior and posterior
    with urllib.request.urlopen(link, timeout=30) as resp:
        html = resp.read().decode()
    assert "CELM-A.v1 Prior" in html and "CELM-A.v1 Posterior" in html
    assert 'id="change-ci"' in html

    # and the UI renders the summary artifact, created by the automation's run
    page.goto(f"{ui.api_url.removesuffix('/api')}/artifacts/artifact/"
              f"{keys['benchmark-summary']['id']}", wait_until="networkidle")
    page.get_by_text("Scoring mode").first.wait_for()
    page.get_by_text("benchmark-after-simulation").first.wait_for()
    shot(page, tmp_path, "03-benchmark-artifacts.png")
    page.close()


def test_intercomparison_deployment_benchmarks_an_upload_in_the_data_root(ui):
    dep = deployment(ui, "intercomparison", "intercomparison")
    status, bad = api_request(ui, "POST", f"/deployments/{dep['id']}/create_flow_run",
                              {"parameters": {"paths": ["../etc"]}})
    assert status in (409, 422), bad  # refused by the server: no run exists
    status, run = api_request(ui, "POST", f"/deployments/{dep['id']}/create_flow_run",
                              {"parameters": {"paths": ["uploads"], "name": "e2e"}})
    assert status == 201, run
    run = wait_run(ui, run["id"], timeout=900)
    assert run["state_type"] == "COMPLETED", run["state"]
    _, arts = api_request(ui, "POST", "/artifacts/filter",
                          {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}})
    keys = {a["key"]: a for a in arts}
    assert {"benchmark-summary", "benchmark-uploads", "benchmark-report"} <= set(keys)
    link = f"{ui.report_url}/intercomparison/e2e/index.html"
    assert link in keys["benchmark-report"]["data"]
    with urllib.request.urlopen(link, timeout=30) as resp:
        html = resp.read().decode()
    assert "UP.v1 Prior" in html and 'id="uploads"' in html
