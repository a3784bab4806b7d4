#!/usr/bin/env bash
# lazydit train-lazy / train-l2c / calibrate-gates on a tiny random DiT and
# synthetic 8x8 images: an interrupted and resumed training ends with the same
# gate file tensors as an uninterrupted one (and the same loss CSV), the gate
# file carries the format's metadata, calibration hits a requested lazy ratio
# within 2 points and records how (also for one module family, --modules),
# the rho search runs, `sample --policy lazydit` reproduces the recorded
# ratio, `experiments/lazy_gates.sh ablation` writes the module-ablation files
# and skips those that exist, and bad options give one-line errors.
set -u
source "$(dirname "$0")/shell_lib.sh"
PY=${PYTHON:-/usr/bin/python3}
T="$TEST_TMP/train_lazy_cli"
rm -rf "$T"
mkdir -p "$T"
"$PY" - "$T" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(0)
np.save(sys.argv[1] + "/images.npy", rng.integers(0, 256, size=(64, 1, 8, 8), dtype=np.uint8))
np.save(sys.argv[1] + "/labels.npy", rng.integers(0, 3, size=64).astype(np.int64))
PY
"$LAZYDIT" init --config DiT-S/2 --input-size 8 --in-channels 1 --classes 3 --learn-sigma --depth 2 --hidden 32 \
    --heads 2 --seed 4 --randomize-all --out "$T/dit.safetensors" 2>/dev/null || fail "init" "tiny DiT"
D=(--weights "$T/dit.safetensors" --images "$T/images.npy" --labels "$T/labels.npy")
# st_meta FILE KEY: a metadata value of a safetensors file.
st_meta() { head -c "$(($(od -An -tu8 -N8 "$1" | tr -d ' ') + 8))" "$1" | tail -c +9 | jq -r ".__metadata__.$2"; }
# The tensors of two safetensors files (header entries and data), metadata aside.
same_tensors() {
    "$PY" - "$1" "$2" <<'PY'
import json, struct, sys
def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n]); h.pop("__metadata__", None)
    return h, raw[8 + n:]
sys.exit(0 if load(sys.argv[1]) == load(sys.argv[2]) else 1)
PY
}

# --- resume: 12 iterations straight vs 5 + 4 + 3
common=("${D[@]}" --steps 6 --iterations 12 --batch 8 --lr 1e-3 --rho 1e-3 --checkpoint-every 4 --log-every 100)
"$LAZYDIT" train-lazy "${common[@]}" --out-dir "$T/full" 2>"$T/full.log" || fail "uninterrupted run" "$(tail -1 "$T/full.log")"
"$LAZYDIT" train-lazy "${common[@]}" --out-dir "$T/parts" --stop-after 5 2>"$T/p1.log" || fail "part 1" "$(tail -1 "$T/p1.log")"
"$LAZYDIT" train-lazy "${common[@]}" --out-dir "$T/parts" --stop-after 4 2>"$T/p2.log" || fail "part 2" "$(tail -1 "$T/p2.log")"
grep -q "resuming .* at iteration 5" "$T/p2.log" && pass "train-lazy: the second invocation resumes at iteration 5" ||
    fail "train-lazy: resume" "$(head -2 "$T/p2.log")"
"$LAZYDIT" train-lazy "${common[@]}" --out-dir "$T/parts" 2>"$T/p3.log" || fail "part 3" "$(tail -1 "$T/p3.log")"
same_tensors "$T/full/gates.safetensors" "$T/parts/gates.safetensors" &&
    same_tensors "$T/full/checkpoint.safetensors" "$T/parts/checkpoint.safetensors" &&
    pass "train-lazy: 5 + 4 + 3 iterations end bit-identical to 12 (gates, AdamW moments and counts)" ||
    fail "train-lazy: resumed run bit-identical" "tensors differ"
strip() { cut -d, -f1-8 "$1"; }
diff <(strip "$T/full/loss.csv") <(strip "$T/parts/loss.csv") >/dev/null &&
    [ "$(($(wc -l <"$T/full/loss.csv") - 1))" -eq 12 ] &&
    pass "train-lazy: loss CSV (iteration, step, loss, mse, laziness terms, ratios) equal after resume, one row per iteration" ||
    fail "train-lazy: loss CSV after resume" "$(diff <(strip "$T/full/loss.csv") <(strip "$T/parts/loss.csv") | head -3)"
