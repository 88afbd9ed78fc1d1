#!/usr/bin/env bash
# Python environment: uv (from PyPI) and the locked dependencies in .venv. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
fi
uv sync --frozen --all-extras --quiet
# One-time costs of the demo, cached outside the run directory (numba caches, the user cache):
# the CELM kernel's first compilation (about a minute of CPU) and the demo's synthetic weather.
uv run --frozen --quiet callmip warm-up >/dev/null
