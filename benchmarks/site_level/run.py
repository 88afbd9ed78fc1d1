"""``score_upload``, the one call behind ``callmip sites``: check, score, compare, write.

Contract: :func:`score_upload` takes files and/or directories of Phase 1 site files, a directory
of CalLMIP flux files (any directory, not only the shipped one) and optionally a directory of
PLUMBER2-layout met files and a site table; it returns a :class:`SiteLevelResult` with every
table, and with ``out_dir`` writes them (CSV) and the HTML report there, each file through a
temporary name. Observations are read once and shared by the checker and the scorer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmarks.site_level import compare, empirical, regressions
from benchmarks.site_level.met import met_files, read_daily_met
from benchmarks.site_level.scores import score_runs
from benchmarks.site_level.upload import SiteRun, find_site_files, read_site_run
from callmip.conform.phase1_sites import Phase1Site, load_site_table
from callmip.fluxobs import FluxObservations, observation_files, read_observations

logger = logging.getLogger(__name__)


@dataclass
class SiteLevelResult:
    """Everything ``callmip sites`` computed; paths are set when written."""

    runs: list[SiteRun]
    findings: pd.DataFrame
    scores: pd.DataFrame
    changes: pd.DataFrame
    spread: pd.DataFrame
    pooled: pd.DataFrame
    benchmarks: pd.DataFrame
    benchmark_summary: pd.DataFrame
    met_note: str
    report: Path | None = None
    csv: Path | None = None

    @property
    def n_errors(self) -> int:
        return int((self.findings["level"] == "ERROR").sum()) if len(self.findings) else 0


def load_observations(obs_dir: Path | str) -> dict[str, FluxObservations]:
    """Every flux file in ``obs_dir``, by site code."""
    return {code: read_observations(p) for code, p in observation_files(obs_dir).items()}


def _findings(runs: list[SiteRun], problems) -> pd.DataFrame:
    rows = [{"file": str(p.path), "model": "", "stage": "", "site": "", "level": "ERROR",
             "where": "file", "message": p.message} for p in problems]
    for run in runs:
        for f in run.report.findings:
            rows.append({"file": str(run.path), "model": run.model, "stage": run.stage,
                         "site": run.site, "level": str(f.level), "where": f.where,
                         "message": f.message})
    return pd.DataFrame(rows, columns=["file", "model", "stage", "site", "level", "where",
                                       "message"])


def _benchmarks(runs: list[SiteRun], observations: Mapping[str, FluxObservations],
                table: Mapping[str, Phase1Site], met_dir: Path | None
                ) -> tuple[dict, str]:
    met = {}
    met_note = "no met directory given: PLUMBER2 regressions (1lin, 2lin, 3km27) not computed"
    if met_dir is not None:
        files = met_files(met_dir)
        by_lower = {k.lower(): v for k, v in files.items()}
        for code in observations:
            if code.lower() in by_lower:
                met[code] = read_daily_met(by_lower[code.lower()])
        met_note = (f"met for {len(met)} of {len(observations)} observed sites in {met_dir}: "
                    + (", ".join(sorted(met)) or "none"))
    out: dict[tuple[str, str], dict] = {}
    for site, variable in sorted({(r.site, v) for r in runs for v in r.values}):
        entry = {empirical.SEASONAL: empirical.seasonal_benchmark(site, variable, table,
                                                                  observations)}
        if met:
            entry.update(regressions.regression_benchmarks(site, variable, met, observations))
        out[(site, variable)] = entry
    return out, met_note


def score_upload(
    paths: Iterable[Path | str],
    obs_dir: Path | str,
    out_dir: Path | str | None = None,
    *,
    met_dir: Path | str | None = None,
    site_table: Path | str | Mapping[str, Phase1Site] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> SiteLevelResult:
    """Check and score an upload of site files; see the module docstring."""
    table = site_table if isinstance(site_table, Mapping) else load_site_table(site_table)
    observations = load_observations(obs_dir)
    files, problems = find_site_files(paths)
    runs = [read_site_run(p, observations, table, str(obs_dir)) for p in files]
    scores = score_runs(runs, observations)
    changes = compare.prior_posterior(scores)
    spread = compare.intermodel_spread(runs, scores)
    pooled = compare.pooled(changes, spread, n_boot=n_boot, seed=seed)
    bench_series, met_note = _benchmarks(runs, observations, table,
                                         Path(met_dir) if met_dir is not None else None)
    bench = empirical.verdicts(runs, observations, bench_series)
    result = SiteLevelResult(runs, _findings(runs, problems), scores, changes, spread, pooled,
                             bench, empirical.verdict_summary(bench), met_note)
    if out_dir is not None:
        from benchmarks.site_level.report import write_site_report

        write_site_report(Path(out_dir), result, obs_dir=Path(obs_dir))
    return result
