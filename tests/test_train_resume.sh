#!/usr/bin/env bash
# Training: an interrupted and resumed run ends bit-identical to an
# uninterrupted one; the loss CSV is consistent after resume; bad configs give
# one-line errors.
source "$(dirname "$0")/shell_lib.sh"
T=$TEST_TMP/train_resume
rm -rf "$T"
mkdir -p "$T"
"$PYTHON" - "$T" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(0)
np.save(sys.argv[1] + "/images.npy", rng.integers(0, 256, size=(48, 1, 8, 8), dtype=np.uint8))
np.save(sys.argv[1] + "/labels.npy", rng.integers(0, 3, size=48).astype(np.int64))
PY
config() {  # out_dir
    cat <<JSON
{
  "model": {"input_size": 8, "patch": 2, "in_channels": 1, "hidden": 16, "depth": 2, "heads": 2,
            "num_classes": 3, "learn_sigma": true, "init_seed": 5},
  "data": {"images": "$T/images.npy", "labels": "$T/labels.npy"},
  "train": {"steps": 10, "batch": 8, "lr": 1e-3, "lr_warmup": 3, "ema_decay": 0.9, "ema_warmup": true,
            "grad_clip": 1.0, "seed": 7, "checkpoint_every": 4, "log_every": 1},
  "out_dir": "$1"
}
JSON
}
config "$T/full" >"$T/full.json"
config "$T/parts" >"$T/parts.json"
"$LAZYDIT" train --config "$T/full.json" 2>"$T/full.log" || fail "uninterrupted run" "$(tail -1 "$T/full.log")"
"$LAZYDIT" train --config "$T/parts.json" --stop-after 3 2>"$T/p1.log" || fail "first part" "$(tail -1 "$T/p1.log")"
"$LAZYDIT" train --config "$T/parts.json" --stop-after 4 2>"$T/p2.log" || fail "second part" "$(tail -1 "$T/p2.log")"
grep -q "resuming .* at step 3" "$T/p2.log" && pass "second invocation resumes at step 3" ||
    fail "second invocation resumes at step 3" "$(head -2 "$T/p2.log")"
"$LAZYDIT" train --config "$T/parts.json" 2>"$T/p3.log" || fail "third part" "$(tail -1 "$T/p3.log")"
# The files differ in their metadata (the config text names its out_dir), so
# compare the tensors: header entries and the whole data section, byte for byte.
same_tensors() {
    "$PYTHON" - "$1" "$2" <<'PY'
import json, struct, sys
def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n]); h.pop("__metadata__", None)
    return h, raw[8 + n:]
a, b = load(sys.argv[1]), load(sys.argv[2])
sys.exit(0 if a == b else 1)
PY
}
same_tensors "$T/full/checkpoint.safetensors" "$T/parts/checkpoint.safetensors" &&
    pass "resumed run (3 + 4 + 3 steps) ends bit-identical to an uninterrupted 10-step run (weights, EMA, moments)" ||
    fail "resumed run ends bit-identical to an uninterrupted run" "checkpoints differ"
same_tensors "$T/full/ema.safetensors" "$T/parts/ema.safetensors" && pass "EMA weights bit-identical after resume" ||
    fail "EMA weights bit-identical after resume" "ema.safetensors differ"
# loss curves agree except for the timing columns
strip() { cut -d, -f1-6 "$1"; }
diff <(strip "$T/full/loss.csv") <(strip "$T/parts/loss.csv") >/dev/null &&
    pass "loss CSV after resume equals the uninterrupted one (step, loss, mse, vb, grad norm, lr)" ||
    fail "loss CSV after resume" "$(diff <(strip "$T/full/loss.csv") <(strip "$T/parts/loss.csv") | head -3)"
rows=$(($(wc -l <"$T/full/loss.csv") - 1))
[ "$rows" -eq 10 ] && pass "loss CSV has one row per logged step" || fail "loss CSV rows" "$rows rows"
# the loss must go down on this tiny set (lr 1e-3, 10 steps): first vs last logged loss
first=$(sed -n 2p "$T/full/loss.csv" | cut -d, -f2)
last=$(tail -1 "$T/full/loss.csv" | cut -d, -f2)
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }' && pass "training lowers the loss ($first -> $last)" ||
    fail "training lowers the loss" "$first -> $last"
