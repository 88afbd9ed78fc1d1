"""One call per use: a campaign's files, or the files groups uploaded.

Contract: :func:`benchmark_campaign` is what the campaign flow calls after the runs are
conformed; :func:`benchmark_uploads` is the coordinators' intercomparison (``callmip
benchmark FILES_OR_DIRS...`` and the ``intercomparison`` deployment): find and check the
uploaded CalLMIP files, score the usable ones, and add the intercomparison numbers. Both load
the catalog, score every model file, compute the bootstrap intervals of the prior-to-posterior
changes and of the inter-model spread and the reference-free global totals, render the report
into ``out_dir`` and return everything a flow publishes as Prefect artifacts (the summary
markdown and the table-ready rows), so flows stay thin wrappers with no logic of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmarks import compare, intercompare, totals
from benchmarks.catalog import load_catalog
from benchmarks.confront import ModelOutput, confront_all
from benchmarks.intercomparison_report import Intercomparison
from benchmarks.markdown import artifact_tables
from benchmarks.regions import DEFAULT_REGIONS
from benchmarks.report import write_report
from benchmarks.uploads import Inventory, Policy, collect_uploads

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchmarkResult:
    """Outputs of a benchmark run."""

    report: Path
    scores: pd.DataFrame
    summary_markdown: str
    tables: dict[str, list[dict]]
    intercomparison: Intercomparison | None = None


@dataclass(frozen=True)
class TotalsInput:
    """One file for the reference-free totals."""

    path: Path
    source: str
    stage: str
    experiment: str = "historical"
    years: tuple[int, int] | None = None
    unusable: dict[str, str] | None = None


def _needs_intervals(outputs: Sequence[ModelOutput]) -> bool:
    """Bootstrap intervals are only meaningful with a prior/posterior pair or two models."""
    stages: dict[str, set[str]] = {}
    for o in outputs:
        stages.setdefault(o.model, set()).add(o.stage)
    return len(stages) > 1 or any(len(s) > 1 for s in stages.values())


def intercomparison_tables(
    scores: pd.DataFrame,
    yearly: pd.DataFrame,
    totals_inputs: Iterable[TotalsInput],
    *,
    inventory: Inventory | None = None,
) -> Intercomparison:
    """The numbers of the intercomparison sections (see the module docstring)."""
    changes = intercompare.change_intervals(yearly)
    pp = compare.prior_posterior(scores[(scores["region"] == "global")
                                        & (scores["analysis"] != "Site")])
    if not changes.empty:
        changes = pp[["source", "variable", "product", "name", "mode", "prior", "posterior",
                      "change"]].merge(changes, on=["source", "variable", "product", "name",
                                                    "mode"], how="left")
    frames, notes = [], []
    for t in totals_inputs:
        frame, skipped = totals.global_annual(t.path, t.source, t.stage, t.experiment,
                                              years=t.years, unusable=t.unusable)
        frames.append(frame)
        notes.extend(f"global totals: {s}" for s in skipped)
    annual = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=totals.COLUMNS)
    area_notes = sorted(set(annual["note"])) if not annual.empty else []
    return Intercomparison(
        inventory=inventory.table() if inventory is not None else [],
        policy=inventory.policy if inventory is not None else "",
        changes=changes,
        spread=intercompare.spread_intervals(yearly),
        annual=annual,
        totals=totals.prior_posterior_totals(annual),
        divergence=totals.scenario_divergence(annual),
        notes=[*(f"global totals: {n}" for n in area_notes), *notes],
    )


def _score_and_report(
    outputs: Sequence[ModelOutput],
    totals_inputs: Sequence[TotalsInput],
    config_path: Path,
    ilamb_root: Path,
    out_dir: Path,
    *,
    campaign: dict,
    mode: str,
    regions: Sequence[str],
    variables: Sequence[str] | None,
    inventory: Inventory | None = None,
    **report_options,
) -> BenchmarkResult:
    out_dir = Path(out_dir)
    catalog = load_catalog(Path(config_path), Path(ilamb_root))
    if variables is not None:
        catalog = [p for p in catalog if p.variable in variables]
    sites_dir = report_options.pop("sites_dir", None)
    confronted = confront_all(outputs, catalog, out_dir, mode=mode, regions=regions,
                              sites_dir=sites_dir, yearly=_needs_intervals(outputs))
    inter = intercomparison_tables(confronted.scores, confronted.yearly, totals_inputs,
                                   inventory=inventory)
    if not confronted.yearly.empty:
        confronted.yearly.to_csv(out_dir / "scores_by_year.csv", index=False)
    report = write_report(out_dir, confronted.scores, campaign=campaign, figures_from=out_dir,
                          catalog=catalog, intercomparison=inter, **report_options)
    tables = artifact_tables(confronted.scores)
    if inventory is not None:
        tables["benchmark-uploads"] = [
            {k: v for k, v in row.items() if k != "checker"} for row in inventory.table()
        ]
    return BenchmarkResult(
        report=report,
        scores=confronted.scores,
        summary_markdown=(out_dir / "summary.md").read_text(),
        tables=tables,
        intercomparison=inter,
    )


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
    extra_totals: Sequence[TotalsInput] = (),
) -> BenchmarkResult:
    """Score, compare and report one campaign; see the module docstring.

    ``variables`` restricts the catalog to the variables the campaign asks to benchmark;
    ``extra_totals`` adds files (e.g. the SSP runs) to the reference-free totals.
    """
    totals_inputs = [TotalsInput(o.monthly_path, o.model, o.stage, years=o.years)
                     for o in model_files]
    return _score_and_report(
        model_files, [*totals_inputs, *extra_totals], config_path, ilamb_root, out_dir,
        campaign=campaign, mode=mode, regions=regions, variables=variables,
        spinup=spinup, jobs=jobs, sites_dir=sites_dir,
    )


def benchmark_uploads(
    paths: Iterable[Path],
    config_path: Path,
    ilamb_root: Path,
    out_dir: Path,
    *,
    mode: str = "ilamb27",
    policy: Policy = "flag",
    regions: Sequence[str] = DEFAULT_REGIONS,
    variables: Sequence[str] | None = None,
    title: str = "intercomparison",
    campaign: dict | None = None,
    spinup: pd.DataFrame | None = None,
) -> BenchmarkResult:
    """The coordinators' intercomparison of uploaded files; see the module docstring.

    ``campaign`` adds lines to the report's description; ``spinup`` a spin-up drift table (the
    UI's benchmark of a finished simulation shows its run's spin-up).
    """
    paths = [Path(p) for p in paths]
    inventory = collect_uploads(paths, policy)
    outputs = [
        ModelOutput(f.model, f.stage, f.path, years=f.years, unusable=dict(f.unusable))  # type: ignore[arg-type]
        for f in inventory.scoring_files()
    ]
    totals_inputs = [
        TotalsInput(f.path, f.model, f.stage, f.experiment, f.years, dict(f.unusable))
        for f in inventory.used(None)
        if f.frequency == "monthly" or not any(
            g.frequency == "monthly" and g.key[:2] == f.key[:2] and g.experiment == f.experiment
            for g in inventory.used(None))
    ]
    info = {
        "name": title,
        "inputs": ", ".join(str(p) for p in paths),
        "files found": str(len(inventory.files)),
        "files scored": str(sum(f.status != "skipped" for f in inventory.files)),
        "checker policy": policy,
        "scoring mode": mode,
        **(campaign or {}),
    }
    logger.info("intercomparison of %d files (%d scored against references)",
                len(inventory.files), len(outputs))
    return _score_and_report(
        outputs, totals_inputs, config_path, ilamb_root, out_dir, campaign=info, mode=mode,
        regions=regions, variables=variables, inventory=inventory, spinup=spinup,
    )
