#!/usr/bin/env bash
# Start a real single-node Slurm cluster (munged + slurmctld + slurmd) for tests and benchmarks.
#
# Everything lives in one state directory ($CALLMIP_SLURM_DIR, default /tmp/callmip-slurm):
# slurm.conf, spool and state dirs, logs, pid files, the jobcomp file that `sacct -c` reads.
# /etc/slurm/slurm.conf is made a symlink to our slurm.conf (only if it is absent or already ours),
# so plain `sinfo`/`sbatch` find the cluster without SLURM_CONF. Runs as root, no systemd.
# Idempotent: if `sinfo` already answers, it only waits for the node to be usable.
# Exits non-zero, showing the daemon logs, if the node is not idle within $CALLMIP_SLURM_WAIT s.
#
# Settings chosen for a fast, deterministic test cluster (see DESIGN.md):
#   - proctrack/linuxproc + task/none: no cgroups or systemd needed;
#   - select/cons_tres with CR_Core_Memory and DefMemPerCPU: several jobs share the node;
#   - batch_sched_delay=0: jobs start as soon as submitted;
#   - jobcomp/filetxt: finished jobs stay visible to `sacct -c` without slurmdbd;
#   - OverTimeLimit=0, KillWait=5: a job past its walltime ends TIMEOUT promptly;
#   - kill_invalid_depend: a job whose afterok dependency failed is cancelled, not left pending.
# CPUs default to the machine's count (slurmd -C); CALLMIP_SLURM_CPUS overrides it (the test
# jobs mostly sleep, so a small CI box may advertise more CPUs than it has: config_overrides).
set -euo pipefail

DIR=${CALLMIP_SLURM_DIR:-/tmp/callmip-slurm}
WAIT_S=${CALLMIP_SLURM_WAIT:-30}
CONF=$DIR/slurm.conf
ETC_CONF=/etc/slurm/slurm.conf

die() { echo "start.sh: $*" >&2; exit 1; }

show_logs() {
    for f in "$DIR"/munge/munged.log "$DIR"/log/slurmctld.log "$DIR"/log/slurmd.log; do
        [ -f "$f" ] && { echo "----- $f (last 40 lines)" >&2; tail -n 40 "$f" >&2; }
    done
    echo "----- sinfo" >&2
    sinfo -N -l >&2 2>&1 || true
}

for cmd in munged mungekey slurmctld slurmd sinfo scontrol; do
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found: run scripts/slurm/install.sh first"
done
[ "$(id -u)" -eq 0 ] || die "must run as root (slurmctld/slurmd run as root here)"

export SLURM_CONF=$CONF

node_ready() {
    # The node is usable when sinfo reports it idle, mixed or allocated (not down/drained).
    local state
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1) || return 1
    case "$state" in idle* | mixed* | allocated* | completing*) return 0 ;; *) return 1 ;; esac
}

wait_ready() {
    local deadline=$((SECONDS + WAIT_S))
    while [ $SECONDS -lt $deadline ]; do
        if node_ready; then
            echo "slurm ready: $(sinfo -h -N -o '%N %T %c CPUs %m MB')  (SLURM_CONF=$CONF)"
            return 0
        fi
        # A node that registered as DOWN after an unclean stop is brought back.
        if sinfo -h -N -o '%T' 2>/dev/null | grep -q -E '^(down|drain)'; then
            scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
        fi
        sleep 0.5
    done
    echo "start.sh: slurm node not ready after ${WAIT_S} s" >&2
    show_logs
    return 1
}

NODE=$(hostname -s)
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# (sinfo takes ~10 s to give up on a stopped controller: ask it only when the daemons run)
if [ -f "$CONF" ] && pid_alive "$DIR/slurmctld.pid" && pid_alive "$DIR/slurmd.pid" && node_ready; then
    echo "slurm already running: $(sinfo -h -N -o '%N %T')"
    exit 0
fi

mkdir -p "$DIR"/{log,state,spool,munge}
chmod 755 "$DIR"

# ---- munge ------------------------------------------------------------------------------------
MUNGE_KEY=/etc/munge/munge.key
if [ ! -s "$MUNGE_KEY" ]; then
    mkdir -p /etc/munge
    mungekey --create --keyfile="$MUNGE_KEY" 2>/dev/null \
        || { command -v create-munge-key >/dev/null && create-munge-key -f; }
fi
chown munge:munge /etc/munge "$MUNGE_KEY"
chmod 0700 /etc/munge
chmod 0400 "$MUNGE_KEY"
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge "$DIR/munge"
chmod 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    rm -f /run/munge/munge.socket.2 /run/munge/munged.pid
    su -s /bin/sh munge -c "munged --force --log-file=$DIR/munge/munged.log" \
        || runuser -u munge -- munged --force --log-file="$DIR/munge/munged.log"
    for _ in $(seq 1 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    munge -n | unmunge >/dev/null || { show_logs; die "munged did not start"; }
fi

# ---- slurm.conf -------------------------------------------------------------------------------
HW=$(slurmd -C | head -n 1)
HW_CPUS=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$HW")
HW_MEM=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$HW")
CPUS=${CALLMIP_SLURM_CPUS:-$HW_CPUS}
# Leave some memory to the OS and advertise at most what exists.
MEM=$((HW_MEM * 9 / 10))
TMP_CONF=$(mktemp "$DIR/.slurm.conf.XXXXXX")
cat >"$TMP_CONF" <<CONFEOF
# Written by callmip scripts/slurm/start.sh: single-node test cluster. Do not use in production.
ClusterName=callmip
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
DependencyParameters=kill_invalid_depend
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
OverTimeLimit=0
KillWait=5
MinJobAge=300
InactiveLimit=0
MaxArraySize=10001
MaxJobCount=100000
SlurmdParameters=config_overrides
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONFEOF
chmod 644 "$TMP_CONF"
mv -f "$TMP_CONF" "$CONF"

mkdir -p /etc/slurm
if [ ! -e "$ETC_CONF" ] || { [ -L "$ETC_CONF" ] && [ "$(readlink "$ETC_CONF")" = "$CONF" ]; } \
    || grep -q '^# Written by callmip' "$ETC_CONF" 2>/dev/null; then
    ln -sfn "$CONF" "$ETC_CONF"
else
    echo "start.sh: $ETC_CONF belongs to another cluster; export SLURM_CONF=$CONF to use this one" >&2
fi

# ---- daemons ----------------------------------------------------------------------------------
if ! pid_alive "$DIR/slurmctld.pid"; then
    slurmctld -f "$CONF" || { show_logs; die "slurmctld failed to start"; }
fi
if ! pid_alive "$DIR/slurmd.pid"; then
    slurmd -f "$CONF" || { show_logs; die "slurmd failed to start"; }
fi
wait_ready
