#!/usr/bin/env bash
# Runs an experiment on a Slurm cluster: its shards as one job array
# (sbatch --array), then a merge job that waits for the array (afterany) and
# merges the shard databases into one. See README, "Scale-out".
#
#   tools/slurm_submit.sh [--wait] [--lazydit PATH] EXPERIMENT.json OUT.db SHARDS [SBATCH_OPTION...]
#
# Shard i (0 <= i < SHARDS) runs `lazydit run EXPERIMENT.json --db
# OUT.shards/shard_<i>.db --shard i/SHARDS` and logs to
# OUT.shards/slurm-<array job>_<i>.out. The merge job runs `lazydit merge OUT.db
# <the shard databases that exist>` and logs to OUT.shards/merge-<job>.out.
# The two job scripts are written to OUT.shards/ (shard.sbatch, merge.sbatch).
# Extra arguments go to both sbatch calls (e.g. --partition=cpu
# --time=2:00:00 --cpus-per-task=2). Jobs start in the current directory, so
# relative paths in the config (the model) resolve as they do here.
#
# Everything is resumable: a shard skips the runs its database already has as
# done and redoes interrupted ones, and merging is idempotent; after a failed
# or cancelled shard, submitting the same command again finishes the work. The
# merge runs after the array whatever its outcome (afterany), so OUT.db holds
# every run finished so far.
#
# Prints "array <id> merge <id>". With --wait it returns when the merge job
# has ended, with status 0 only if every shard and the merge succeeded.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}
wait_flag=0
lazydit=""
while [ $# -gt 0 ]; do
    case "$1" in
    --wait) wait_flag=1; shift ;;
    --lazydit) lazydit=$2; shift 2 ;;
    -h | --help) usage ;;
    *) break ;;
    esac
done
[ $# -ge 3 ] || usage
config=$1 out=$2 shards=$3
shift 3
case "$shards" in '' | *[!0-9]*) echo "slurm_submit: SHARDS '$shards' must be a positive integer" >&2; exit 2 ;; esac
[ "$shards" -ge 1 ] || { echo "slurm_submit: SHARDS must be >= 1" >&2; exit 2; }
[ -f "$config" ] || { echo "slurm_submit: $config: no such experiment config" >&2; exit 1; }
if [ -z "$lazydit" ]; then lazydit="$(cd "$(dirname "$0")/.." && pwd)/build/lazydit"; fi
[ -x "$lazydit" ] || { echo "slurm_submit: $lazydit is not an executable (build it, or give --lazydit)" >&2; exit 1; }
command -v sbatch >/dev/null || { echo "slurm_submit: sbatch not found (is this a Slurm login node?)" >&2; exit 1; }

abs() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
config=$(abs "$config")
out=$(abs "$out")
lazydit=$(abs "$lazydit")
dir="${out%.db}.shards"
mkdir -p "$dir"
# An invalid config fails here, not in SHARDS jobs.
"$lazydit" run "$config" --list >/dev/null

cat >"$dir/shard.sbatch" <<EOF
#!/bin/bash
# One shard of $(basename "$config"): shard \$SLURM_ARRAY_TASK_ID of $shards.
exec $(printf '%q' "$lazydit") run $(printf '%q' "$config") --db $(printf '%q' "$dir")/shard_\$SLURM_ARRAY_TASK_ID.db --shard \$SLURM_ARRAY_TASK_ID/$shards
EOF
cat >"$dir/merge.sbatch" <<EOF
#!/bin/bash
# Merges the shard databases of array job \$1 into $(basename "$out"); exits 1 if a
# shard did not finish all its runs (its log lacks the "..., 0 failed" summary).
dir=$(printf '%q' "$dir")
set --
rc=0
for i in \$(seq 0 $((shards - 1))); do
    if [ -e "\$dir/shard_\$i.db" ]; then set -- "\$@" "\$dir/shard_\$i.db"; fi
    grep -qE '^[0-9]+ runs: .*, 0 failed' "\$dir/slurm-\${ARRAY_JOB}_\$i.out" 2>/dev/null || { echo "shard \$i did not finish" >&2; rc=1; }
done
[ \$# -gt 0 ] || { echo "no shard database was written" >&2; exit 1; }
$(printf '%q' "$lazydit") merge $(printf '%q' "$out") "\$@" || exit 1
exit \$rc
EOF

array=$(sbatch --parsable --job-name=lazydit-shards --array="0-$((shards - 1))" --output="$dir/slurm-%A_%a.out" \
    "$@" "$dir/shard.sbatch")
array=${array%%;*}
wait_opt=()
[ "$wait_flag" = 1 ] && wait_opt=(--wait)
set +e
merge=$(sbatch --parsable "${wait_opt[@]}" --job-name=lazydit-merge --dependency="afterany:$array" \
    --export="ALL,ARRAY_JOB=$array" --output="$dir/merge-%j.out" "$@" "$dir/merge.sbatch")
rc=$?
set -e
echo "array $array merge ${merge%%;*}"
exit $rc