expect_fail "train-lazy: resuming with another rho is refused, naming it" "rho_attn was 0.001, now 0.002" \
    "$LAZYDIT" train-lazy "${common[@]}" --rho-attn 2e-3 --out-dir "$T/parts"

# --- killed right after each file it publishes (LAZYDIT_FAULT_KILL_AFTER=k:
# SIGKILL right after the k-th published file), then resumed: every point
# between two writes is hit once and each run ends as the uninterrupted one.
points=0 bad=""
for k in $(seq 1 50); do
    rm -rf "$T/killed"
    LAZYDIT_FAULT_KILL_AFTER=$k "$LAZYDIT" train-lazy "${common[@]}" --out-dir "$T/killed" >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 0 ] && break
    [ "$rc" -eq 137 ] || { bad="$bad point $k: exit $rc;"; continue; }
    points=$((points + 1))
    "$LAZYDIT" train-lazy "${common[@]}" --out-dir "$T/killed" >/dev/null 2>"$T/killed.err" ||
        { bad="$bad point $k: $(head -n 1 "$T/killed.err");"; continue; }
    same_tensors "$T/full/gates.safetensors" "$T/killed/gates.safetensors" &&
        same_tensors "$T/full/checkpoint.safetensors" "$T/killed/checkpoint.safetensors" ||
        bad="$bad point $k: tensors differ;"
done
[ "$points" -ge 4 ] && [ -z "$bad" ] &&
    pass "train-lazy: killed after each of its $points publishes, resumed, ends bit-identical to the uninterrupted run" ||
    fail "train-lazy: killed after each publish" "$points points;$bad"

# --- the gate file's metadata
g="$T/full/gates.safetensors"
sha=$(sha256sum "$T/dit.safetensors" | cut -d' ' -f1)
[ "$(st_meta "$g" steps)" = 6 ] && [ "$(st_meta "$g" respacing)" = 6 ] && [ "$(st_meta "$g" model_sha256)" = "$sha" ] &&
    [ "$(st_meta "$g" rho_attn)" = 0.001 ] && [ "$(st_meta "$g" threshold)" = 0.5 ] &&
    [ "$(st_meta "$g" calibration)" = none ] && [ "$(st_meta "$g" training | jq .iterations)" = 12 ] &&
    pass "gate file metadata: steps, respacing, model sha256, rho, threshold, calibration, training options" ||
    fail "gate file metadata" "$(tail -c +9 "$g" | head -c 900)"
"$PY" - "$g" <<'PY' && pass "gate tensors attn, mlp are float32 (steps, blocks, hidden) = (6, 2, 32)" || fail "gate tensor shapes" "see above"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
h = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
ok = all(h[k]["dtype"] == "F32" and h[k]["shape"] == [6, 2, 32] for k in ("attn", "mlp")) and len(h) == 3
sys.exit(0 if ok else 1)
PY

# --- calibration to a target ratio, and the measurement
C=(--weights "$T/dit.safetensors" --calib-samples 24 --calib-batch 12)
"$LAZYDIT" calibrate-gates "${C[@]}" --gates "$g" --target-ratio 0.15,0.3 --out "$T/g{r}.safetensors" 2>"$T/cal.log" ||
    fail "calibrate-gates" "$(tail -1 "$T/cal.log")"
r15=$(st_meta "$T/g15.safetensors" realised_ratio)
awk -v r="$r15" 'BEGIN { exit !(r >= 0.13 && r <= 0.17) }' &&
    pass "calibrate-gates --target-ratio 0.15,0.3: one file per target ({r} in --out), 0.15 realised $r15" ||
    fail "calibrate-gates two targets" "realised $r15; $(tail -2 "$T/cal.log")"
real=$(st_meta "$T/g30.safetensors" realised_ratio)
awk -v r="$real" 'BEGIN { exit !(r >= 0.28 && r <= 0.32) }' && [ "$(st_meta "$T/g30.safetensors" calibration)" = threshold ] &&
    [ "$(st_meta "$T/g30.safetensors" target_ratio)" = 0.29999999999999999 ] &&
    [ "$(st_meta "$T/g30.safetensors" calibration_samples)" = 24 ] && [ "$(st_meta "$T/g30.safetensors" calibration_seed)" = 1 ] &&
    pass "calibrate-gates --target-ratio 0.3: realised $real within 2 points, method/target/samples/seed recorded" ||
    fail "calibrate-gates --target-ratio 0.3" "realised $real; $(tail -2 "$T/cal.log")"
