#!/usr/bin/env bash
# A real one-node Slurm cluster on localhost (Debian's slurm-wlm and munge):
# the test starts munged with a generated key, slurmctld and slurmd with a
# generated slurm.conf (proctrack/linuxproc, task/none, select/cons_tres, no
# cgroup plugins, every state directory in a temporary directory, ports of
# its own), submits a small experiment with tools/slurm_submit.sh as a
# 2-task job array plus the dependent merge job, and checks that the merged
# database equals a single-process `lazydit run` row for row (timings and host
# aside). Every daemon it started is stopped on exit (trap), whatever happens.
set -u
cd "$(dirname "$0")/.."
. tests/shell_lib.sh
source tests/db_compare.sh
LAZYDIT=${LAZYDIT:-build/lazydit}
case "$LAZYDIT" in /*) ;; *) LAZYDIT="$PWD/$LAZYDIT" ;; esac

for d in munged slurmctld slurmd sbatch sinfo scontrol; do
    if ! command -v "$d" >/dev/null; then
        fail "slurm_available" "$d not found: install Debian's slurm-wlm and munge (./run test does)"
        exit 0
    fi
done
if [ "$(id -u)" != 0 ]; then
    # slurmd launches jobs as their user and must be root for that.
    fail "slurm_root" "the one-node cluster needs root to run slurmd (uid $(id -u))"
    exit 0
fi

# Short paths: the munge socket path must fit a Unix socket address.
S=$(mktemp -d /tmp/lzslurm.XXXXXX)
PIDS=()
stop_daemons() {
    local f p
    for f in "$S/slurmd.pid" "$S/slurmctld.pid" "$S/munged.pid"; do
        [ -s "$f" ] || continue
        p=$(cat "$f")
        kill "$p" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    # Job step daemons of this cluster, if a job was still running.
    for p in $(pgrep -f "slurmstepd" 2>/dev/null); do
        grep -qs "$S" "/proc/$p/environ" && kill -9 "$p" 2>/dev/null
    done
    rm -rf "$S"
}
trap stop_daemons EXIT

mkdir -p "$S/munge" "$S/state" "$S/spool" "$S/log" "$S/work"
# munged wants its socket reachable by every user (directories 755), its key private.
chmod 755 "$S" "$S/munge"
head -c 1024 /dev/urandom >"$S/munge/munge.key"
chmod 400 "$S/munge/munge.key"
if ! munged --socket="$S/munge/sock" --key-file="$S/munge/munge.key" --pid-file="$S/munged.pid" \
    --log-file="$S/log/munged.log" --seed-file="$S/munge/seed" 2>"$S/log/munged.err"; then
    fail "slurm_munged_starts" "$(cat "$S/log/munged.err" "$S/log/munged.log" 2>/dev/null | tail -n 3)"
    exit 0
fi

# Ports of our own, so a concurrent run of this test (or a real Slurm) does not collide.
port_free() { ! grep -q ":$(printf '%04X' "$1") " /proc/net/tcp /proc/net/tcp6 2>/dev/null; }
base=$((20000 + $$ % 20000))
while ! port_free "$base" || ! port_free $((base + 1)); do base=$((base + 2)); done
host=$(hostname -s)
cpus=$(nproc)
cat >"$S/slurm.conf" <<EOF
ClusterName=lazydit_test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge/sock
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ReturnToService=2
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=100 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$S/slurm.conf"
t0=$(date +%s%N)
slurmctld -f "$SLURM_CONF" 2>"$S/log/slurmctld.err" && slurmd -f "$SLURM_CONF" 2>"$S/log/slurmd.err"
up=0
for _ in $(seq 1 300); do
    if [ "$(sinfo -h -o %T 2>/dev/null)" = idle ]; then up=1; break; fi
    sleep 0.1
done
if [ "$up" = 1 ]; then
    pass "slurm_cluster_up"
    echo "# cluster up in $(( ($(date +%s%N) - t0) / 1000000 )) ms (ports $base, $((base + 1)); node $host, $cpus CPUs)"
else
    fail "slurm_cluster_up" "node state '$(sinfo -h -o %T 2>&1)'; $(tail -n 2 "$S/log/slurmctld.log" "$S/log/slurmd.log" 2>&1 | tr '\n' ' ')"
    exit 0
fi

cat >"$S/work/x.json" <<'EOF'
{
  "name": "slurm_test",
  "model": "models/fmnist_dit.safetensors",
  "n_samples": 4,
  "batch": 4,
  "steps": 6,
  "metrics": {"compute": ["psnr", "ssim"], "per_sample": true},
  "runs": [
    {"name": "ddim", "steps": [3, 6]},
    {"name": "fora", "policy": [{"name": "fora", "interval": 2}, {"name": "fora", "interval": 3}]}
  ]
}
EOF
# The single-process reference, while nothing else runs.
"$LAZYDIT" run "$S/work/x.json" --db "$S/work/single.db" --quiet

t0=$(date +%s%N)
if out=$(tools/slurm_submit.sh --wait --lazydit "$LAZYDIT" "$S/work/x.json" "$S/work/merged.db" 2 2>&1); then
    pass "slurm_array_and_merge_jobs_succeed"
else
    fail "slurm_array_and_merge_jobs_succeed" "$out; $(cat "$S"/work/merged.shards/*.out 2>/dev/null | tail -n 5 | tr '\n' ' ')"
fi
echo "# array + merge took $(( ($(date +%s%N) - t0) / 1000000 )) ms: $out"
array=$(printf '%s' "$out" | sed -n 's/^array \([0-9]*\) merge.*/\1/p')
# The array really ran as two Slurm tasks, each on its own shard.
states=$(scontrol -o show job "$array" 2>/dev/null | grep -o 'JobState=[A-Z]*' | sort | uniq -c | tr -s ' ')
n0=$(sqlite3 "$S/work/merged.shards/shard_0.db" "SELECT group_concat(run_id, ',') FROM runs" 2>/dev/null)
n1=$(sqlite3 "$S/work/merged.shards/shard_1.db" "SELECT group_concat(run_id, ',') FROM runs" 2>/dev/null)
if [ "$states" = " 2 JobState=COMPLETED" ] && [ "$n0" = "1,3" ] && [ "$n1" = "2,4" ] &&
    grep -q "SLURM\|shard 0/2" "$S/work/merged.shards/slurm-${array}_0.out"; then
    pass "slurm_two_array_tasks_two_shards"
else
    fail "slurm_two_array_tasks_two_shards" "array $array states '$states', shard runs '$n0' and '$n1'"
fi
d=$(db_diff "$S/work/single.db" "$S/work/merged.db")
if [ "$d" = 0 ] && [ "$(db_counts "$S/work/merged.db")" = "$(db_counts "$S/work/single.db")" ]; then
    pass "slurm_merged_equals_single_process"
else
    fail "slurm_merged_equals_single_process" "$d rows differ; $(db_counts "$S/work/merged.db") vs $(db_counts "$S/work/single.db")"
fi
