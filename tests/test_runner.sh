#!/usr/bin/env bash
# lazydit run / merge / sample --record on a small sweep of the default model:
#   * kill -9 in the middle of a run, then resume: no lost or duplicated rows,
#     and the database equals an uninterrupted run's (timings aside);
#   * shards merged (in both orders, twice): equal to the single run; merge is
#     idempotent and refuses another experiment, config or schema version;
#   * a read-only directory and a full disk give one clear error line and leave
#     an existing database intact (small tmpfs mounts when we may mount; else a
#     read-only directory by permissions, and the full disk is skipped with the
#     reason);
#   * sample --record writes a runs row and its module_steps;
#   * stored sample_features give back each run's fid (1e-9 relative), and
#     survive kill/resume and merge row for row (db_diff covers the tables);
#     a database made before the feature tables existed merges.
set -u
cd "$(dirname "$0")/.."
. tests/shell_lib.sh
source tests/db_compare.sh
LAZYDIT=${LAZYDIT:-build/lazydit}
T=$(mktemp -d "${TEST_TMP:-/tmp}/runner.XXXXXX")
MOUNTS=()
cleanup() {
    local m
    for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

CACHE="${TEST_TMP:-$T}/eval_refcache"  # reference statistics, shared with the eval tests (content-keyed)
cat >"$T/x.json" <<EOF
{
  "name": "runner_test",
  "model": "models/fmnist_dit.safetensors",
  "n_samples": 10,
  "batch": 10,
  "steps": 8,
  "record_rows": true,
  "metrics": {"compute": ["fid", "psnr", "ssim"], "bootstrap": 20, "per_sample": true, "sample_features": true,
              "cache_dir": "$CACHE"},
  "runs": [
    {"name": "ddim", "steps": [4, 8]},
    {"name": "fora", "policy": {"name": "fora", "interval": 2}},
    {"name": "random", "policy": {"name": "random", "rate": 0.4}, "seed": [0, 1]}
  ]
}
EOF
NRUNS=5
L=6  # depth of the default model

# --- the reference: one uninterrupted run
if "$LAZYDIT" run "$T/x.json" --db "$T/a.db" >"$T/a.log" 2>&1; then
    pass "runner_uninterrupted"
else
    fail "runner_uninterrupted" "$(tail -n 3 "$T/a.log")"
fi
done_runs=$(sqlite3 "$T/a.db" "SELECT count(*) FROM runs WHERE status = 'done'")
steps_rows=$(sqlite3 "$T/a.db" "SELECT count(*) FROM module_steps")
want_rows=$(( (4 + 8 + 8 + 8 + 8) * L * 2 ))
if [ "$done_runs" = "$NRUNS" ] && [ "$steps_rows" = "$want_rows" ] && grep -q "ETA" "$T/a.log" &&
    grep -q "^\[5/5\] run 5 random/seed=1" "$T/a.log"; then
    pass "runner_rows_and_progress"
else
    fail "runner_rows_and_progress" "$done_runs runs, $steps_rows module_steps (want $want_rows); log: $(head -c 300 "$T/a.log")"
fi
# Every run is skipped when run again.
"$LAZYDIT" run "$T/x.json" --db "$T/a.db" >"$T/a2.log" 2>&1
if grep -q "5 runs: 0 done now, 5 done before" "$T/a2.log" && [ "$(db_diff "$T/a.db" "$T/a.db")" = 0 ]; then
    pass "runner_resume_skips_done"
else
    fail "runner_resume_skips_done" "$(tail -n 2 "$T/a2.log")"
fi

feat=$(sqlite3 "$T/a.db" "SELECT count(*) || ' ' || min(n) || ' ' || max(n) || ' ' || min(dim) || ' ' ||
    sum(length(features) = 4 * n * dim) FROM sample_features" 2>&1)
if [ "$feat" = "$NRUNS 10 10 128 $NRUNS" ] &&
    [ "$(sqlite3 "$T/a.db" "SELECT count(*) FROM feature_references")" = 1 ]; then
    pass "runner_sample_features_rows"
else
    fail "runner_sample_features_rows" "runs, n, n, dim, sizes ok: $feat"
fi

# --- kill -9 in the middle of a run, then resume. The kill lands in whichever
# run is in progress when the poll sees its first rows (run 3 on a quiet
# machine; an earlier or later one under load, where a poll can miss a whole
# short run), so the check does not depend on the machine's speed.
"$LAZYDIT" run "$T/x.json" --db "$T/b.db" >"$T/b.log" 2>&1 &
pid=$!
caught=0 done_at_kill=0
for _ in $(seq 1 3000); do
    state=$(sqlite3 "$T/b.db" "SELECT (SELECT count(*) FROM runs WHERE status = 'done') || ' ' ||
        (SELECT count(*) FROM runs WHERE status = 'running') || ' ' ||
        (SELECT count(*) FROM module_rows WHERE run_id = (SELECT max(run_id) FROM runs WHERE status = 'running'))" 2>/dev/null)
    set -- $state
    if [ "${1:-0}" -ge 2 ] && [ "${2:-0}" = 1 ] && [ "${3:-0}" -gt 0 ]; then
        kill -9 "$pid" 2>/dev/null && caught=1 done_at_kill=$1
        break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.005
done
wait "$pid" 2>/dev/null
left=$(sqlite3 "$T/b.db" "SELECT group_concat(run_id || ':' || status, ' ') FROM runs")
want=""
for i in $(seq 1 "$done_at_kill"); do want="$want$i:done "; done
want="$want$((done_at_kill + 1)):running"
if [ "$caught" = 1 ] && [ "$left" = "$want" ]; then
    pass "runner_killed_mid_run (in run $((done_at_kill + 1)) of 5)"
else
    fail "runner_killed_mid_run" "caught=$caught runs after the kill: $left"
fi
"$LAZYDIT" run "$T/x.json" --db "$T/b.db" >"$T/b2.log" 2>&1
d=$(db_diff "$T/a.db" "$T/b.db")
if grep -q "5 runs: $((5 - done_at_kill)) done now, $done_at_kill done before" "$T/b2.log" && [ "$d" = 0 ] &&
    [ "$(db_counts "$T/b.db")" = "$(db_counts "$T/a.db")" ]; then
    pass "runner_resume_after_kill_equals_uninterrupted"
else
    fail "runner_resume_after_kill_equals_uninterrupted" "$d rows differ; counts $(db_counts "$T/b.db") vs $(db_counts "$T/a.db"); $(tail -n 1 "$T/b2.log")"
fi

# --- shards and merge
"$LAZYDIT" run "$T/x.json" --db "$T/s0.db" --shard 0/2 >"$T/s0.log" 2>&1
"$LAZYDIT" run "$T/x.json" --db "$T/s1.db" --shard 1/2 >"$T/s1.log" 2>&1
s0=$(sqlite3 "$T/s0.db" "SELECT group_concat(run_id, ',') FROM runs")
s1=$(sqlite3 "$T/s1.db" "SELECT group_concat(run_id, ',') FROM runs")
if [ "$s0" = "1,3,5" ] && [ "$s1" = "2,4" ]; then pass "runner_shards_partition"; else fail "runner_shards_partition" "shard 0: $s0, shard 1: $s1"; fi
"$LAZYDIT" merge "$T/m.db" "$T/s0.db" "$T/s1.db" >"$T/m.log" 2>&1
d1=$(db_diff "$T/a.db" "$T/m.db")
"$LAZYDIT" merge "$T/m.db" "$T/s1.db" "$T/s0.db" >"$T/m2.log" 2>&1
d2=$(db_diff "$T/a.db" "$T/m.db")
"$LAZYDIT" merge "$T/m_rev.db" "$T/s1.db" "$T/s0.db" >/dev/null 2>&1
d3=$(db_diff "$T/a.db" "$T/m_rev.db")
if [ "$d1" = 0 ] && [ "$d2" = 0 ] && [ "$d3" = 0 ] && grep -q "5 runs added" "$T/m.log" &&
    grep -q "0 runs added (0 replaced unfinished copies), 5 already there" "$T/m2.log" &&
    [ "$(db_counts "$T/m.db")" = "$(db_counts "$T/a.db")" ]; then
    pass "merge_equals_single_run_and_is_idempotent"
else
    fail "merge_equals_single_run_and_is_idempotent" "diffs $d1 $d2 $d3; $(cat "$T/m.log" "$T/m2.log")"
fi
# A database made before the feature tables existed (schema version 1 without
# them) merges in both roles: as an input its runs come without features; as
# the output it gains the tables.
cp "$T/s1.db" "$T/old_in.db"
cp "$T/s0.db" "$T/old_out.db"
for f in old_in old_out; do
    sqlite3 "$T/$f.db" "DROP TABLE sample_features; DROP TABLE feature_references"
done
"$LAZYDIT" merge "$T/mo.db" "$T/s0.db" "$T/old_in.db" >"$T/mo.log" 2>&1; r1=$?
"$LAZYDIT" merge "$T/old_out.db" "$T/s1.db" >"$T/mo2.log" 2>&1; r2=$?
f1=$(sqlite3 "$T/mo.db" "SELECT group_concat(run_id, ',') FROM (SELECT run_id FROM sample_features ORDER BY run_id)")
f2=$(sqlite3 "$T/old_out.db" "SELECT group_concat(run_id, ',') FROM (SELECT run_id FROM sample_features ORDER BY run_id)")
if [ "$r1$r2" = 00 ] && [ "$f1" = "1,3,5" ] && [ "$f2" = "2,4" ]; then
    pass "merge_database_without_feature_tables"
else
    fail "merge_database_without_feature_tables" "statuses $r1 $r2, features of runs '$f1' and '$f2'; $(cat "$T/mo.log" "$T/mo2.log")"
fi
# An unfinished run in a shard is not merged; a finished copy replaces an unfinished one.
cp "$T/s0.db" "$T/s0u.db"
sqlite3 "$T/s0u.db" "UPDATE runs SET status = 'running' WHERE run_id = 5"
"$LAZYDIT" merge "$T/mu.db" "$T/s0u.db" "$T/s1.db" >"$T/mu.log" 2>&1
"$LAZYDIT" merge "$T/mu.db" "$T/s0.db" >"$T/mu2.log" 2>&1
if grep -q "4 runs added (0 replaced unfinished copies), 0 already there, 1 unfinished left out" "$T/mu.log" &&
    grep -q "1 runs added" "$T/mu2.log" && [ "$(db_diff "$T/a.db" "$T/mu.db")" = 0 ]; then
    pass "merge_skips_unfinished_runs"
else
    fail "merge_skips_unfinished_runs" "$(cat "$T/mu.log" "$T/mu2.log")"
fi
before=$(db_dump_sum "$T/m.db")
"$LAZYDIT" sample --weights models/fmnist_dit.safetensors --n 2 --steps 3 --out "$T/o.npy" --quiet \
    --record "$T/other.db" --experiment other >"$T/o.log" 2>&1
expect_fail "merge_refuses_other_experiment" "other.db holds experiment 'other' but .*m.db holds 'runner_test'" \
    "$LAZYDIT" merge "$T/m.db" "$T/other.db"
cp "$T/s1.db" "$T/v2.db"
sqlite3 "$T/v2.db" "PRAGMA user_version = 2"
expect_fail "merge_refuses_other_schema_version" "v2.db: result database schema version 2, this lazydit reads and writes version 1" \
    "$LAZYDIT" merge "$T/m.db" "$T/s0.db" "$T/v2.db"
# A database of the same experiment from another config: same rows, another config hash.
cp "$T/s1.db" "$T/y.db"
sqlite3 "$T/y.db" "UPDATE meta SET value = '0123456789abcdef' WHERE key = 'config_sha256'"
expect_fail "merge_refuses_other_config" "come from different configs of experiment 'runner_test'" \
    "$LAZYDIT" merge "$T/m.db" "$T/y.db"
sed 's/"n_samples": 10/"n_samples": 11/' "$T/x.json" >"$T/y.json"
expect_fail "run_refuses_other_config" "made from another version of .*y.json" \
    "$LAZYDIT" run "$T/y.json" --db "$T/a.db"
if [ "$(db_dump_sum "$T/m.db")" = "$before" ]; then pass "merge_refusals_leave_output_intact"; else fail "merge_refusals_leave_output_intact" "m.db changed"; fi

# --- sample --record
n=$(sqlite3 "$T/other.db" "SELECT count(*) FROM runs WHERE status = 'done' AND experiment = 'other' AND steps = 3 AND
    n_samples = 2 AND policy = 'ddim' AND blas_core LIKE '%threads' AND threads >= 1 AND macs_all > 0 AND lazy_ratio = 0")
k=$(sqlite3 "$T/other.db" "SELECT count(*) FROM module_steps WHERE cos_mean IS NULL = (step = 0)")
if [ "$n" = 1 ] && [ "$k" = $((3 * L * 2)) ] && grep -q "recorded run 1" "$T/o.log"; then
    pass "sample_record_row_and_module_steps"
else
    fail "sample_record_row_and_module_steps" "runs ok $n, module_steps ok $k; $(cat "$T/o.log")"
fi
expect_fail "sample_record_other_experiment" "belongs to experiment 'other', not 'x'" \
    "$LAZYDIT" sample --weights models/fmnist_dit.safetensors --n 1 --steps 2 --out "$T/o2.npy" --quiet \
    --record "$T/other.db" --experiment x
expect_fail "sample_record_refuses_sweep_database" "a .lazydit run. database of experiment 'runner_test'" \
    "$LAZYDIT" sample --weights models/fmnist_dit.safetensors --n 1 --steps 2 --out "$T/o2.npy" --quiet \
    --record "$T/m.db"

# --- read-only directory: a new database and an existing one. As root, a
# read-only tmpfs (root ignores directory permissions); if mounting is not
# allowed, the commands run as nobody in a directory without write permission.
sqlite3 "$T/a.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
RO=$T/ro
AS=()
ro_ready=0
mkdir -p "$RO"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=8m tmpfs "$RO" 2>/dev/null; then
    MOUNTS+=("$RO")
    cp "$T/a.db" "$T/x.json" "$T/s0.db" "$RO/"
    mount -o remount,ro "$RO" && ro_ready=1
else
    RO=$(mktemp -d /tmp/lazydit_ro.XXXXXX)
    cp "$T/a.db" "$T/x.json" "$T/s0.db" "$RO/"
    chmod 644 "$RO"/* && chmod 555 "$RO" && ro_ready=1
    if [ "$(id -u)" = 0 ]; then
        if command -v setpriv >/dev/null; then AS=(setpriv --reuid=65534 --regid=65534 --clear-groups); else ro_ready=0; fi
    fi
fi
RO_OUT=$(mktemp -d /tmp/lazydit_out.XXXXXX)
chmod 777 "$RO_OUT"
if [ "$ro_ready" = 1 ]; then
    sum=$(sha256sum <"$RO/a.db")
    expect_fail "readonly_dir_new_database" "ro[^ ]*/new.db: .*([Rr]ead-only|readonly|unable to open)" \
        "${AS[@]}" "$LAZYDIT" run "$RO/x.json" --db "$RO/new.db"
    expect_fail "readonly_dir_existing_database" "ro[^ ]*/a.db: .*([Rr]ead-only|readonly|unable to open)" \
        "${AS[@]}" "$LAZYDIT" run "$RO/x.json" --db "$RO/a.db"
    expect_fail "readonly_dir_sample_record" "ro[^ ]*/s.db: .*([Rr]ead-only|readonly|unable to open)" \
        "${AS[@]}" "$LAZYDIT" sample --weights "$PWD/models/fmnist_dit.safetensors" --n 1 --steps 2 --out "$RO_OUT/o3.npy" \
        --quiet --record "$RO/s.db"
    expect_fail "readonly_dir_merge_output" "ro[^ ]*/m.db: .*([Rr]ead-only|readonly|unable to open)" \
        "${AS[@]}" "$LAZYDIT" merge "$RO/m.db" "$RO/s0.db"
    # Inputs in a read-only directory merge fine (opened immutable).
    if "${AS[@]}" "$LAZYDIT" merge "$RO_OUT/m.db" "$RO/s0.db" >/dev/null 2>&1 &&
        [ "$(sqlite3 "$RO_OUT/m.db" "SELECT count(*) FROM runs")" = 3 ]; then
        pass "readonly_dir_merge_input"
    else
        fail "readonly_dir_merge_input" "could not merge a database from a read-only directory"
    fi
    if [ "$(sha256sum <"$RO/a.db")" = "$sum" ] && [ ! -e "$RO/new.db" ] && [ ! -e "$RO/m.db" ]; then
        pass "readonly_dir_database_intact"
    else
        fail "readonly_dir_database_intact" "the existing database changed or a new file appeared"
    fi
else
    fail "readonly_dir" "cannot make a read-only directory: root without mount permission and no setpriv"
fi
[ "$RO" != "$T/ro" ] && chmod 755 "$RO" && rm -rf "$RO"
rm -rf "$RO_OUT"

# --- full disk: a small tmpfs holding a database with finished runs, filled up
if [ "$(id -u)" = 0 ] && mkdir -p "$T/full" && mount -t tmpfs -o size=4m tmpfs "$T/full" 2>/dev/null; then
    MOUNTS+=("$T/full")
    "$LAZYDIT" run "$T/x.json" --db "$T/full/x.db" --shard 0/5 >/dev/null 2>&1  # run 1 only
    # Leave ~96 KB free: room to open the database and start the next run, not to finish it.
    dd if=/dev/zero of="$T/full/filler" bs=64k 2>/dev/null
    truncate -s -96K "$T/full/filler"
    expect_fail "full_disk_one_error_line" "full/x.db: .*(database or disk is full|disk I/O error)" \
        "$LAZYDIT" run "$T/x.json" --db "$T/full/x.db"
    ok=$(sqlite3 "$T/full/x.db" "PRAGMA integrity_check")
    r1=$(sqlite3 "$T/full/x.db" "SELECT group_concat(run_id || ':' || status, ' ') FROM runs WHERE status = 'done'")
    rm -f "$T/full/filler"
    if [ "$ok" = ok ] && [ "$r1" = "1:done" ]; then
        pass "full_disk_database_intact"
    else
        fail "full_disk_database_intact" "integrity: $ok; done runs: $r1"
    fi
    "$LAZYDIT" run "$T/x.json" --db "$T/full/x.db" >/dev/null 2>&1
    d=$(db_diff "$T/a.db" "$T/full/x.db")
    if [ "$d" = 0 ]; then pass "full_disk_then_resume_equals_uninterrupted"; else fail "full_disk_then_resume_equals_uninterrupted" "$d rows differ"; fi
else
    echo "# full-disk test skipped: it needs root to mount a small tmpfs (uid $(id -u))"
fi

# --- image metrics through the evaluation job equal lazydit eval on the same samples
cat >"$T/met.json" <<EOF
{"name": "metrics_test", "model": "models/fmnist_dit.safetensors", "n_samples": 160, "batch": 80, "steps": 4, "seed": 3,
 "metrics": {"compute": ["fid", "kid", "class_consistency", "is", "precision"], "bootstrap": 20, "per_sample": true,
             "sample_features": true, "cache_dir": "$CACHE"},
 "runs": [{"name": "ddim"}]}
EOF
"$LAZYDIT" run "$T/met.json" --db "$T/met.db" --quiet >"$T/met.log" 2>&1
"$LAZYDIT" sample --weights models/fmnist_dit.safetensors --n 160 --batch 80 --steps 4 --seed 3 --quiet \
    --out "$T/met.npy" >/dev/null 2>&1
"$LAZYDIT" eval --samples "$T/met.npy" --labels "$T/met_labels.npy" --cache-dir "$CACHE" --json >"$T/met_eval.json" 2>/dev/null
ok=$(sqlite3 "$T/met.db" "SELECT name || '=' || printf('%.17g', value) || ' ' ||
        (ci_low IS NOT NULL AND ci_low <= value AND value <= ci_high OR name IN ('is', 'precision'))
        FROM metrics ORDER BY name" | "${PYTHON:-python3}" -c '
import json, sys
ev = json.load(open(sys.argv[1]))
key = {"fid": "fid", "kid": "kid_mean", "class_consistency": "class_consistency", "is": "is_mean", "precision": "precision"}
bad, rows = [], [l for l in sys.stdin.read().split("\n") if l]
for line in rows:
    nv, ci = line.split(" ")
    name, v = nv.split("=")
    if abs(float(v) - ev[key[name]]) > 1e-9 * max(1.0, abs(ev[key[name]])) or ci != "1":
        bad.append(f"{name} {v} vs {ev[key[name]]} (interval ok {ci})")
print("ok" if len(rows) == 5 and not bad else "; ".join(bad) or f"{len(rows)} metric rows")
' "$T/met_eval.json" 2>&1)
per=$(sqlite3 "$T/met.db" "SELECT count(*) FROM sample_metrics WHERE name = 'predicted_label'")
if [ "$ok" = ok ] && [ "$per" = 160 ]; then
    pass "runner_metrics_equal_lazydit_eval"
else
    fail "runner_metrics_equal_lazydit_eval" "$ok; $per predicted labels; $(tail -n 2 "$T/met.log")"
fi

# The stored features and reference fit give back the run's fid: recomputed
# with the library (tests/features_fid.c, built like the test binaries) to
# 1e-9 relative, on the sweep's 5 runs and on this run; and independently
# with numpy from the documented blob layout, to 1e-6 only: the reference
# covariance has near-zero eigenvalues (dead ReLU units), whose square roots
# differ by ~sqrt(eps) between two eigensolvers.
lib="${LAZYDIT_BUILD:-build}/liblazydit.a"
san=()
grep -qa __asan_init "$lib" 2>/dev/null && san=(-fsanitize=address,undefined)
blas_inc=$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
# shellcheck disable=SC2086
if "${CC:-cc}" -std=c11 -O1 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -I. $blas_inc "${san[@]}" \
    tests/features_fid.c "$lib" -o "$T/features_fid" -lopenblas -lsqlite3 -lcjson -lpng -lz -lm -lpthread 2>"$T/cc.log"; then
    c1=$("$T/features_fid" "$T/a.db" 2>&1)
    c2=$("$T/features_fid" "$T/met.db" 2>&1)
else
    c1="cannot build tests/features_fid.c: $(head -c 300 "$T/cc.log")"
    c2=
fi
if [ "$c1" = "$NRUNS ok" ] && [ "$c2" = "1 ok" ]; then
    pass "runner_sample_features_give_back_fid"
else
    fail "runner_sample_features_give_back_fid" "$c1; $c2"
fi
fid_check=$("${PYTHON:-python3}" - "$T/met.db" <<'PY' 2>&1
import sqlite3, sys
import numpy as np
db = sqlite3.connect(sys.argv[1])
bad, k = [], 0
for run_id, n, d, blob, mu, sigma, fid in db.execute(
        "SELECT s.run_id, s.n, s.dim, s.features, r.mu, r.sigma, m.value FROM sample_features s "
        "JOIN feature_references r USING (reference) JOIN metrics m ON m.run_id = s.run_id AND m.name = 'fid'"):
    x = np.frombuffer(blob, dtype="<f4").reshape(n, d).astype(np.float64)
    mu1 = np.frombuffer(mu, dtype="<f8")
    s1 = np.frombuffer(sigma, dtype="<f8").reshape(d, d)
    mu2, s2 = x.mean(0), np.cov(x, rowvar=False)
    lam, v = np.linalg.eigh(s1)
    lam = np.clip(lam, 0, None)
    m = np.sqrt(lam)[:, None] * (v.T @ s2 @ v) * np.sqrt(lam)[None, :]
    ev = np.clip(np.linalg.eigvalsh(0.5 * (m + m.T)), 0, None)
    got = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(ev).sum()
    k += 1
    if n != 160 or abs(got - fid) > 1e-6 * abs(fid):
        bad.append(f"run {run_id}: n {n}, fid {got!r} vs {fid!r}")
print("ok" if k == 1 and not bad else f"{k} runs; " + "; ".join(bad))
PY
)
if [ "$fid_check" = ok ]; then
    pass "runner_sample_features_blob_layout"
else
    fail "runner_sample_features_blob_layout" "$fid_check"
fi

# --- usage errors exit 2
"$LAZYDIT" run "$T/x.json" --db "$T/u.db" --shard 2/2 >/dev/null 2>&1; r1=$?
"$LAZYDIT" run "$T/x.json" >/dev/null 2>&1; r2=$?
"$LAZYDIT" merge "$T/u.db" >/dev/null 2>&1; r3=$?
"$LAZYDIT" merge --force "$T/u.db" "$T/a.db" >/dev/null 2>&1; r4=$?
if [ "$r1$r2$r3$r4" = 2222 ] && [ ! -e "$T/u.db" ]; then pass "run_merge_usage_errors_exit_2"; else fail "run_merge_usage_errors_exit_2" "statuses $r1 $r2 $r3 $r4"; fi
