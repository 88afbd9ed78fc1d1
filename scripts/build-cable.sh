#!/usr/bin/env bash
# Build CABLE's serial program (CABLE-POP TRENDY branch) out of tree, cached by source hash.
# Source: $CABLE_SRC, or --source DIR, or ../shared/models/cable-pop-trendy. Cache:
# $CALLMIP_CABLE_CACHE or ~/.cache/callmip-global/cable/<key>/bin/cable. Prints the program's path.
set -euo pipefail
cd "$(dirname "$0")/.."
exec uv run python -m callmip.drivers.cable_pop.build "$@"