"$LAZYDIT" sample --weights "$T/dit.safetensors" --policy lazydit --gates "$T/g30.safetensors" --steps 6 --n 24 \
    --seed 1 --batch 12 --quiet --out "$T/m.npy" --json-summary "$T/m.json" >/dev/null 2>"$T/m.log"
m=$(jq '.lazy_ratio.both' "$T/m.json" 2>/dev/null)
awk -v a="$m" -v b="$real" 'BEGIN { d = a - b; exit !(a != "" && d < 1e-9 && d > -1e-9) }' &&
    pass "sample --policy lazydit on the calibration samples reproduces the recorded ratio ($real)" ||
    fail "sample --policy lazydit reproduces the recorded ratio" "$m vs $real; $(tail -1 "$T/m.log")"
[ "$(st_meta "$T/g30.safetensors" modules)" = both ] && pass "calibrate-gates without --modules records modules = both" ||
    fail "calibrate-gates records modules" "modules = '$(st_meta "$T/g30.safetensors" modules)'"

# --- one module family (the module ablation): --modules attn / mlp calibrates that family's ratio
# ratio_ok FILE.json FAMILY TARGET TOL OTHER: lazy_ratio.FAMILY within TOL of TARGET, lazy_ratio.OTHER exactly 0,
# and the overall ratio half the family's (the family holds half of the slots).
ratio_ok() {
    jq -e --arg f "$2" --arg o "$5" --argjson t "$3" --argjson tol "$4" \
        '.lazy_ratio as $r | ($r[$f] - $t | fabs) <= $tol and $r[$o] == 0 and ($r.both - $r[$f] / 2 | fabs) < 1e-12' \
        "$1" >/dev/null 2>&1
}
CA=(--weights "$T/dit.safetensors" --calib-samples 96 --calib-batch 48)
S=(--weights "$T/dit.safetensors" --policy lazydit --steps 6 --batch 48 --quiet --out "$T/ma.npy")
"$LAZYDIT" calibrate-gates "${CA[@]}" --gates "$g" --modules attn --target-ratio 0.3 --out "$T/ga30.safetensors" \
    2>"$T/cala.log" || fail "calibrate-gates --modules attn" "$(tail -1 "$T/cala.log")"
ra=$(st_meta "$T/ga30.safetensors" realised_ratio)
"$LAZYDIT" sample "${S[@]}" --modules attn --gates "$T/ga30.safetensors" --n 96 --seed 1 --json-summary "$T/ma1.json" \
    >/dev/null 2>"$T/ma1.log"
[ "$(st_meta "$T/ga30.safetensors" modules)" = attn ] && ratio_ok "$T/ma1.json" attn "$ra" 1e-12 mlp &&
    ratio_ok "$T/ma1.json" attn 0.3 0.02 mlp &&
    pass "calibrate-gates --modules attn 0.3: attention ratio $ra (recorded, modules = attn) reproduced by sample --modules attn on the calibration samples, MLP ratio 0" ||
    fail "calibrate-gates --modules attn" "recorded $ra, modules $(st_meta "$T/ga30.safetensors" modules), measured $(jq -c .lazy_ratio "$T/ma1.json" 2>&1); $(tail -1 "$T/ma1.log")"
"$LAZYDIT" sample "${S[@]}" --modules attn --gates "$T/ga30.safetensors" --n 96 --seed 0 --json-summary "$T/ma0.json" \
    >/dev/null 2>"$T/ma0.log"
ratio_ok "$T/ma0.json" attn 0.3 0.02 mlp &&
    pass "--modules attn 0.3 file on 96 evaluation samples (seed 0): attention ratio $(jq .lazy_ratio.attn "$T/ma0.json") within 2 points, MLP 0" ||
    fail "--modules attn file on evaluation samples" "$(jq -c .lazy_ratio "$T/ma0.json" 2>&1); $(tail -1 "$T/ma0.log")"
