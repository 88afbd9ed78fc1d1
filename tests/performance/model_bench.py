"""Benchmark: CELM land-cell-years per second at 1 degree on one core.

What is timed: one simulated year (365 days, 12 monthly kernel calls, monthly means, roughness
updates) for all land cells of a 1-degree grid, with the year's forcing already in memory as the
run holds it after reading ``met_<YYYY>.nc`` (reading and writing NetCDF are excluded; they are
reported by ``python -m celm run`` per year). peak_mb is the benchmark process's peak RSS: the
model, its numba runtime and one year of 1-degree forcing (the synthetic forcing and land mask -
global_land_mask holds a 1 GB raster - are made in a child process). Ours = the numba kernel (best of 3 after a warm-up
that also loads or compiles it); peer = the plain-numpy reference of the *same* step
(``celm.kernel.run_block_numpy``: every operation over the array of land cells), one year.
Wall time and process CPU time are both reported (the machine is shared; CPU time is less
sensitive to other processes). Target: >= 100,000 land-cell-years per second.

Usage: ``uv run python tests/performance/model_bench.py [--res 1.0]``
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from celm.grid import LandGrid  # noqa: E402
from celm.kernel import run_block, run_block_numpy  # noqa: E402
from celm.params import defaults, kernel_params  # noqa: E402
from celm.simulate import cell_day_length, simulate_year  # noqa: E402
from celm.state import cold_start  # noqa: E402


def _climate():
    spec = importlib.util.spec_from_file_location("climate", ROOT / "tests/celm/climate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _make_forcing(res: float, out: str) -> None:
    """Child process: build the synthetic year (the generator's memory stays out of peak_mb)."""
    climate = _climate()
    g = climate.make_grid(res)
    np.savez(out, met=climate.land_climate(g, 2000), lat=g.lat, lon=g.lon, landfrac=g.landfrac)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--res", type=float, default=1.0)
    args = ap.parse_args()
    res = args.res
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "met.npz")
        child = multiprocessing.get_context("spawn").Process(
            target=_make_forcing, args=(res, path)
        )
        child.start()
        child.join()
        with np.load(path) as data:
            met, lat, lon, landfrac = (data[k] for k in ("met", "lat", "lon", "landfrac"))
    grid = LandGrid(
        lat,
        lon,
        np.stack([lat - res / 2, lat + res / 2], 1),
        np.stack([lon - res / 2, lon + res / 2], 1),
        landfrac,
    )
    p = kernel_params(defaults())
    daylen = cell_day_length(grid)
    state0 = cold_start(grid, p, met[:, 0].mean(axis=0, dtype=np.float64))
    # warm-up: load (or compile) the kernel and spin the vegetation up for a year
    t0 = time.perf_counter()
    simulate_year(p, state0, met, daylen, 380.0)
    print(f"warm-up (kernel load/compile + 1 year): {time.perf_counter() - t0:.1f} s")

    wall, cpu = [], []
    for _ in range(3):
        state = state0.copy()
        w0, c0 = time.perf_counter(), time.process_time()
        simulate_year(p, state, met, daylen, 380.0, block=run_block)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    ours = min(wall)

    state = state0.copy()
    w0 = time.perf_counter()
    simulate_year(p, state, met, daylen, 380.0, block=run_block_numpy)
    peer = time.perf_counter() - w0

    ncell = grid.ncell
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    cys = ncell / ours
    print(f"{ncell} land cells at {res} degree")
    print(f"numba kernel: one year {ours:.3f} s wall (best of 3), {min(cpu):.3f} s CPU")
    print(f"  -> {cys:,.0f} land-cell-years/s wall, {ncell / min(cpu):,.0f} per CPU-second")
    print(f"numpy reference: one year {peer:.3f} s wall")
    print(f"peak memory {peak_mb:.0f} MB")
    print(
        f"RESULT name=model ours_s={ours:.4f} peer=numpy-reference peer_s={peer:.4f} "
        f"ratio={peer / ours:.2f} peak_mb={peak_mb:.0f} cell_years_per_s={cys:.0f} "
        f"cell_years_per_cpu_s={ncell / min(cpu):.0f} ncell={ncell}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
