#!/usr/bin/env bash
# Faults in long work: `lazydit train`, `lazydit sample` and `lazydit run`
# killed with SIGKILL at random points (several times each) never leave a
# half-written output, the next run leaves no temporary behind, and training
# and sweeps resumed after the kills end equal to an uninterrupted run. A full
# disk (a small tmpfs this test mounts; `ulimit -f` when mounting is not
# permitted) and a read-only output directory (the tmpfs remounted read-only;
# an unprivileged user when mounting is not permitted) give one-line errors and
# leave existing outputs intact.
cd "$(dirname "$0")/.."
. tests/shell_lib.sh
L=${LAZYDIT:-build/lazydit}
PY=${PYTHON:-/usr/bin/python3}
T=${TEST_TMP:-$(mktemp -d)}/faults
rm -rf "$T" && mkdir -p "$T"
MNT="$T/mnt"
mounted=0
cleanup() { [ "$mounted" = 1 ] && umount "$MNT" 2>/dev/null; }
trap cleanup EXIT
RANDOM=$$  # random kill points, different in every run; printed on failure

temps_in() { find "$@" -name '.*.tmp.*' 2>/dev/null | head -n 3 | tr '\n' ' '; }

# --- a tiny training run ------------------------------------------------------
"$PY" - "$T" <<'PY'
import json, sys
import numpy as np
T = sys.argv[1]
rng = np.random.default_rng(0)
np.save(f"{T}/x.npy", rng.uniform(-1, 1, size=(16, 1, 8, 8)).astype(np.float32))
np.save(f"{T}/y.npy", (np.arange(16) % 2).astype(np.int64))
def config(out, export, steps):
    return {"model": {"input_size": 8, "patch": 4, "in_channels": 1, "hidden": 16, "depth": 2, "heads": 2,
                      "num_classes": 2, "learn_sigma": True, "init_seed": 1},
            "data": {"images": f"{T}/x.npy", "labels": f"{T}/y.npy"},
            "train": {"steps": steps, "batch": 4, "lr": 1e-3, "ema_decay": 0.9, "seed": 3, "checkpoint_every": 2,
                      "log_every": 2},
            "out_dir": out, "export": export}
# One config for the reference and the killed run (the config text is part of
# the checkpoint): the reference's out_dir is moved aside after it finishes.
for name, out, steps in [("run", "run", 40), ("full", "mnt/run", 44)]:
    with open(f"{T}/{name}.json", "w") as f:
        json.dump(config(f"{T}/{out}", f"{T}/{out}/export.safetensors", steps), f)
PY
t0=$(date +%s%N)
"$L" train --config "$T/run.json" >/dev/null 2>&1 || fail "reference training" "exit $?"
ref_ms=$((($(date +%s%N) - t0) / 1000000))
mv "$T/run" "$T/ref"
[ "$ref_ms" -lt 50 ] && ref_ms=50

# Kill the same run at random points, checking what is on disk after each kill.
kills=0 torn=""
for k in 1 2 3 4 5; do
    "$L" train --config "$T/run.json" >/dev/null 2>&1 &
    pid=$!
    delay=$((RANDOM % ref_ms))
    sleep "$(printf '0.%03d' "$delay")" 2>/dev/null || sleep 0.1
    kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1))
    wait "$pid" 2>/dev/null
    # Whatever exists must be complete: the EMA weights load as a DiT and the
    # checkpoint is either absent or resumable (checked by the next start).
    if [ -f "$T/run/ema.safetensors" ] && ! "$L" info "$T/run/ema.safetensors" >/dev/null 2>&1; then
        torn="$torn ema after kill $k at ${delay}ms;"
    fi
    if [ -f "$T/run/loss.csv" ] && ! head -n 1 "$T/run/loss.csv" | grep -q '^step,loss'; then
        torn="$torn loss.csv header after kill $k;"
    fi
done
"$L" train --config "$T/run.json" >/dev/null 2>"$T/resume.err"
rc=$?
if [ "$rc" -ne 0 ]; then
    fail "train resumes after SIGKILLs" "exit $rc: $(head -n 2 "$T/resume.err")"
else
    pass "train resumes after $kills SIGKILLs at random points (run of ${ref_ms} ms)"
fi
[ -z "$torn" ] && pass "train: no half-written output after any kill" || fail "train: no half-written output" "$torn"
same=1
for f in checkpoint.safetensors ema.safetensors export.safetensors; do
    cmp -s "$T/ref/$f" "$T/run/$f" || same=0