"$LAZYDIT" calibrate-gates "${CA[@]}" --gates "$g" --modules mlp --target-ratio 0.5 --out "$T/gm50.safetensors" \
    2>"$T/calm.log" || fail "calibrate-gates --modules mlp" "$(tail -1 "$T/calm.log")"
"$LAZYDIT" sample "${S[@]}" --modules mlp --gates "$T/gm50.safetensors" --n 96 --seed 1 --json-summary "$T/mm1.json" \
    >/dev/null 2>"$T/mm1.log"
[ "$(st_meta "$T/gm50.safetensors" modules)" = mlp ] && ratio_ok "$T/mm1.json" mlp 0.5 0.02 attn &&
    ratio_ok "$T/mm1.json" mlp "$(st_meta "$T/gm50.safetensors" realised_ratio)" 1e-12 attn &&
    pass "calibrate-gates --modules mlp 0.5: MLP ratio $(jq .lazy_ratio.mlp "$T/mm1.json") as recorded, attention ratio 0" ||
    fail "calibrate-gates --modules mlp" "$(jq -c .lazy_ratio "$T/mm1.json" 2>&1); $(tail -1 "$T/calm.log")"
# Another family than the file's is allowed; sample notes it.
"$LAZYDIT" sample "${S[@]}" --gates "$T/ga30.safetensors" --n 12 --seed 1 --json-summary "$T/mb.json" >/dev/null \
    2>"$T/mb.log" && grep -q "note: .*ga30.safetensors: threshold calibrated for --modules attn .* used with --modules both" \
    "$T/mb.log" && jq -e '.lazy_ratio.mlp > 0' "$T/mb.json" >/dev/null &&
    pass "an attn-calibrated file runs with --modules both, with a note naming the family" ||
    fail "attn file with --modules both" "$(cat "$T/mb.log")"
"$LAZYDIT" calibrate-gates --gates "$g" --modules attention --target-ratio 0.3 --out "$T/x.safetensors" 2>"$T/bad.log" >/dev/null
rc=$?
[ "$rc" = 2 ] && [ "$(grep -c . "$T/bad.log")" = 1 ] &&
    grep -q "^lazydit calibrate-gates: --modules 'attention': expected attn, mlp or both" "$T/bad.log" &&
    pass "calibrate-gates --modules attention: usage error (exit 2, one line)" ||
    fail "calibrate-gates bad --modules" "exit $rc: $(cat "$T/bad.log")"

# experiments/lazy_gates.sh ablation K on a stand-in repository (the tiny DiT as the default model).
R="$T/root"
mkdir -p "$R/models" "$R/results/gates/lazydit_k6"
cp "$T/dit.safetensors" "$R/models/fmnist_dit.safetensors"
cp "$g" "$R/results/gates/lazydit_k6/gates.safetensors"
ablate() {
    LAZYDIT_ROOT="$R" LAZYDIT_BIN="$LAZYDIT" RATIOS="0.2 0.4" MODULES="attn mlp" \
        bash "$(dirname "$0")/../experiments/lazy_gates.sh" ablation 6 >"$T/abl.log" 2>&1
}
ablate
ok=1
for m in attn mlp; do
    for rr in 20 40; do
        f="$R/models/gates/lazydit_${m}_k6_r$rr.safetensors"
        [ -f "$f" ] && [ "$(st_meta "$f" modules)" = "$m" ] &&
            awk -v r="$(st_meta "$f" realised_ratio)" -v t="0.$rr" 'BEGIN { exit !(r - t <= 0.02 && t - r <= 0.02) }' || ok=0
    done
done
# A second run redoes only the file that was deleted (one calibration, one target) and leaves the others alone.
rm "$R/models/gates/lazydit_mlp_k6_r40.safetensors"
others() { stat -c '%n %y %s' "$R"/models/gates/lazydit_{attn_k6_r20,attn_k6_r40,mlp_k6_r20}.safetensors; }
before=$(others)
ablate
after=$(others)
[ "$ok" = 1 ] && [ -f "$R/models/gates/lazydit_mlp_k6_r40.safetensors" ] && [ "$after" = "$before" ] &&
    [ "$(grep -c '^calibrate: target' "$T/abl.log")" = 1 ] && grep -q '^calibrate: target 0.4000 .*(mlp)' "$T/abl.log" &&
    pass "lazy_gates.sh ablation: lazydit_{attn,mlp}_k6_r{20,40} within 2 points, modules recorded; only a missing file is redone" ||
    fail "lazy_gates.sh ablation" "ok=$ok; $(tail -3 "$T/abl.log")"

