#!/usr/bin/env bash
# The whole test suite, as CI runs it: ruff, then pytest including the slow end-to-end tests.
# Slurm-backed tests start their own single-node cluster (tests/scheduler/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
uv run ruff check .
uv run pytest "$@"
