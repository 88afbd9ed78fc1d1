#!/usr/bin/env bash
# System packages for the tests and benchmarks (CDO, Chromium, Slurm + munge). Needs root.
# Idempotent: packages already installed are skipped without touching apt.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t wanted < <(grep -hv '^\s*#' scripts/apt-packages.txt | sed '/^\s*$/d' | sort -u)
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