expect_fail "calibrate-gates: a calibration seed sharing noise with evaluation seed 0 is refused" \
    "share noise with the first 100000 evaluation samples" \
    "$LAZYDIT" calibrate-gates "${C[@]}" --gates "$g" --target-ratio 0.3 --out "$T/x.safetensors" --calib-seed 0

# --- train-l2c and the router calibration
"$LAZYDIT" train-l2c "${D[@]}" --steps 6 --iterations 9 --batch 8 --lr 5e-2 --lambda 1e-3 --out-dir "$T/l2c" \
    --target-ratio 0.25 --calib-samples 12 --calib-batch 12 2>"$T/l2c.log" || fail "train-l2c" "$(tail -1 "$T/l2c.log")"
r=$T/l2c/router.safetensors
"$PY" - "$r" <<'PY' && pass "train-l2c writes a router (attn, mlp (6, 2)) calibrated within 2 points of 0.25" ||
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
h = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
m = h["__metadata__"]
ok = h["attn"]["shape"] == [6, 2] and h["mlp"]["shape"] == [6, 2] and m["format"] == "l2c-router"
ok = ok and abs(float(m["realised_ratio"]) - 0.25) <= 0.02 and m["calibration"] == "threshold"
sys.exit(0 if ok else 1)
PY
    fail "train-l2c router" "$(tail -2 "$T/l2c.log")"

# --- rho search (short): runs, and the file records the method
"$LAZYDIT" train-lazy "${D[@]}" --steps 6 --iterations 8 --batch 8 --lr 1e-3 --out-dir "$T/search" --target-ratio 0.3 \
    --rho-search 1e-5,1e-1 --search-rounds 2 --search-iterations 4 --calib-samples 12 --calib-batch 12 2>"$T/s.log" ||
    fail "rho search" "$(tail -1 "$T/s.log")"
[ "$(st_meta "$T/search/gates.safetensors" calibration)" = "rho+threshold" ] &&
    [ "$(($(wc -l <"$T/search/rho_search.csv") - 1))" -eq 2 ] &&
    pass "--rho-search: two search trainings logged, final file calibrated by rho+threshold" ||
    fail "--rho-search" "$(tail -2 "$T/s.log")"

# --- option errors
expect_fail "train-lazy: --steps 1 is refused" "--steps 1" "$LAZYDIT" train-lazy "${D[@]}" --steps 1 --out-dir "$T/e"
expect_fail "train-lazy: --target-ratio 1.5 is refused" "--target-ratio '1.5': expected" \
    "$LAZYDIT" train-lazy "${D[@]}" --target-ratio 1.5 --out-dir "$T/e"
expect_fail "train-lazy: --rho-search without a target is refused" "--rho-search needs --target-ratio" \
    "$LAZYDIT" train-lazy "${D[@]}" --rho-search 1e-6,1e-3 --out-dir "$T/e"
expect_fail "train-lazy: a respacing that keeps another step count is refused" "keeps 5 steps but --steps is 6" \
    "$LAZYDIT" train-lazy "${D[@]}" --steps 6 --respacing 5 --out-dir "$T/e"
expect_fail "calibrate-gates: several targets need {r} in --out" "need \\{r\\} in the file name" \
    "$LAZYDIT" calibrate-gates --gates "$g" --target-ratio 0.2,0.3 --out "$T/x.safetensors"
expect_fail "calibrate-gates: --gates and --router together are refused" "exactly one of --gates and --router" \
    "$LAZYDIT" calibrate-gates --gates "$g" --router "$r" --target-ratio 0.3 --out "$T/x.safetensors"
expect_fail "calibrate-gates: a router given as --gates names the file" "router.safetensors: .*not a gates file" \
    "$LAZYDIT" calibrate-gates --weights "$T/dit.safetensors" --gates "$r" --target-ratio 0.3 --out "$T/x.safetensors"
