"""Pay a campaign's one-time costs before it runs: compiled kernels and synthetic inputs.

Contract: :func:`warm_up` compiles (or loads from numba's on-disk caches) the embedded model's
kernel and the regridding kernels the forcing stage uses, and generates the campaign's synthetic
CRU-JRA files into the user cache (:func:`flows.pipeline.crujra_source`); it returns the seconds
each took. Everything it does is idempotent and cached outside the run directory, so a campaign
run afterwards (or any later one) skips it: ``scripts/setup.sh`` runs it for the demo campaign
(``callmip warm-up``), which is why ``callmip demo`` on a fresh machine, after setup, pays
neither the minute of CELM compilation nor the generation of its weather. It also creates and
migrates the Prefect database under ``PREFECT_HOME`` (the caller points it where the campaign's
temporary Prefect server keeps it), which otherwise costs the first run about 5 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from callmip.config import Campaign


def _regrid_kernels() -> None:
    """One tiny variable-year through the forcing stage (5 -> 10 degrees): it compiles and
    caches the same numba kernels (daily reduction, land-only conservative regrid) as a real
    campaign's forcing tasks."""
    from forcing.prepare import prepare_variable_year
    from forcing.synthetic import write_crujra_years

    with tempfile.TemporaryDirectory(prefix="callmip-warm-up-") as tmp:
        src = Path(tmp) / "crujra"
        write_crujra_years(src, [1901], res_deg=5.0, variables=("tmp",), workers=1)
        prepare_variable_year(src, 1901, "tas", 10.0, Path(tmp) / "out")


def _prefect_database() -> None:
    """Create (or migrate) the Prefect database under ``PREFECT_HOME``, through Prefect's CLI."""
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
        check=False, capture_output=True, text=True, env=dict(os.environ), timeout=600,
    )
    if done.returncode != 0 or "upgraded" not in done.stdout:
        raise RuntimeError(f"Prefect database upgrade under {os.environ.get('PREFECT_HOME')} "
                           f"failed (exit {done.returncode}): {done.stderr[-2000:]}")


def warm_up(campaign: Campaign) -> dict[str, float]:
    """Compile the kernels and generate the campaign's synthetic forcing; seconds per step."""
    from celm.kernel import compile_kernel
    from flows.pipeline import crujra_source

    seconds = {"CELM kernel": compile_kernel()}
    t0 = time.perf_counter()
    _regrid_kernels()
    seconds["forcing kernels"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    crujra_source(campaign)
    seconds["synthetic CRU-JRA forcing"] = time.perf_counter() - t0
    if "PREFECT_HOME" in os.environ:
        t0 = time.perf_counter()
        _prefect_database()
        seconds["Prefect database"] = time.perf_counter() - t0
    return seconds
