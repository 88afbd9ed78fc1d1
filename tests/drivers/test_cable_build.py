"""The CABLE build: clear messages for what is missing, and a cache keyed by the source."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from callmip.drivers.cable_pop import build

REPO = Path(__file__).resolve().parents[2]
HAVE_TOOLS = not build.missing_tools()


def _fake_tree(root: Path) -> Path:
    (root / "offline").mkdir(parents=True)
    (root / "CMakeLists.txt").write_text("project(CABLE LANGUAGES Fortran)\n")
    (root / "offline" / "cable_driver.F90").write_text("program cable\nend program\n")
    (root / "params").mkdir()
    (root / "params" / "notes.txt").write_text("parameters do not change the program\n")
    return root


def test_missing_tools_are_named_with_their_debian_package(monkeypatch):
    real = shutil.which
    monkeypatch.setattr(build.shutil, "which",
                        lambda name: None if name in ("gfortran", "nf-config") else real(name))
    problems = build.missing_tools()
    assert any(p.startswith("gfortran (the Fortran compiler): install the Debian package "
                            "'gfortran'") for p in problems)
    assert any("'libnetcdff-dev'" in p for p in problems)
    with pytest.raises(build.CableBuildError, match=r"missing on this machine(.|\n)*gfortran"
                                                    r"(.|\n)*setup-system\.sh"):
        build.build_cable(build.default_source(), cache=Path("/nonexistent"))


def test_a_directory_that_is_not_cable_is_refused(tmp_path):
    with pytest.raises(build.CableBuildError, match="does not exist"):
        build.check_source(tmp_path / "nope")
    with pytest.raises(build.CableBuildError, match="not a CABLE source tree"):
        build.check_source(tmp_path)


@pytest.mark.skipif(not HAVE_TOOLS, reason="gfortran/netcdf-fortran not installed")
def test_the_cache_key_follows_the_sources_not_other_files(tmp_path):
    src = _fake_tree(tmp_path / "src")
    key, facts = build.build_key(src)
    (src / "params" / "notes.txt").write_text("edited\n")
    assert build.build_key(src)[0] == key  # parameter tables do not change the program
    (src / "offline" / "cable_driver.F90").write_text("program cable\n! edited\nend program\n")
    assert build.build_key(src)[0] != key
    assert facts["compiler"].startswith("GNU Fortran")
    assert any(f.startswith("-DCMAKE_Fortran_FLAGS=-I") for f in facts["cmake_flags"])


@pytest.mark.skipif(not HAVE_TOOLS, reason="gfortran/netcdf-fortran not installed")
def test_a_cached_build_is_reused_without_building(tmp_path, monkeypatch):
    src = _fake_tree(tmp_path / "src")
    key, _ = build.build_key(src)
    exe = tmp_path / "cache" / key / "bin" / "cable"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    monkeypatch.setattr(build, "_run", lambda *a: pytest.fail("must not build"))
    got = build.build_cable(src, cache=tmp_path / "cache")
    assert got.cached and got.executable == exe and got.key == key


def test_build_command_line_reports_problems_with_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "callmip.drivers.cable_pop.build",
                           "--source", str(tmp_path)], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 2
    assert "not a CABLE source tree" in proc.stderr
