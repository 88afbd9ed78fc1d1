#!/usr/bin/env bash
# Install a single-node Slurm (Debian slurm-wlm + munge). Idempotent: does nothing when present.
# Needs root (CI runs as root). Does not start anything: see start.sh.
set -euo pipefail

need=()
for cmd in sbatch slurmctld slurmd munged; do
    command -v "$cmd" >/dev/null 2>&1 || need+=("$cmd")
done
if [ ${#need[@]} -eq 0 ]; then
    echo "slurm-wlm and munge already installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: must run as root to apt-get install slurm-wlm munge (missing: ${need[*]})" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends slurm-wlm munge \
    || { apt-get update && apt-get install -y --no-install-recommends slurm-wlm munge; }
echo "installed: $(sbatch --version)"