done
[ "$same" = 1 ] && pass "train killed and resumed ends bit-identical to the uninterrupted run" ||
    fail "train resumed bit-identical" "checkpoint/ema/export differ from the uninterrupted run"
left=$(temps_in "$T/run")
[ -z "$left" ] && pass "train: no temporary left after the next run" || fail "train: temporaries left" "$left"
rows=$(tail -n +2 "$T/run/loss.csv" | cut -d, -f1 | tr '\n' ' ')
want=$(seq 2 2 40 | tr '\n' ' ')
[ "$rows" = "$want" ] && pass "train: loss.csv has each logged step once after kills" ||
    fail "train: loss.csv rows" "steps '$rows', want '$want'"

# --- train killed right after each file it publishes -------------------------------
# Deterministic where the kills above are random: LAZYDIT_FAULT_KILL_AFTER=k
# makes the process SIGKILL itself right after its k-th published file, so
# every point between two writes (the EMA file and the checkpoint of one step,
# the last checkpoint and the export) is hit once. Each killed run is resumed
# and must end bit-identical to the uninterrupted one.
points=0 diverged="" unresumed=""
for k in $(seq 1 200); do
    rm -rf "$T/run"
    LAZYDIT_FAULT_KILL_AFTER=$k "$L" train --config "$T/run.json" >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 0 ] && break  # fewer than k publishes: every point was covered
    if [ "$rc" -ne 137 ]; then
        unresumed="$unresumed point $k: exit $rc, not the injected SIGKILL;"
        continue
    fi
    points=$((points + 1))
    if ! "$L" train --config "$T/run.json" >/dev/null 2>"$T/resume.err"; then
        unresumed="$unresumed point $k: $(head -n 1 "$T/resume.err");"
        continue
    fi
    for f in checkpoint.safetensors ema.safetensors export.safetensors; do
        cmp -s "$T/ref/$f" "$T/run/$f" || diverged="$diverged $f after point $k;"
    done
done
if [ "$points" -ge 40 ] && [ -z "$unresumed" ]; then
    pass "train killed after each of its $points publishes resumes"
else
    fail "train killed after each publish resumes" "$points points;$unresumed"
fi
[ -z "$diverged" ] && pass "train killed after each publish ends bit-identical to the uninterrupted run" ||
    fail "train killed after each publish ends bit-identical" "$diverged"

# --- sample killed at random points ---------------------------------------------
W="$T/ref/export.safetensors"
# expect_fail, but progress lines ("resuming ...", "training ...") may precede the error line.
expect_fail_train() {
    local name=$1 pat=$2 out err rc
    shift 2
    out=$("$@" 2>&1 >/dev/null; echo "exit=$?")
    rc=${out##*exit=}
    err=$(printf '%s' "${out%exit=*}" | grep -v -E '^(resuming|training|step) ')
    if [ "$rc" -eq 0 ]; then
        fail "$name" "exit 0, expected failure"
    elif [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ]; then
        fail "$name" "expected one error line, got: $err"
    elif ! printf '%s' "$err" | grep -Eq -- "$pat"; then
        fail "$name" "error '$err' does not match /$pat/"
    else
        pass "$name"
    fi
}
S="$T/samples"
mkdir -p "$S"
"$L" sample --weights "$W" --n 4 --steps 5 --seed 1 --out "$S/o.npy" --png "$S/g.png" --quiet >/dev/null 2>&1
cp "$S/o.npy" "$T/old_o.npy"
cp "$S/o_labels.npy" "$T/old_labels.npy"
cp "$S/g.png" "$T/old_g.png"
t0=$(date +%s%N)
"$L" sample --weights "$W" --n 400 --steps 20 --seed 2 --out "$T/new_o.npy" --png "$T/new_g.png" --quiet \
    >/dev/null 2>&1
new_ms=$((($(date +%s%N) - t0) / 1000000))
[ "$new_ms" -lt 50 ] && new_ms=50
bad=""
for k in 1 2 3 4; do
    "$L" sample --weights "$W" --n 400 --steps 20 --seed 2 --out "$S/o.npy" --png "$S/g.png" --quiet >/dev/null 2>&1 &
    pid=$!
    delay=$((RANDOM % (new_ms + new_ms / 4)))
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    # Each output is the complete old file or the complete new one.
    for f in o.npy:old_o.npy:new_o.npy g.png:old_g.png:new_g.png; do
        IFS=: read -r out old new <<<"$f"
        cmp -s "$S/$out" "$T/$old" || cmp -s "$S/$out" "$T/$new" || bad="$bad $out after kill $k at ${delay}ms;"
    done
done
[ -z "$bad" ] && pass "sample: outputs complete (old or new) after 4 SIGKILLs at random points" ||
    fail "sample: outputs after kills" "$bad"
# And killed right after each of its published outputs in turn (sample, labels, grid).
points=0 bad=""
for k in 1 2 3 4; do
    cp "$T/old_o.npy" "$S/o.npy" && cp "$T/old_labels.npy" "$S/o_labels.npy" && cp "$T/old_g.png" "$S/g.png"
    LAZYDIT_FAULT_KILL_AFTER=$k "$L" sample --weights "$W" --n 400 --steps 20 --seed 2 --out "$S/o.npy" \
        --png "$S/g.png" --quiet >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 0 ] && break
    [ "$rc" -eq 137 ] || { bad="$bad point $k: exit $rc;"; continue; }
    points=$((points + 1))
    for f in o.npy:old_o.npy:new_o.npy o_labels.npy:old_labels.npy:new_o_labels.npy g.png:old_g.png:new_g.png; do
        IFS=: read -r out old new <<<"$f"
        cmp -s "$S/$out" "$T/$old" || cmp -s "$S/$out" "$T/$new" || bad="$bad $out after point $k;"
    done
