"""Rendering of each external model's inputs: content, launch command, and refused values."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from callmip.drivers import (
    DRIVERS,
    CablePopDriver,
    ClassicDriver,
    ClmDriver,
    ModelRun,
    OrchideeDriver,
    RenderError,
    YearSpec,
    get_driver,
)
from callmip.drivers.render import fortran, load_params, safe_path

YEARS = tuple(YearSpec(y, 1901 + (y - 2003) % 20, 370.5 + (y - 2003)) for y in (2003, 2004, 2005))


def make_run(tmp_path: Path, params: dict, restart: bool = True, member=None) -> ModelRun:
    forcing = tmp_path / "forcing"
    forcing.mkdir(parents=True, exist_ok=True)
    pfile = tmp_path / "posterior.json"
    pfile.write_text(json.dumps(params))
    restart_in = None
    if restart:
        restart_in = tmp_path / "prev" / "restart"
        restart_in.mkdir(parents=True, exist_ok=True)
    return ModelRun("CABLE.v1_posterior_S3", pfile, forcing, YEARS, tmp_path / "run",
                    restart_in=restart_in, ensemble_member=member)


def test_all_drivers_registered():
    assert {"celm", "cable_pop", "orchidee", "clm", "classic"} <= set(DRIVERS)
    assert get_driver("cable_pop").name == "cable_pop"
    with pytest.raises(ValueError, match="unknown model driver 'jules'"):
        get_driver("jules")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"VCMAX25": "1e-4'; rm -rf / #"}, "must be a list of 13 values"),
        ({"Q10": "2.0\n/\n&evil"}, "must be a number"),
        ({"output%patch": 1.0}, "not a valid identifier"),
        ({"FORCING_FILE": 1.0}, "unknown parameter 'FORCING_FILE'"),
        ({"Q10": float("nan")}, "is not finite"),
        ({"VCMAX25": [1e-5] * 3}, "must be a list of 13 values"),
        ({"Q10": True}, "must be a number"),
        ({"values": {"Q10": 2.0}, "ensemble": {"names": ["Q10"], "members": [["x"]]}},
         "ensemble member 0: parameter 'Q10'='x' must be a number"),
    ],
)
def test_parameter_injection_and_bad_values_are_refused(tmp_path, params, message):
    pfile = tmp_path / "p.json"
    pfile.write_text(json.dumps(params))
    run = make_run(tmp_path, {})
    run = ModelRun(run.run_id, pfile, run.forcing_dir, run.years, run.work_dir, run.restart_in)
    with pytest.raises(RenderError, match=message):
        OrchideeDriver().prepare(run)
    assert not (run.work_dir / "run.def").exists()


def test_template_drivers_render_the_ensemble_members_own_parameters(tmp_path):
    """A posterior ensemble member gets its own values (else every member is the central
    posterior and _post_unc is zero)."""
    doc = {"values": {"Q10": 2.0},
           "ensemble": {"names": ["Q10", "KFACT_ROOT"], "members": [[1.5, 0.9], [2.5, 1.1]]}}
    central = make_run(tmp_path / "c", doc)
    OrchideeDriver().prepare(central)
    assert "Q10 = 2.0" in (central.work_dir / "orchidee.def").read_text()
    for k, (q10, kfact) in enumerate(doc["ensemble"]["members"]):
        run = make_run(tmp_path / f"m{k}", doc, member=k)
        OrchideeDriver().prepare(run)
        text = (run.work_dir / "orchidee.def").read_text()
        assert f"Q10 = {q10}" in text and f"KFACT_ROOT = {kfact}" in text
        assert f"ensemble member {k}" in text
    with pytest.raises(RenderError, match="member 2 requested but the file has 2 members"):
        OrchideeDriver().prepare(make_run(tmp_path / "m2", doc, member=2))
    with pytest.raises(RenderError, match="has no ensemble"):
        OrchideeDriver().prepare(make_run(tmp_path / "flat", {"Q10": 2.0}, member=0))


def test_unsafe_and_escaping_paths_are_refused(tmp_path):
    bad_forcing = tmp_path / "forc'ing; rm"
    bad_forcing.mkdir()
    run = make_run(tmp_path, {})
    run = ModelRun(run.run_id, run.params_file, bad_forcing, run.years, run.work_dir)
    with pytest.raises(RenderError, match="unsafe in a namelist or shell"):
        OrchideeDriver().prepare(run)
    with pytest.raises(RenderError, match="must be inside the run directory"):
        safe_path(tmp_path / "run" / ".." / "elsewhere", "out", inside=tmp_path / "run")
    (tmp_path / "run").mkdir(exist_ok=True)
    (tmp_path / "run" / "link").symlink_to("/etc")
    with pytest.raises(RenderError, match="must be inside the run directory"):
        safe_path(tmp_path / "run" / "link" / "passwd", "out", inside=tmp_path / "run")
    with pytest.raises(RenderError, match="absolute path"):
        safe_path("relative/x.nc", "out")
    with pytest.raises(RenderError, match="executable"):
        OrchideeDriver(executable="orchidee_ol; reboot").launch()


def test_write_prior_round_trips_through_validation(tmp_path):
    for cls in (CablePopDriver, OrchideeDriver, ClassicDriver):
        driver = cls()
        path = driver.write_prior(tmp_path / f"{driver.name}.json")
        assert load_params(path, driver.prior()) == driver.prior()


def test_fortran_values():
    assert fortran(True) == ".true."
    assert fortran([1, 2]) == "1, 2"
    assert fortran(1.5e-05) == "1.5e-05"
    assert fortran("a.nc") == "'a.nc'"


# ------------------------------------------------------------------------------- ORCHIDEE
def test_orchidee_renders_run_def_and_pft_parameters(tmp_path):
    driver = OrchideeDriver(mpi_tasks=32)
    vcmax = [0.0, 55.0, 45.0, 35.0, 40.0, 50.0, 45.0, 35.0, 35.0, 50.0, 50.0, 60.0, 60.0]
    run = make_run(tmp_path, {"VCMAX25": vcmax, "Q10": 2.2})
    assert driver.prepare(run) == ["mpirun", "-np", "32", "orchidee_ol"]
    run_def = (run.work_dir / "run.def").read_text()
    work = str(run.work_dir.resolve())
    assert "INCLUDEDEF = orchidee.def" in run_def
    assert "START_DATE = 2003-01-01 00:00:00" in run_def
    assert "END_DATE = 2005-12-31 23:59:59" in run_def
    assert f"SECHIBA_rest_out = {work}/restart/sechiba_rest.nc" in run_def
    assert f"STOMATE_RESTART_FILEIN = {run.restart_in.resolve()}/stomate_rest.nc" in run_def
    assert f"FORCING_FILE = {run.forcing_dir.resolve()}/forcing_2003-2005.nc" in run_def
    odef = (run.work_dir / "orchidee.def").read_text()
    assert "VCMAX25__01 = 0.0" in odef and "VCMAX25__02 = 55.0" in odef
    assert "VCMAX25__13 = 60.0" in odef and "VCMAX25__14" not in odef
    assert "Q10 = 2.2" in odef and "KFACT_ROOT = 1.0" in odef
    first = make_run(tmp_path / "first", {}, restart=False)
    driver.prepare(first)
    assert "SECHIBA_restart_in = NONE" in (first.work_dir / "run.def").read_text()


# ------------------------------------------------------------------------------- CTSM
def _paramfile(path: Path) -> Path:
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("pft", 4)
        for name in ("slatop", "leafcn"):
            v = nc.createVariable(name, "f8", ("pft",))
            v[:] = np.array([0.01, 0.02, 0.03, 0.04]) * (1 if name == "slatop" else 1000)
        v = nc.createVariable("jmaxb0", "f8", ())
        v.assignValue(0.0311)
        v = nc.createVariable("untouched", "f8", ("pft",))
        v[:] = np.arange(4.0)
    return path


def test_clm_renders_user_nl_paramfile_and_launch_script(tmp_path):
    base = _paramfile(tmp_path / "ctsm51_params.c211112.nc")
    case = tmp_path / "cases" / "I2000Clm50Bgc"
    case.mkdir(parents=True)
    driver = ClmDriver(case_dir=str(case), exeroot=str(tmp_path / "bld"), base_paramfile=str(base),
                       calibrated=("slatop", "leafcn", "jmaxb0"), mpi_tasks=128)
    assert driver.prior() == {"slatop": [0.01, 0.02, 0.03, 0.04],
                              "leafcn": [10.0, 20.0, 30.0, 40.0], "jmaxb0": 0.0311}
    run = make_run(tmp_path, {"slatop": [0.011, 0.022, 0.033, 0.044], "jmaxb0": 0.04})
    argv = driver.prepare(run)
    script = run.work_dir / "launch_ctsm.sh"
    assert argv == ["bash", str(script)]
    text = script.read_text()
    assert f"cd {case}" in text
    assert "STOP_OPTION=nyears,STOP_N=3" in text and "RUN_STARTDATE=2003-01-01" in text
    assert "DATM_YR_START=1901,DATM_YR_END=1903" in text
    assert "DATM_CO2_TSERIES=20tr" in text  # CO2 varies over the segment
    assert f"exec mpirun -np 128 {tmp_path}/bld/cesm.exe" in text
    subprocess.run(["bash", "-n", str(script)], check=True)  # valid shell
    nl = (run.work_dir / "user_nl_clm").read_text()
    assert f"paramfile = '{run.work_dir.resolve()}/clm_params.nc'" in nl
    assert f"finidat = '{run.restart_in.resolve()}'" in nl
    assert "'NEE', 'GPP', 'AR', 'HR'" in nl and "'SOILWATER_10CM'" in nl
    with xr.open_dataset(run.work_dir / "clm_params.nc") as p:
        np.testing.assert_allclose(p.slatop, [0.011, 0.022, 0.033, 0.044])
        np.testing.assert_allclose(p.leafcn, [10, 20, 30, 40])  # prior kept
        assert float(p.jmaxb0) == 0.04
        np.testing.assert_allclose(p.untouched, np.arange(4.0))
    with xr.open_dataset(base) as b:  # the case's own file is never modified
        np.testing.assert_allclose(b.slatop, [0.01, 0.02, 0.03, 0.04])
    assert driver.restart_out(run).name == "I2000Clm50Bgc.clm2.r.2006-01-01-00000.nc"
    assert len(driver.output_files(run, "monthly")) == 36


def test_clm_refuses_unconfigured_case_and_unsafe_case_dir(tmp_path):
    run = make_run(tmp_path, {})
    with pytest.raises(RenderError, match="base_paramfile"):
        ClmDriver().prepare(run)
    base = _paramfile(tmp_path / "p.nc")
    bad = ClmDriver(case_dir="/cases/x$(reboot)", exeroot="/bld", base_paramfile=str(base),
                    calibrated=("slatop",))
    with pytest.raises(RenderError):
        bad.prepare(run)


# ------------------------------------------------------------------------------- CLASSIC
def test_classic_renders_job_options_and_copies_restart(tmp_path):
    driver = ClassicDriver(mpi_tasks=40, domain="-10/40/30/70")
    run = make_run(tmp_path, {"vmax": [5e-05] * 12})
    (run.restart_in / "rs.nc").write_bytes(b"CDF restart bytes")
    run = ModelRun(run.run_id, run.params_file, run.forcing_dir, run.years, run.work_dir,
                   restart_in=run.restart_in / "rs.nc")
    argv = driver.prepare(run)
    assert argv == ["mpirun", "-np", "40", "CLASSIC_parallel", "job_options_file.txt",
                    "-10/40/30/70"]
    job = (run.work_dir / "job_options_file.txt").read_text()
    work = str(run.work_dir.resolve())
    assert "readMetStartYear = 1901" in job and "readMetEndYear = 1903" in job
    assert f"rs_file_to_overwrite = '{work}/rsFile.nc'" in job
    assert f"runparams_file = '{work}/run_parameters.txt'" in job
    assert f"metFileTa = '{run.forcing_dir.resolve()}/tmp.nc'" in job
    assert (run.work_dir / "rsFile.nc").read_bytes() == b"CDF restart bytes"
    params = (run.work_dir / "run_parameters.txt").read_text()
    assert "vmax = " + ", ".join(["5e-05"] * 12) + "," in params
    assert "tanhq10 = 1.44, 0.56, 0.075, 46.0," in params
    with xr.open_dataset(run.work_dir / "co2_annual.nc") as co2:
        np.testing.assert_allclose(co2.mole_fraction_of_carbon_dioxide_in_air, [370.5, 371.5,
                                                                                 372.5])
    with pytest.raises(RenderError, match="domain"):
        ClassicDriver(domain="-180/180/-90/91").prepare(run)


def test_classic_needs_an_init_file_without_restart(tmp_path):
    run = make_run(tmp_path, {}, restart=False)
    with pytest.raises(RenderError, match=r"initfile\.nc does not exist"):
        ClassicDriver().prepare(run)
