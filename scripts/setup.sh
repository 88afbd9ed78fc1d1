#!/usr/bin/env bash
# Python environment: uv (from PyPI) and the locked dependencies in .venv. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
fi
# Bytecode compiled once at install: with PYTHONDONTWRITEBYTECODE set (as on our build machine)
# every process would compile its imports from source again (Prefect's server alone: 2 s).
uv sync --frozen --all-extras --quiet --compile-bytecode
uv run --frozen --quiet python -m compileall -q -j 0 callmip callmip_app flows forcing \
  benchmarks celm regrid esmvaltool_bridge >/dev/null
# One-time costs of the demo, cached outside the run directory (numba caches, the user cache):
# the CELM kernel's first compilation (about a minute of CPU), the demo's synthetic weather and
# its Prefect database.
uv run --frozen --quiet callmip warm-up >/dev/null