"$LAZYDIT" info "$T/full/ema.safetensors" | grep -q "hidden          16, depth 2, heads 2" &&
    pass "exported EMA weights load as a DiT" || fail "exported EMA weights load as a DiT" "info failed"

# A different seed must refuse to resume someone else's checkpoint.
sed 's/"seed": 7/"seed": 8/' "$T/parts.json" >"$T/other.json"
expect_fail "resume refuses a checkpoint of another seed" "seed" "$LAZYDIT" train --config "$T/other.json"
# Config validation: unknown key, wrong type, out of range, missing key.
sed 's/"lr": 1e-3/"lr": 1e-3, "learning_rate": 1/' "$T/full.json" >"$T/bad1.json"
expect_fail "config: unknown key is an error" "bad1.json: train: unknown key \"learning_rate\"" "$LAZYDIT" train --config "$T/bad1.json"
sed 's/"batch": 8/"batch": 8.5/' "$T/full.json" >"$T/bad2.json"
expect_fail "config: non-integer batch is an error" "\"batch\" must be an integer" "$LAZYDIT" train --config "$T/bad2.json"
sed 's/"lr": 1e-3/"lr": 5/' "$T/full.json" >"$T/bad3.json"
expect_fail "config: out-of-range lr is an error" "\"lr\" = 5 outside" "$LAZYDIT" train --config "$T/bad3.json"
sed 's/"seed": 7, //' "$T/full.json" >"$T/bad4.json"
expect_fail "config: missing seed is an error" "missing required key \"seed\"" "$LAZYDIT" train --config "$T/bad4.json"
sed 's/"heads": 2/"heads": 3/' "$T/full.json" >"$T/bad5.json"
expect_fail "config: hidden not divisible by heads" "not divisible" "$LAZYDIT" train --config "$T/bad5.json"

# The diffusion schedule travels with the weights: trained with cosine 500,
# the exported EMA says so, `info` prints it and `sample` uses it (a 600-step
# run exceeds it). A file with an unknown schedule in its metadata is refused.
sed -e 's/"seed": 7,/"seed": 7, "diffusion_schedule": "cosine", "diffusion_steps": 500,/' -e 's/"steps": 10,/"steps": 2,/' \
    "$T/full.json" | sed "s#$T/full#$T/cosine#" >"$T/cosine.json"
"$LAZYDIT" train --config "$T/cosine.json" 2>"$T/cos.log" || fail "train with a cosine schedule" "$(tail -1 "$T/cos.log")"
"$LAZYDIT" info "$T/cosine/ema.safetensors" | grep -q "^diffusion       cosine, 500 steps" &&
    pass "trained schedule (cosine, 500) is in the EMA file's metadata" ||
    fail "trained schedule in the metadata" "$("$LAZYDIT" info "$T/cosine/ema.safetensors" 2>&1 | grep diffusion)"
"$LAZYDIT" sample --weights "$T/cosine/ema.safetensors" --n 2 --steps 5 --quiet --out "$T/cos_s.npy" >/dev/null 2>"$T/err" &&
    pass "sampling reads the schedule back (cosine 500, 5 steps)" || fail "sampling a cosine model" "$(cat "$T/err")"
expect_fail "sampling respects the model's 500-step schedule" "exceeds the 500-step diffusion schedule" \
    "$LAZYDIT" sample --weights "$T/cosine/ema.safetensors" --n 2 --steps 600 --out "$T/cos_s.npy"
"$LAZYDIT" info "$T/full/ema.safetensors" | grep -q "^diffusion       linear, 1000 steps" &&
    pass "default schedule recorded as linear 1000" || fail "default schedule recorded" "info differs"
"$PYTHON" - "$T/cosine/ema.safetensors" "$T/quad.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n]); h["__metadata__"]["diffusion_schedule"] = "quadratic"
hb = json.dumps(h).encode(); hb += b" " * (-len(hb) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(hb)) + hb + raw[8 + n:])
PY
expect_fail "an unknown schedule in the metadata is an error" "quad\.safetensors: unknown diffusion schedule 'quadratic'" \
    "$LAZYDIT" sample --weights "$T/quad.safetensors" --n 2 --steps 5 --out "$T/q.npy"
sed 's/"seed": 7,/"seed": 7, "diffusion_schedule": "sigmoid",/' "$T/full.json" >"$T/bad6.json"
expect_fail "config: unknown diffusion schedule" "unknown diffusion schedule 'sigmoid'" "$LAZYDIT" train --config "$T/bad6.json"
