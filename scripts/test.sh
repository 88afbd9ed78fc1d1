#!/usr/bin/env bash
# The whole test suite, as CI runs it: ruff, then pytest including the slow end-to-end tests.
# Slurm-backed tests start their own single-node cluster (tests/scheduler/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
uv run ruff check .
# A fixed hypothesis seed makes CI reproducible (a red CI must be a real, repeatable failure);
# `make test-fast` and plain `uv run pytest` keep exploring new random examples locally.
uv run pytest --hypothesis-seed=0 "$@"
