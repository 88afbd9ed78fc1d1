"""One call for the end of a campaign: catalog -> confront (+ sites) -> report -> artifacts.

Contract: :func:`benchmark_campaign` is what the campaign flow calls after the runs are
conformed. It loads the catalog, scores every model file, renders the report into ``out_dir``
and returns everything the flow publishes as Prefect artifacts (the summary markdown and the
table-ready rows), so the flow stays a thin wrapper with no logic of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmarks.catalog import load_catalog
from benchmarks.confront import ModelOutput, confront
from benchmarks.markdown import artifact_tables
from benchmarks.regions import DEFAULT_REGIONS
from benchmarks.report import write_report


@dataclass(frozen=True)
class BenchmarkResult:
    """Outputs of a benchmark run."""

    report: Path
    scores: pd.DataFrame
    summary_markdown: str
    tables: dict[str, list[dict]]


def benchmark_campaign(
    model_files: Sequence[ModelOutput],
    config_path: Path,
    ilamb_root: Path,
    out_dir: Path,
    *,
    campaign: dict,
    spinup: pd.DataFrame | None = None,
    jobs: pd.DataFrame | None = None,
    mode: str = "ilamb27",
    regions: Sequence[str] = DEFAULT_REGIONS,
    sites_dir: Path | None = None,
    variables: Sequence[str] | None = None,
) -> BenchmarkResult:
    """Score, compare and report one campaign; see the module docstring.

    ``variables`` restricts the catalog to the variables the campaign asks to benchmark.
    """
    out_dir = Path(out_dir)
    catalog = load_catalog(Path(config_path), Path(ilamb_root))
    if variables is not None:
        catalog = [p for p in catalog if p.variable in variables]
    scores = confront(
        model_files, catalog, out_dir, mode=mode, regions=regions, sites_dir=sites_dir
    )
    report = write_report(
        out_dir,
        scores,
        campaign=campaign,
        spinup=spinup,
        jobs=jobs,
        figures_from=out_dir,
        catalog=catalog,
    )
    return BenchmarkResult(
        report=report,
        scores=scores,
        summary_markdown=(out_dir / "summary.md").read_text(),
        tables=artifact_tables(scores),
    )