done
[ "$points" -eq 3 ] && [ -z "$bad" ] && pass "sample: outputs complete (old or new) when killed after each of its 3 publishes" ||
    fail "sample: killed after each publish" "$points points;$bad"
"$L" sample --weights "$W" --n 400 --steps 20 --seed 2 --out "$S/o.npy" --png "$S/g.png" --quiet >/dev/null 2>&1
left=$(temps_in "$S")
cmp -s "$S/o.npy" "$T/new_o.npy" && [ -z "$left" ] && pass "sample: the next run completes and leaves no temporary" ||
    fail "sample: next run" "temporaries: $left"

# --- lazydit run killed at random points ----------------------------------------
# A tiny sweep (3 runs of 8 samples at 4-6 steps, per-row recording and a
# per-sample metric) killed several times, resumed each time: the database is
# never torn, the next run leaves no temporary or journal, and the final
# database equals an uninterrupted run's row for row (timings and host aside).
source tests/db_compare.sh
R="$T/sweep"
mkdir -p "$R/ref" "$R/kill"
cat >"$R/s.json" <<'EOF'
{"name": "faults", "model": "models/fmnist_dit.safetensors", "n_samples": 8, "batch": 4, "record_rows": true,
 "metrics": {"compute": ["psnr"], "per_sample": true},
 "runs": [{"name": "ddim", "steps": [4, 6]}, {"name": "fora", "policy": {"name": "fora", "interval": 2}, "steps": 6}]}
EOF
t0=$(date +%s%N)
"$L" run "$R/s.json" --db "$R/ref/a.db" >"$R/ref.log" 2>&1 || fail "run: reference sweep" "$(tail -n 2 "$R/ref.log")"
run_ms=$((($(date +%s%N) - t0) / 1000000))
[ "$run_ms" -lt 50 ] && run_ms=50
torn="" kills=0 points="" partial=0
for k in 1 2 3 4 5; do
    "$L" run "$R/s.json" --db "$R/kill/a.db" >"$R/kill$k.log" 2>&1 &
    pid=$!
    delay=$((RANDOM % run_ms))
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1)) && points="$points ${delay}ms"
    wait "$pid" 2>/dev/null
    if [ -f "$R/kill/a.db" ]; then
        ok=$(sqlite3 "$R/kill/a.db" "PRAGMA integrity_check" 2>&1)
        [ "$ok" = ok ] || torn="$torn after kill $k at ${delay}ms: $ok;"
        n=$(sqlite3 "$R/kill/a.db" "SELECT count(*) FROM runs WHERE status = 'done'" 2>/dev/null)
        [ "${n:-0}" -gt 0 ] && [ "${n:-0}" -lt 3 ] && partial=$((partial + 1))
    fi
done
"$L" run "$R/s.json" --db "$R/kill/a.db" >"$R/resume.log" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q "^3 runs: " "$R/resume.log"; then
    pass "run resumes after $kills SIGKILLs at random points (sweep of ${run_ms} ms; at$points; $partial mid-sweep)"
else
    fail "run resumes after SIGKILLs" "exit $rc: $(tail -n 2 "$R/resume.log")"
fi
[ -z "$torn" ] && pass "run: database passes integrity_check after every kill" || fail "run: torn database" "$torn"
d=$(db_diff "$R/ref/a.db" "$R/kill/a.db")
if [ "$d" = 0 ] && [ "$(db_counts "$R/kill/a.db")" = "$(db_counts "$R/ref/a.db")" ] &&
    [ "$(sqlite3 "$R/kill/a.db" "SELECT group_concat(status) FROM runs")" = "done,done,done" ]; then
    pass "run killed and resumed equals the uninterrupted sweep row for row ($(db_counts "$R/ref/a.db" | tr -s ' '))"
