"""Run the real ILAMB 2.7 on the same inputs, as the peer for parity tests and benchmarks.

Contract: :func:`run_ilamb27` writes a JSON job description, runs this module as a script in a
separate Python process (``python -m benchmarks.peer_ilamb27 job.json``) and returns ILAMB's
scalars as rows of our long table (``mode='ilamb27-peer'``). The subprocess isolates ILAMB's
import-time side effects (MPI initialisation, matplotlib/cartopy set-up, class-level region
registry) from the caller. Only the analysis path is run - ``Confrontation.confront`` and
``computeOverallScore`` - never plotting, so cartopy never tries to download Natural Earth.
ILAMB 2.7.3 is installed with the optional ``parity`` extra (``uv sync --extra parity``),
which also brings an MPI library (the ``mpich`` wheel) that mpi4py needs to initialise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from benchmarks.errors import BenchmarkError

SCORE_NAMES = (
    "Bias Score",
    "RMSE Score",
    "Seasonal Cycle Score",
    "Interannual Variability Score",
    "Spatial Distribution Score",
    "Overall Score",
)
SCALAR_NAMES = ("Bias", "RMSE", "Phase Shift")
#: ILAMB's names of the period means over the compared cells -> ours
PERIOD_MEANS = {
    "Model Period Mean (intersection)": "Period Mean",
    "Benchmark Period Mean (intersection)": "Reference Period Mean",
}


class PeerResult(NamedTuple):
    """ILAMB's scores as rows of our long table, its wall time and its peak memory."""

    scores: pd.DataFrame
    seconds: float
    peak_mb: float


class PeerUnavailableError(BenchmarkError):
    """ILAMB 2.7 cannot be imported by the given interpreter."""


def ilamb27_available(python: str = sys.executable) -> str | None:
    """ILAMB's version if ``python`` can import it (with a working MPI), else None."""
    try:
        proc = subprocess.run(
            [python, "-c", "import ILAMB, ILAMB.Confrontation; print(ILAMB.__version__)"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=_peer_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _peer_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("OMPI_MCA_plm", "isolated")
    return env


def run_ilamb27(
    confrontations: Sequence[Mapping],
    models: Mapping[str, Path],
    work_dir: Path,
    *,
    regions: Sequence[str] = ("global",),
    regions_nc: Path | None = None,
    python: str = sys.executable,
    timeout: float = 3600.0,
) -> PeerResult:
    """Run ILAMB 2.7 confrontations; return its scores, wall time and peak memory.

    The wall time covers building ILAMB's ModelResult and Confrontation objects, confronting
    and computing the overall scores (reading all files), not the Python/ILAMB import.

    ``confrontations``: dicts with ``name``, ``source`` (reference file), ``variable`` (model
    variable name), ``alternate_vars``, ``mass_weighting``, ``skip_iav``. ``models``: label ->
    directory holding that model's NetCDF files (ILAMB's ModelResult layout).
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    job = {
        "confrontations": [dict(c) for c in confrontations],
        "models": {k: str(v) for k, v in models.items()},
        "regions": list(regions),
        "regions_nc": str(regions_nc) if regions_nc else None,
        "output": str(work_dir / "ilamb_out"),
    }
    return run_peer_job("benchmarks.peer_ilamb27", job, work_dir, "ILAMB 2.7", python, timeout)


def run_peer_job(
    module: str, job: Mapping, work_dir: Path, label: str, python: str, timeout: float
) -> PeerResult:
    """Write ``job`` as JSON, run ``python -m module job.json`` and read its result file.

    The peer writes ``<job stem>_result.json`` next to the job (rows, seconds, peak_mb); a
    failed run raises :class:`PeerUnavailableError` with the tail of its stderr.
    """
    stem = module.rsplit("_", 1)[-1]
    job_path = Path(work_dir) / f"{stem}_job.json"
    job_path.write_text(json.dumps(dict(job), indent=2))
    start = time.perf_counter()
    proc = subprocess.run(
        [python, "-m", module, str(job_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=_peer_env(),
        cwd=Path(__file__).resolve().parents[1],
    )
    if proc.returncode != 0:
        raise PeerUnavailableError(
            f"{label} run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    result = json.loads(job_path.with_name(f"{stem}_result.json").read_text())
    return PeerResult(
        scores=pd.DataFrame(result["rows"]),
        seconds=float(result.get("seconds", time.perf_counter() - start)),
        peak_mb=float(result.get("peak_mb", float("nan"))),
    )


# --------------------------------------------------------------------------- subprocess side
def _main(job_path: str) -> int:  # pragma: no cover - runs in the peer interpreter
    import numpy as np
    from ILAMB.Confrontation import Confrontation
    from ILAMB.ModelResult import ModelResult
    from ILAMB.Regions import Regions
    from netCDF4 import Dataset

    job = json.loads(Path(job_path).read_text())
    start = time.perf_counter()
    regions = list(job["regions"])
    if job.get("regions_nc"):
        Regions().addRegionNetCDF4(job["regions_nc"])
    models = [ModelResult(path, modelname=name) for name, path in job["models"].items()]
    rows = []
    for spec in job["confrontations"]:
        out = Path(job["output"]) / spec["name"]
        out.mkdir(parents=True, exist_ok=True)
        conf = Confrontation(
            name=spec["name"],
            source=spec["source"],
            variable=spec["variable"],
            alternate_vars=spec.get("alternate_vars", []),
            output_path=str(out) + "/",
            regions=regions,
            mass_weighting=spec.get("mass_weighting", False),
            skip_iav=spec.get("skip_iav", True),
        )
        for m in models:
            conf.confront(m)
            conf.computeOverallScore(m)
            with Dataset(out / f"{spec['name']}_{m.name}.nc") as ds:
                scalars = ds.groups["MeanState"].groups["scalars"]
                for key, var in scalars.variables.items():
                    for region in conf.regions:
                        if not key.endswith(" " + region):
                            continue
                        name = key[: -len(region) - 1]
                        name = PERIOD_MEANS.get(name, name)
                        if name not in SCORE_NAMES and name not in (*SCALAR_NAMES,
                                                                     *PERIOD_MEANS.values()):
                            continue
                        rows.append(
                            {
                                "source": m.name,
                                "product": spec["name"],
                                "variable": spec["variable"],
                                "region": region,
                                "name": name,
                                "type": "score" if name in SCORE_NAMES else "scalar",
                                "units": getattr(var, "units", ""),
                                "value": float(np.ma.filled(var[...], np.nan)),
                                "mode": "ilamb27-peer",
                            }
                        )
    write_peer_result(job_path, rows, time.perf_counter() - start)
    return 0


def write_peer_result(job_path: str, rows: list[dict], seconds: float) -> None:
    """The peer side of :func:`run_peer_job`: rows, seconds and this process's peak memory."""
    import resource

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    path = Path(job_path)
    path.with_name(path.name.replace("_job.json", "_result.json")).write_text(
        json.dumps({"rows": rows, "seconds": seconds, "peak_mb": peak_mb})
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main(sys.argv[1]))
