"""Phase 1 site-level submissions: check, score against the flux towers, compare, benchmark.

``callmip sites FILES_OR_DIRS... --obs DIR`` runs :func:`benchmarks.site_level.run.score_upload`.
Modules, one job each: ``upload`` (find and read the groups' site files through the checker),
``scores`` (daily metrics per model, site, stage and variable), ``compare`` (prior -> posterior,
inter-model spread, pooling by IGBP class with bootstrap intervals), ``empirical`` (the
out-of-sample seasonal-cycle benchmark), ``met`` + ``regressions`` (PLUMBER2's 1lin, 2lin and
3km27 where site meteorology is given), ``report`` (CSV files and the HTML page).
"""
