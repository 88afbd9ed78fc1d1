"""Build the serial ``cable`` program from a CABLE source tree, cached by the source's hash.

CABLE is an external dependency: the source directory (the branch snapshot in
``../shared/models/cable-pop-trendy``, or a group's own checkout named by ``CABLE_SRC`` or the
campaign's ``source_dir``) is only read. CMake configures and builds out of tree in a temporary
directory inside the cache and the finished program is moved into place atomically:

    <cache>/<key>/bin/cable     the program
    <cache>/<key>/build.json    source dir, source hash, compiler, flags, build seconds

``<cache>`` is ``$CALLMIP_CABLE_CACHE``, else ``$CALLMIP_CACHE_DIR/cable``, else
``~/.cache/callmip-global/cable``. ``<key>`` hashes every Fortran source, header and CMake file
(path and content), the compiler's version line and the flags, so an edited checkout or another
compiler gets its own build and an unchanged one is never rebuilt. Concurrent builders of the
same key (two test sessions, two campaigns) wait on a lock file and then reuse the result.

Before anything runs, the tools are checked and a missing one is named with the Debian package
that provides it (``scripts/apt-packages.txt`` lists them; ``scripts/setup-system.sh`` installs
them). Command line: ``python -m callmip.drivers.cable_pop.build [--source DIR]``, which
``scripts/build-cable.sh`` wraps.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from callmip.drivers.render import RenderError

REPO_ROOT = Path(__file__).resolve().parents[3]
#: the CABLE-POP TRENDY branch snapshot shipped next to the repository
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "models" / "cable-pop-trendy"
#: files whose content decides the program (anything else in the tree does not)
SOURCE_SUFFIXES = (".F90", ".f90", ".F", ".f", ".h", ".inc", ".cmake")
BUILD_TYPE = "Release"
#: tool -> (Debian package, what it is for)
TOOLS = {
    "gfortran": ("gfortran", "the Fortran compiler"),
    "cmake": ("cmake", "CABLE's build system"),
    "make": ("make", "the build tool CMake drives"),
    "pkg-config": ("pkg-config", "how CMake finds netcdf-fortran"),
    "nf-config": ("libnetcdff-dev", "netcdf-fortran (the library and netcdf.mod)"),
}


class CableBuildError(RenderError):
    """CABLE cannot be built here; the message says what is missing and how to get it."""


@dataclass(frozen=True)
class CableBuild:
    """A built ``cable`` program and where it came from."""

    executable: Path
    source: Path
    key: str
    seconds: float  # build time (0 when taken from the cache)
    cached: bool


def default_source() -> Path:
    """``$CABLE_SRC`` if set, else the shared CABLE-POP TRENDY snapshot."""
    env = os.environ.get("CABLE_SRC")
    return Path(env).expanduser().resolve() if env else DEFAULT_SOURCE.resolve()


def cache_root() -> Path:
    """Where builds are kept (see module docstring)."""
    if env := os.environ.get("CALLMIP_CABLE_CACHE"):
        return Path(env).expanduser()
    if env := os.environ.get("CALLMIP_CACHE_DIR"):
        return Path(env).expanduser() / "cable"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "callmip-global" / "cable"


def check_source(source: Path) -> Path:
    """The source directory, or a clear error when it is not a CABLE tree."""
    source = Path(source).expanduser().resolve()
    if not source.is_dir():
        raise CableBuildError(f"CABLE source directory {source} does not exist (set CABLE_SRC or "
                              "the model's source_dir to your CABLE checkout)")
    missing = [p for p in ("CMakeLists.txt", "offline/cable_driver.F90")
               if not (source / p).is_file()]
    if missing:
        raise CableBuildError(f"{source} is not a CABLE source tree: {', '.join(missing)} missing")
    return source


def missing_tools() -> list[str]:
    """One line per tool the build needs and this machine lacks."""
    out = [f"{tool} ({what}): install the Debian package '{pkg}'"
           for tool, (pkg, what) in TOOLS.items() if shutil.which(tool) is None]
    if shutil.which("pkg-config") and subprocess.run(
            ["pkg-config", "--exists", "netcdf-fortran"], check=False).returncode != 0:
        out.append("pkg-config cannot find netcdf-fortran: install the Debian package "
                   "'libnetcdff-dev' (and 'libnetcdf-dev')")
    return out


def fortran_module_dir() -> str:
    """Directory holding ``netcdf.mod`` (Debian's pkg-config file names only the HDF5 dir)."""
    try:
        out = subprocess.run(["nf-config", "--includedir"], capture_output=True, text=True,
                             check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return out or "/usr/include"


def compiler_version() -> str:
    out = subprocess.run(["gfortran", "--version"], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    return out.splitlines()[0].strip()


def source_hash(source: Path) -> str:
    """SHA-256 over the relative path and content of every file that decides the program."""
    digest = hashlib.sha256()
    files = sorted(p for p in source.rglob("*")
                   if p.is_file() and ".git" not in p.parts
                   and (p.suffix in SOURCE_SUFFIXES or p.name == "CMakeLists.txt"))
    for p in files:
        digest.update(str(p.relative_to(source)).encode() + b"\0")
        digest.update(p.read_bytes() + b"\0")
    return digest.hexdigest()


def cmake_flags(module_dir: str) -> list[str]:
    return [f"-DCMAKE_BUILD_TYPE={BUILD_TYPE}", "-DCABLE_MPI=OFF", "-DCABLE_LIBRARY=OFF",
            f"-DCMAKE_Fortran_FLAGS=-I{module_dir}"]


def build_key(source: Path) -> tuple[str, dict]:
    """The cache key and the facts it was made from."""
    module_dir = fortran_module_dir()
    facts = {"source_sha256": source_hash(source), "compiler": compiler_version(),
             "cmake_flags": cmake_flags(module_dir)}
    key = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]
    return key, facts


def _run(cmd: list[str], log: Path, cwd: Path) -> None:
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-25:])
        raise CableBuildError(f"building CABLE failed ({cmd[0]} exit {proc.returncode}); the "
                              f"last lines of {log}:\n{tail}")


