"""ESMValTool (ESMValCore 2.13, peer) against our ILAMB-style benchmark on the same run directory.

Both compute the bias and RMSE of 2 models x 2 calibration stages against FLUXCOM hfls/hfss
and GLEAM evaporation (2 degrees, 2004-2005, global): ours with ``benchmarks.confront`` in
this process, the peer by running the recipe ``esmvaltool_bridge`` writes (layout + recipe
writing is timed separately as ``prepare_s``). The two bias tables must agree to 1e-6.

    uv run python tests/performance/esmvaltool_bench.py
"""

from __future__ import annotations

import csv
import resource
import sys
import tempfile
import time
from pathlib import Path

import psutil

from benchmarks.catalog import load_catalog
from benchmarks.confront import confront
from esmvaltool_bridge.layout import find_model_outputs
from esmvaltool_bridge.runner import prepare, run_recipe
from esmvaltool_bridge.testing import REPO, make_run_dir

PRODUCTS = ("hfls/FLUXCOM", "hfss/FLUXCOM", "evspsbl/GLEAM4.2a")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="esmvaltool_bench_") as tmp:
        run_dir = make_run_dir(Path(tmp))
        proc = psutil.Process()
        rss0 = proc.memory_info().rss
        t0 = time.perf_counter()
        catalog = [p for p in load_catalog(REPO / "configs/references.yaml",
                                           REPO / "data/ILAMB_ROOT") if p.key in PRODUCTS]
        scores = confront(find_model_outputs(run_dir), catalog, Path(tmp) / "bench",
                          mode="ilamb27", regions=("global",))
        ours_s = time.perf_counter() - t0
        ours_mb = (proc.memory_info().rss - rss0) / 1e6 + rss0 / 1e6

        t0 = time.perf_counter()
        prepared = prepare(run_dir)
        prepare_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = run_recipe(prepared)
        peer_s = time.perf_counter() - t0
        peer_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        with open(result.table) as fh:
            rows = list(csv.DictReader(fh))
        glob = scores[(scores["region"] == "global") & (scores["name"] == "Bias")]
        worst = 0.0
        for row in rows:
            ours = glob[(glob["source"] == row["model"]) & (glob["stage"] == row["stage"])
                        & (glob["variable"] == row["variable"])]["value"].iloc[0]
            worst = max(worst, abs(float(row["bias"]) - float(ours)))
        print(f"{len(rows)} bias rows; max |ESMValTool - ours| = {worst:.2e}; "
              f"ESMValTool output {result.output_dir}")
        ok = worst <= 1e-6
        print(
            f"RESULT name=esmvaltool ours_s={ours_s:.2f} peer=esmvaltool peer_s={peer_s:.2f} "
            f"ratio={peer_s / ours_s:.1f} peak_mb={ours_mb:.0f} peer_peak_mb={peer_mb:.0f} "
            f"prepare_s={prepare_s:.2f} rows={len(rows)} max_bias_diff={worst:.2e} agree={ok} "
            f"load1={psutil.getloadavg()[0]:.1f}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
