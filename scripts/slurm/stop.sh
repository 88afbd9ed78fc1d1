#!/usr/bin/env bash
# Stop the test cluster started by start.sh (slurmd, slurmctld, munged). Keeps the state dir
# (logs, jobcomp file) for inspection; pass --purge to delete it as well.
set -uo pipefail

DIR=${CALLMIP_SLURM_DIR:-/tmp/callmip-slurm}

stop_pidfile() {
    local name=$1 pidfile=$2 pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
}

stop_pidfile slurmd "$DIR/slurmd.pid"
stop_pidfile slurmctld "$DIR/slurmctld.pid"
stop_pidfile munged /run/munge/munged.pid
if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$DIR/slurm.conf" ]; then
    rm -f /etc/slurm/slurm.conf
fi
if [ "${1:-}" = "--purge" ]; then
    rm -rf "$DIR"
    echo "removed $DIR"
fi