else
    fail "run killed and resumed equals uninterrupted" "$d rows differ (kills at$points); counts $(db_counts "$R/kill/a.db") vs $(db_counts "$R/ref/a.db")"
fi
left=$(temps_in "$R/kill"; find "$R/kill" -name '*-journal' -o -name '*-wal' -o -name '*-shm' | tr '\n' ' ')
[ -z "$(printf '%s' "$left" | tr -d ' ')" ] && pass "run: no temporary or journal left after the next run" ||
    fail "run: leftovers after the next run" "$left"

# --- full disk ----------------------------------------------------------------------
mkdir -p "$MNT"
if mount -t tmpfs -o size=600k tmpfs "$MNT" 2>/dev/null; then
    mounted=1
    mkdir -p "$MNT/run"
    cp "$T/ref/checkpoint.safetensors" "$T/ref/ema.safetensors" "$T/ref/loss.csv" "$MNT/run/"
    cp "$T/old_o.npy" "$MNT/o.npy"
    # Fill the disk but for a few KB: nothing new of any size fits.
    head -c $((600 * 1024)) /dev/zero >"$MNT/filler" 2>/dev/null
    expect_fail "full disk: sample gives one line naming the output" "$MNT/o.npy.*(No space|space left)" \
        "$L" sample --weights "$W" --n 400 --steps 2 --out "$MNT/o.npy" --quiet
    cmp -s "$MNT/o.npy" "$T/old_o.npy" && [ -z "$(temps_in "$MNT")" ] &&
        pass "full disk: existing sample output intact, no temporary" ||
        fail "full disk: sample output" "changed or temporaries: $(temps_in "$MNT")"
    expect_fail_train "full disk: train gives one line naming the file" "$MNT/run/.*(No space|space left)" \
        "$L" train --config "$T/full.json"
    cmp -s "$MNT/run/checkpoint.safetensors" "$T/ref/checkpoint.safetensors" &&
        cmp -s "$MNT/run/ema.safetensors" "$T/ref/ema.safetensors" && [ -z "$(temps_in "$MNT")" ] &&
        pass "full disk: checkpoint and EMA intact, no temporary" ||
        fail "full disk: training outputs" "changed or temporaries: $(temps_in "$MNT")"
    rm -f "$MNT/filler"
    # --- read-only output directory
    mount -o remount,ro "$MNT"
    expect_fail "read-only directory: sample gives one line" "$MNT.*(Read-only|cannot write)" \
        "$L" sample --weights "$W" --n 2 --steps 2 --out "$MNT/o.npy" --quiet
    expect_fail_train "read-only directory: train gives one line" "(Read-only|cannot write)" \
        "$L" train --config "$T/full.json"
    cmp -s "$MNT/o.npy" "$T/old_o.npy" && cmp -s "$MNT/run/checkpoint.safetensors" "$T/ref/checkpoint.safetensors" &&
        pass "read-only directory: existing outputs intact" || fail "read-only directory" "outputs changed"
else
    echo "# mount not permitted: full disk simulated with ulimit -f, read-only directory with an unprivileged user"
    D="$T/limited"
    mkdir -p "$D"
    cp "$T/old_o.npy" "$D/o.npy"
    err=$(trap '' XFSZ; ulimit -f 8; "$L" sample --weights "$W" --n 400 --steps 2 --out "$D/o.npy" --quiet 2>&1 >/dev/null)
    rc=$?
    [ "$rc" -eq 1 ] && [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] && cmp -s "$D/o.npy" "$T/old_o.npy" &&
        [ -z "$(temps_in "$D")" ] && pass "file size limit: one line, existing output intact" ||
        fail "file size limit" "exit $rc: $err"
    chmod 555 "$D"
    if command -v setpriv >/dev/null; then
        err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$L" sample --weights "$W" --n 2 --steps 2 \
            --out "$D/o.npy" --quiet 2>&1 >/dev/null)
        rc=$?
        [ "$rc" -eq 1 ] && printf '%s' "$err" | grep -q "cannot write" && cmp -s "$D/o.npy" "$T/old_o.npy" &&
            pass "read-only directory (unprivileged user): one line, output intact" ||
            fail "read-only directory (unprivileged user)" "exit $rc: $err"
    fi
    chmod 755 "$D"
fi
