"""Run the real ilamb3 on the same inputs, as the peer of the ``ilamb3`` mode's parity test.

Contract: :func:`run_ilamb3` writes a JSON job description, runs this module as a script in a
separate Python process (``python -m benchmarks.peer_ilamb3 job.json``) and returns ilamb3's
scores and scalars as rows of our long table (``mode='ilamb3-peer'``). The subprocess keeps
ilamb3's import-time side effects (``matplotlib.use``, warning filters, its class-level region
registry) away from the caller.

The peer does what ilamb3's ``run_single_block`` does for one model and one reference, minus
plotting and HTML: open both files with xarray, ``fix_missing_bounds_attrs``,
``fix_pint_units``, then ``run_analyses`` with ilamb3's default analyses (bias, RMSE, annual
cycle, spatial distribution) over the requested regions, and ``add_overall_score``. The
reference variable is renamed to the model's variable name, as ilamb3's own reference data
are. ilamb3 is installed with the ``parity`` extra (``ilamb3==2025.9.9``, the newest release
whose requirements admit this project's xarray).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks.peer_ilamb27 import PeerResult, _peer_env, run_peer_job, write_peer_result


def ilamb3_available(python: str = sys.executable) -> str | None:
    """ilamb3's version if ``python`` can import it, else None."""
    try:
        proc = subprocess.run(
            [python, "-c", "import ilamb3, ilamb3.run; print(ilamb3.__version__)"],
            capture_output=True, text=True, timeout=300, check=False, env=_peer_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def run_ilamb3(
    confrontations: Sequence[Mapping],
    models: Mapping[str, Path],
    work_dir: Path,
    *,
    regions: Sequence[str | None] = (None,),
    python: str = sys.executable,
    timeout: float = 3600.0,
) -> PeerResult:
    """Run ilamb3's default analyses; return its rows, wall time and peak memory.

    ``confrontations``: dicts with ``name``, ``source`` (reference file or files),
    ``file_variable`` (its variable), ``variable`` (the model's variable name) and optionally
    ``mass_weighting``. ``models``: label -> model NetCDF file. ``regions``: ilamb3 region
    labels, ``None`` for the whole domain (reported as ``global``).
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    job = {
        "confrontations": [dict(c) for c in confrontations],
        "models": {k: str(v) for k, v in models.items()},
        "regions": list(regions),
    }
    return run_peer_job("benchmarks.peer_ilamb3", job, work_dir, "ilamb3", python, timeout)


# --------------------------------------------------------------------------- subprocess side
def _main(job_path: str) -> int:  # pragma: no cover - runs in the peer interpreter
    import numpy as np
    import xarray as xr
    from ilamb3 import dataset as dset
    from ilamb3.analysis import DEFAULT_ANALYSES, add_overall_score
    from ilamb3.run import fix_pint_units, run_analyses

    job = json.loads(Path(job_path).read_text())
    start = time.perf_counter()
    regions = list(job["regions"])
    rows = []
    for spec in job["confrontations"]:
        sources = spec["source"] if isinstance(spec["source"], list) else [spec["source"]]
        variable = spec["variable"]
        for name, model_file in job["models"].items():
            ref = xr.open_mfdataset(sources)
            ref = ref.rename({spec["file_variable"]: variable})
            ref = fix_pint_units(dset.fix_missing_bounds_attrs(ref))
            # the reference's units spelled as pint formats them (ilamb3 converts the model to
            # them and formats them so); xarray >= 2025.11 drops conflicting attributes in
            # arithmetic, so 'watt/m2' minus 'watt / meter ** 2' would lose its units
            ref = dset.convert(ref, ref[variable].attrs["units"], varname=variable)
            com = fix_pint_units(dset.fix_missing_bounds_attrs(xr.open_dataset(model_file)))
            com = com[[v for v in com.data_vars if v == variable or v.endswith("_bnds")]]
            analyses = {
                label: cls(
                    required_variable=variable,
                    regions=regions,
                    mass_weighting=bool(spec.get("ilamb3_mass_weighting", False)),
                    use_uncertainty=False,
                )
                for label, cls in DEFAULT_ANALYSES.items()
            }
            df, _, _ = run_analyses(ref, com, analyses)
            df["source"] = df["source"].str.replace("Comparison", name)
            df = add_overall_score(df)
            for rec in df.to_dict(orient="records"):
                label = str(rec["name"]).rsplit(" [", 1)[0]
                region = rec["region"]
                rows.append({
                    "source": rec["source"],
                    "product": spec["name"],
                    "variable": variable,
                    "region": "global" if region in (None, "None") else str(region),
                    "analysis": rec["analysis"] if isinstance(rec["analysis"], str) else "",
                    "name": label,
                    "type": rec["type"],
                    "units": str(rec["units"]),
                    "value": float(rec["value"]) if np.isfinite(rec["value"]) else None,
                    "mode": "ilamb3-peer",
                })
    write_peer_result(job_path, rows, time.perf_counter() - start)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main(sys.argv[1]))