def build_cable(source: Path | None = None, jobs: int = 2, cache: Path | None = None,
                log=print) -> CableBuild:
    """The ``cable`` program of ``source``: from the cache, or built now (see module doc)."""
    source = check_source(source or default_source())
    problems = missing_tools()
    if problems:
        raise CableBuildError("cannot build CABLE, missing on this machine:\n  - "
                              + "\n  - ".join(problems)
                              + "\n(the packages are in scripts/apt-packages.txt; run "
                                "scripts/setup-system.sh as root)")
    key, facts = build_key(source)
    root = (cache or cache_root()).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    final = root / key
    exe = final / "bin" / "cable"
    if exe.is_file():
        return CableBuild(exe, source, key, 0.0, True)
    with (root / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same key
        if exe.is_file():
            return CableBuild(exe, source, key, 0.0, True)
        log(f"building CABLE from {source} (key {key}); about 2 minutes on 2 cores")
        t0 = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=root))
        try:
            build_log = work / "build.log"
            _run(["cmake", "-S", str(source), "-B", str(work / "build"), *facts["cmake_flags"]],
                 build_log, work)
            _run(["cmake", "--build", str(work / "build"), f"-j{max(1, int(jobs))}"],
                 build_log, work)
            built = work / "build" / "cable"
            if not built.is_file():
                raise CableBuildError(f"the build finished but {built} is missing; see "
                                      f"{build_log}")
            stage = work / "install"
            (stage / "bin").mkdir(parents=True)
            shutil.copy2(built, stage / "bin" / "cable")
            shutil.copy2(build_log, stage / "build.log")
            seconds = time.monotonic() - t0
            (stage / "build.json").write_text(json.dumps(
                {**facts, "source": str(source), "key": key, "seconds": round(seconds, 1),
                 "built_at": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=1) + "\n")
            os.replace(stage, final)  # atomic: a reader sees no build or a whole one
        finally:
            shutil.rmtree(work, ignore_errors=True)
    log(f"built {exe} in {seconds:.0f} s")
    return CableBuild(exe, source, key, seconds, False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="build-cable", description="Build CABLE's serial program (cached by source hash).")
    parser.add_argument("--source", type=Path, default=None,
                        help="CABLE source directory (default: $CABLE_SRC or "
                             f"{DEFAULT_SOURCE})")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    try:
        build = build_cable(args.source, args.jobs)
    except CableBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    state = "cached" if build.cached else f"built in {build.seconds:.0f} s"
    print(f"{build.executable} ({state}; source {build.source}; key {build.key})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
