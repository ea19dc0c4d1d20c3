#!/usr/bin/env bash
# tests/slurm/cluster.sh start DIR | stop DIR — a throw-away one-node Slurm for the tests.
#
#   start DIR  munged (as the munge user, Debian's key, its own socket), slurmctld and slurmd
#              (no systemd), every file in DIR (a new or empty directory: config, state, spool,
#              logs, pid files), free ports picked for this run. Writes DIR/env (source it: it
#              sets SLURM_CONF and PATH for sbatch/srun/squeue/scancel) and waits until the node
#              is idle. Exit 77 with the reason when Slurm cannot be started here (not root,
#              packages missing: deploy/install-deps.sh installs them).
#   stop DIR   cancels the jobs still known to this cluster (waiting up to 40 s for their steps to
#              end), then ends the daemons started by `start DIR` (by the pids it recorded); DIR
#              stays (logs), the caller removes it.
#
# The node is this machine under its short host name, reached at 127.0.0.1 (NodeAddr and the
# controller's address), so nothing needs the host name to resolve. Several clusters may run at
# once (other test runs): ports, cluster name, socket and spool are per DIR.
set -u
cmd=${1:-}
dir=${2:-}
die() { echo "slurm-cluster: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop DIR"

stop_cluster() {
    local d=$1 p
    # jobs left (a test that failed half-way): cancelled through this cluster's controller,
    # which ends their steps (slurmstepd has no trace of DIR on its command line to find it by)
    if [ -s "$d/pids/slurmctld" ] && kill -0 "$(cat "$d/pids/slurmctld")" 2>/dev/null; then
        local jobs
        jobs=$(SLURM_CONF="$d/slurm.conf" squeue -h -o %i 2>/dev/null)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            SLURM_CONF="$d/slurm.conf" scancel $jobs 2>/dev/null
            for _ in $(seq 200); do
                [ -z "$(SLURM_CONF="$d/slurm.conf" squeue -h -o %i 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    for f in slurmd slurmctld munged; do
        [ -s "$d/pids/$f" ] || continue
        p=$(cat "$d/pids/$f")
        kill -TERM "$p" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        rm -f "$d/pids/$f"
    done
    return 0
}

if [ "$cmd" = stop ]; then
    stop_cluster "$dir"
    exit 0
fi
[ "$cmd" = start ] || die "unknown command '$cmd' (start|stop)"

[ "$(id -u)" -eq 0 ] || skip "a test Slurm needs root (slurmd starts job steps as the user); run as root"
for b in munged slurmctld slurmd sbatch srun squeue scancel scontrol sinfo; do
    command -v "$b" >/dev/null 2>&1 ||
        skip "$b not found: install the Slurm and munge packages (deploy/install-deps.sh)"
done
id munge >/dev/null 2>&1 || skip "no munge user (install the munge package: deploy/install-deps.sh)"
[ -r /etc/munge/munge.key ] || skip "/etc/munge/munge.key missing (install munge: deploy/install-deps.sh)"
plugdir=$(dirname "$(find /usr/lib -name mpi_pmix.so -path '*slurm*' 2>/dev/null | head -n 1)" 2>/dev/null)
[ -n "$plugdir" ] && [ -f "$plugdir/mpi_pmix.so" ] || skip "Slurm's PMIx plugin (mpi_pmix.so) not found"

mkdir -p "$dir" || die "cannot create $dir"
dir=$(cd "$dir" && pwd)
# munged refuses a socket directory others could write into, and must reach it as munge
chmod 0755 "$dir"
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/pids"
chown munge:munge "$dir/munge"
chmod 0755 "$dir/munge"
runuser -u munge -- test -w "$dir/munge" ||
    die "the munge user cannot reach $dir/munge (every parent directory must be searchable: chmod o+x)"

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
node=$(hostname -s)
ncpu=$(nproc)
free_mb=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
mem=$((free_mb / 2))
[ "$mem" -gt 4096 ] && mem=4096
ctl_port=$(free_port)
d_port=$(free_port)
while [ "$d_port" = "$ctl_port" ]; do d_port=$(free_port); done
name=aha$$

# munged: Debian's key, a socket of its own (a system munged, if any, is left alone)
runuser -u munge -- munged --socket="$dir/munge/munge.socket" --key-file=/etc/munge/munge.key \
    --log-file="$dir/munge/munged.log" --pid-file="$dir/munge/munged.pid" \
    --seed-file="$dir/munge/munged.seed" --origin=127.0.0.1 --num-threads=2 ||
    die "munged did not start (see $dir/munge/munged.log)"
for _ in $(seq 50); do [ -s "$dir/munge/munged.pid" ] && [ -S "$dir/munge/munge.socket" ] && break; sleep 0.1; done
[ -s "$dir/munge/munged.pid" ] || die "munged wrote no pid file (see $dir/munge/munged.log)"
cp "$dir/munge/munged.pid" "$dir/pids/munged"

cat > "$dir/slurm.conf" <<EOF
# a throw-away one-node cluster (tests/slurm/cluster.sh)
ClusterName=$name
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
AuthType=auth/munge
CredType=cred/munge
# cred_expire: also how long a requeued job waits before it starts again (default 120 s)
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
PluginDir=$plugdir
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
KillWait=30
MinJobAge=600
MessageTimeout=30
SlurmdTimeout=300
DefMemPerCPU=64
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$ncpu RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
EOF
cat > "$dir/env" <<EOF
export SLURM_CONF=$dir/slurm.conf
EOF
export SLURM_CONF=$dir/slurm.conf

slurmctld -D -i -f "$SLURM_CONF" > "$dir/log/slurmctld.out" 2>&1 &
echo $! > "$dir/pids/slurmctld"
slurmd -D -N "$node" -f "$SLURM_CONF" > "$dir/log/slurmd.out" 2>&1 &
echo $! > "$dir/pids/slurmd"
# up when the node is idle
for _ in $(seq 150); do
    st=$(sinfo -h -n "$node" -o %t 2>/dev/null)
    [ "$st" = idle ] && break
    sleep 0.2
done
if [ "$st" != idle ]; then
    echo "slurm-cluster: node not idle after 30 s (state '${st:-?}'); logs:" >&2
    tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" "$dir/log/"*.out >&2 2>/dev/null
    stop_cluster "$dir"
    exit 1
fi
echo "slurm-cluster: $name up (node $node, $ncpu CPUs, ports $ctl_port/$d_port, $dir)"
