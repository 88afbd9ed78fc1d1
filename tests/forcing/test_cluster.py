"""Dask fan-out: cluster profiles, the SLURM job script, and prepare_years on a LocalCluster."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from forcing.cluster import ClusterSpec, dask_client, make_slurm_cluster
from forcing.crujra import CrujraReader, crujra_path
from forcing.errors import ForcingError
from forcing.modelready import check_model_ready
from forcing.prepare import prepare_year, prepare_years
from forcing.scenario import prepare_isimip_year, prepare_isimip_years

TARGET = 20.0


def test_profiles() -> None:
    assert ClusterSpec.from_profile(None).kind == "local"
    assert ClusterSpec.from_profile({}).workers() >= 1
    spec = ClusterSpec.from_profile(
        {
            "cluster": "slurm",
            "n_workers": 4,
            "slurm": {"queue": "q", "job_extra_directives": ["--x"]},
        }
    )
    assert (
        spec.kind == "slurm" and spec.workers() == 4 and spec.slurm.job_extra_directives == ("--x",)
    )
    with pytest.raises(ValueError, match="unknown cluster profile keys"):
        ClusterSpec.from_profile({"nworkers": 2})
    with pytest.raises(ValueError, match="unknown slurm profile keys"):
        ClusterSpec.from_profile({"cluster": "slurm", "slurm": {"partition": "x"}})
    with pytest.raises(ValueError, match="must be 'local' or 'slurm'"):
        ClusterSpec.from_profile({"cluster": "pbs"})


def test_slurm_job_script() -> None:
    pytest.importorskip("dask_jobqueue")
    spec = ClusterSpec.from_profile(
        {
            "cluster": "slurm",
            "slurm": {
                "queue": "compute",
                "account": "callmip",
                "walltime": "02:30:00",
                "cores": 2,
                "memory": "8GB",
                "job_extra_directives": ["--qos=short"],
                "job_script_prologue": ["module load netcdf"],
                "python": "/opt/venv/bin/python",
            },
        }
    )
    cluster = make_slurm_cluster(spec)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in (
        "#SBATCH -p compute",
        "#SBATCH -A callmip",
        "#SBATCH -t 02:30:00",
        "#SBATCH --qos=short",
        "#SBATCH --cpus-per-task=2",
        "module load netcdf",
        "/opt/venv/bin/python -m distributed.cli.dask_worker",
    ):
        assert line in script, line
    assert "--nthreads 1" in script and "#SBATCH --mem=" in script


@pytest.fixture(scope="module")
def client():
    with dask_client(ClusterSpec(kind="local", n_workers=2, memory_per_worker="1.5GiB")) as c:
        yield c


@pytest.mark.slow  # starts a 2-worker LocalCluster (worker imports: ~10 s)
def test_prepare_years_on_local_cluster(crujra_dir: Path, tmp_path: Path, client) -> None:
    (path,) = prepare_years(crujra_dir, [1902], TARGET, tmp_path / "dask", client=client)
    assert path.name == "met_1902.nc"
    check_model_ready(path)
    assert len(client.scheduler_info()["workers"]) == 2
    assert not (tmp_path / "dask" / ".work" / "1902").exists()
    reference = prepare_year(crujra_dir, 1902, TARGET, tmp_path / "serial")
    xr.testing.assert_identical(
        xr.open_dataset(path).drop_attrs(), xr.open_dataset(reference).drop_attrs()
    )
    mtime = path.stat().st_mtime_ns
    prepare_years(crujra_dir, [1902], TARGET, tmp_path / "dask", cluster={"n_workers": 1})
    assert path.stat().st_mtime_ns == mtime  # complete: no cluster started, no work


@pytest.mark.slow  # starts a 2-worker LocalCluster (worker imports: ~10 s)
def test_prepare_years_fails_fast_with_the_error(crujra_copy: Path, tmp_path: Path, client) -> None:
    path = crujra_path(crujra_copy, "tmax", 1902)
    with CrujraReader(path, "tmax") as r:
        i, j = divmod(int(r.land_index[0]), r.lon.size)
    with netCDF4.Dataset(path, "a") as ds:
        ds["tmax"][900, i, j] = 500.0
    with pytest.raises(ForcingError) as err:
        prepare_years(crujra_copy, [1902], TARGET, tmp_path, client=client)
    msg = str(err.value)
    assert path.name in msg and "'tmax'" in msg and "above the physical maximum 340 K" in msg
    assert "value 500.0" in msg and "(step 900)" in msg
    assert not (tmp_path / "met_1902.nc").exists()
    assert np.all([not p.name.endswith(".tmp") for p in tmp_path.iterdir()])


@pytest.mark.slow  # starts a 2-worker LocalCluster (worker imports: ~10 s)
def test_scenario_years_on_local_cluster(isimip_dir: Path, tmp_path: Path, client) -> None:
    (path,) = prepare_isimip_years(
        isimip_dir, "gfdl-esm4", "ssp126", [2016], TARGET, tmp_path / "dask", client=client
    )
    check_model_ready(path)
    serial = prepare_isimip_year(isimip_dir, "gfdl-esm4", "ssp126", 2016, TARGET, tmp_path / "s")
    xr.testing.assert_identical(
        xr.open_dataset(path).drop_attrs(), xr.open_dataset(serial).drop_attrs()
    )


@pytest.mark.slow  # starts a 2-worker LocalCluster (worker imports: ~10 s)
def test_a_plan_is_preflighted_once(crujra_copy: Path, tmp_path: Path, client,
                                    monkeypatch) -> None:
    """plan_years checks the inputs of the years to write; prepare_planned carries the plan
    out without checking them again; prepare_years of years already complete checks none."""
    import forcing.prepare as prepare

    calls: list[int] = []
    real = prepare.check_year_headers
    monkeypatch.setattr(prepare, "check_year_headers",
                        lambda files, year: (calls.append(year), real(files, year))[1])
    plan = prepare.plan_years(crujra_copy, [1902], TARGET, tmp_path / "out")
    assert plan.todo == (1902,) and calls == [1902]
    (path,) = prepare.prepare_planned(plan, client=client)
    check_model_ready(path)
    assert calls == [1902]
    assert prepare.prepare_years(crujra_copy, [1902], TARGET, tmp_path / "out") == [path]
    assert calls == [1902]  # complete: nothing to check
    # a bad input fails at the plan, before anything is written
    with netCDF4.Dataset(crujra_path(crujra_copy, "tmax", 1901), "a") as ds:
        ds.renameVariable("tmax", "tmax_renamed")
    with pytest.raises(ForcingError, match="tmax"):
        prepare.plan_years(crujra_copy, [1901], TARGET, tmp_path / "bad")
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())
