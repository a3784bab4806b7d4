#!/usr/bin/env bash
# train-classifier and classify end to end on a tiny synthetic IDX dataset:
# config validation, outputs, determinism, feature dumps, one-line errors.
source "$(dirname "$0")/shell_lib.sh"
T="$TEST_TMP/clscli"
mkdir -p "$T/data"
# IDX header: 00 00 08 <ndim> then big-endian dims. 64 images of 28x28 random
# bytes; labels i % 10 (every class present). Train files gzipped, test plain.
{ printf '\x00\x00\x08\x03\x00\x00\x00\x40\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c $((64 * 784)) /dev/urandom; } >"$T/data/t10k-images-idx3-ubyte"
{ printf '\x00\x00\x08\x01\x00\x00\x00\x40'; for i in $(seq 0 63); do printf "\\x0$((i % 10))"; done; } >"$T/data/t10k-labels-idx1-ubyte"
gzip -c "$T/data/t10k-images-idx3-ubyte" >"$T/data/train-images-idx3-ubyte.gz"
gzip -c "$T/data/t10k-labels-idx1-ubyte" >"$T/data/train-labels-idx1-ubyte.gz"

cfg() {  # cfg NAME EXTRA_JSON: writes $T/NAME.json
    cat >"$T/$1.json" <<JSON
{"data_dir": "$T/data", "epochs": 2, "batch_size": 16, "lr": 0.001, "seed": 5, "log_every": 2,
 "c1": 4, "c2": 6, "c3": 8, "hidden": 16, "out": "$T/$1.safetensors", "loss_csv": "$T/$1.csv"$2}
JSON
}

cfg a ""
if "$LAZYDIT" train-classifier --config "$T/a.json" >"$T/a.out" 2>"$T/a.err"; then
    pass "train-classifier runs on a tiny IDX dataset"
else
    fail "train-classifier runs on a tiny IDX dataset" "$(tail -n 2 "$T/a.err")"
fi
if grep -Eq '^epoch 2/2 step 4/4 loss [0-9.]+ acc [0-9.]+ lr .* img/s elapsed .* ETA ' "$T/a.err"; then
    pass "progress line has epoch, step, loss, acc, lr, img/s, ETA"
else
    fail "progress line format" "$(head -n 3 "$T/a.err")"
fi
rows=$(grep -c . "$T/a.csv")
if [ "$(head -n 1 "$T/a.csv")" = "step,epoch,lr,train_loss,train_acc,test_acc,elapsed_s" ] && [ "$rows" -eq 7 ]; then
    pass "loss CSV: header, 2 rows per epoch + epoch-end rows"
else
    fail "loss CSV" "$rows lines: $(head -n 2 "$T/a.csv")"
fi
cfg b ""
"$LAZYDIT" train-classifier --config "$T/b.json" >/dev/null 2>&1
# the files' metadata differ (paths, timing): compare what the weights compute
"$LAZYDIT" classify --weights "$T/a.safetensors" --data "$T/data" --logits-out "$T/la.npy" >/dev/null 2>&1
"$LAZYDIT" classify --weights "$T/b.safetensors" --data "$T/data" --logits-out "$T/lb.npy" >/dev/null 2>&1
if [ -s "$T/la.npy" ] && cmp -s "$T/la.npy" "$T/lb.npy" && [ "$(cut -d, -f1-6 "$T/a.csv")" = "$(cut -d, -f1-6 "$T/b.csv")" ]; then
    pass "same config, same run (bit-identical logits and loss curve)"
else
    fail "same config, same run" "logits or loss curves differ"
fi
out=$("$LAZYDIT" classify --weights "$T/a.safetensors" --data "$T/data" --split train \
    --features-out "$T/f.npy" --spatial-out "$T/s.npy" --probs-out "$T/p.npy" --logits-out "$T/l.npy" 2>&1)
if printf '%s' "$out" | grep -Eq '^accuracy [0-9.]+ \([0-9]+/64\) .*train-images-idx3-ubyte.gz$'; then
    pass "classify on a directory split prints accuracy"
else
    fail "classify on a directory split" "$out"
fi
# .npy sizes: 128-byte header + float32 payload (64 x 16, 64 x 392, 64 x 10)
sz() { stat -c %s "$1" 2>/dev/null || echo missing; }
if [ "$(sz "$T/f.npy")" = $((128 + 64 * 16 * 4)) ] && [ "$(sz "$T/s.npy")" = $((128 + 64 * 392 * 4)) ] &&
    [ "$(sz "$T/p.npy")" = $((128 + 64 * 10 * 4)) ] && [ "$(sz "$T/l.npy")" = $((128 + 64 * 10 * 4)) ]; then
    pass "classify writes features, spatial, probs and logits .npy"
else
    fail "classify feature dumps" "sizes $(sz "$T/f.npy") $(sz "$T/s.npy") $(sz "$T/p.npy") $(sz "$T/l.npy")"
fi
out=$("$LAZYDIT" classify --weights "$T/a.safetensors" --images "$T/data/t10k-images-idx3-ubyte" 2>&1)
if [ $? -eq 0 ] && ! printf '%s' "$out" | grep -q accuracy; then
    pass "classify without labels: no accuracy, exit 0"
else
    fail "classify without labels" "$out"
fi

cfg unk ', "epoch": 3'
expect_fail "config: unknown key" 'unk\.json: unknown key "epoch"' "$LAZYDIT" train-classifier --config "$T/unk.json"
cfg typ ', "hflip": 1'
expect_fail "config: wrong type" '"hflip" must be true or false' "$LAZYDIT" train-classifier --config "$T/typ.json"
cfg frac ', "shift_px": 1.5'
expect_fail "config: non-integral integer" '"shift_px" must be an integer' "$LAZYDIT" train-classifier --config "$T/frac.json"
cfg sched ', "lr_schedule": "step"'
expect_fail "config: bad lr_schedule" 'lr_schedule "step" must be' "$LAZYDIT" train-classifier --config "$T/sched.json"
cfg range ', "shift_px": 9'
expect_fail "config: value out of range" '"shift_px" = 9 outside \[0, 8\]' "$LAZYDIT" train-classifier --config "$T/range.json"
printf '{"epochs": 1, "batch_size": 4, "lr": 0.001, "out": "x"}' >"$T/noseed.json"
expect_fail "config: missing seed" 'missing required key "seed"' "$LAZYDIT" train-classifier --config "$T/noseed.json"
printf '{"epochs": 1,' >"$T/broken.json"
expect_fail "config: invalid JSON" 'broken\.json: invalid JSON' "$LAZYDIT" train-classifier --config "$T/broken.json"
expect_fail "classify: missing weights named" 'nope\.safetensors' "$LAZYDIT" classify --weights "$T/nope.safetensors"
expect_fail "classify: --labels needs --images" 'needs --images' "$LAZYDIT" classify --weights "$T/a.safetensors" --labels x.npy
expect_fail "classify: accuracy floor" 'below --min-accuracy' "$LAZYDIT" classify --weights "$T/a.safetensors" --data "$T/data" --min-accuracy 1.01
