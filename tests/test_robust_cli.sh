#!/usr/bin/env bash
# The file, number and value rules through the commands (docs/robustness.md):
# inputs that are not regular files, outputs that would destroy an input, a
# device or a link's target, outputs validated before the work and published
# only on success, strict integers, non-finite values (and the options that
# allow them), internal messages for user errors, long paths, stale temporaries.
cd "$(dirname "$0")/.."
. tests/shell_lib.sh
L=${LAZYDIT:-build/lazydit}
PY=${PYTHON:-/usr/bin/python3}
T=${TEST_TMP:-$(mktemp -d)}/robust_cli
rm -rf "$T" && mkdir -p "$T"
W="$T/w.safetensors"
"$L" init --config DiT-S/2 --depth 1 --hidden 8 --heads 2 --input-size 4 --in-channels 1 --classes 2 --learn-sigma \
    --randomize-all --seed 1 --out "$W"
"$PY" - "$T" <<'PY'
import json, struct, sys
import numpy as np
T = sys.argv[1]
def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]
def write_st(path, header, data):
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)
header, data = read_st(f"{T}/w.safetensors")
off = header["blocks.0.attn.qkv.weight"]["data_offsets"][0]
nan = bytearray(data)
nan[off:off + 4] = struct.pack("<f", float("nan"))
write_st(f"{T}/nan.safetensors", header, bytes(nan))
np.save(f"{T}/x.npy", np.zeros((2, 1, 4, 4), np.float32))
np.save(f"{T}/t.npy", np.array([1, 2], np.float32))
np.save(f"{T}/y.npy", np.array([0, 1], np.int64))
np.save(f"{T}/empty_x.npy", np.zeros((0, 1, 4, 4), np.float32))
np.save(f"{T}/empty_t.npy", np.zeros((0,), np.float32))
np.save(f"{T}/empty_y.npy", np.zeros((0,), np.int64))
np.save(f"{T}/zero_dims.npy", np.zeros((3000000000, 0, 4, 4), np.float32))
z = np.zeros((2, 1, 4, 4), np.float32); z[1, 0, 2, 3] = np.inf
np.save(f"{T}/inf_noise.npy", z)
img = np.zeros((3, 1, 28, 28), np.float32); img[2, 0, 5, 5] = np.nan
np.save(f"{T}/nan_images.npy", img)
np.save(f"{T}/img_labels.npy", np.array([0, 1, 2], np.int64))
cfg = {"model": {"input_size": 4, "patch": 2, "in_channels": 1, "hidden": 8, "depth": 1, "heads": 2,
                 "num_classes": 2, "learn_sigma": True, "init_seed": 1},
       "data": {"images": f"{T}/x.npy", "labels": f"{T}/y.npy"},
       "train": {"steps": 2, "batch": 2, "seed": 1, "checkpoint_every": 1, "log_every": 1},
       "out_dir": f"{T}/run", "export": f"{T}/missing_dir/e.safetensors"}
json.dump(cfg, open(f"{T}/export_missing.json", "w"))
cfg["export"] = f"{T}/e.safetensors"
cfg["comment"] = "\udcff"  # a lone surrogate: not valid UTF-8 once written
open(f"{T}/bad_utf8.json", "w", encoding="utf-8", errors="surrogatepass").write(json.dumps(cfg, ensure_ascii=False))
long_dir = T + "/" + "/".join(["d" * 200] * 6)
cfg["comment"] = "ok"
cfg["out_dir"] = long_dir
cfg.pop("export")
json.dump(cfg, open(f"{T}/long.json", "w"))
open(f"{T}/long_dir.txt", "w").write(long_dir)
cfg["out_dir"] = f"{T}/run_big"
cfg["train"]["steps"] = 4
json.dump(cfg, open(f"{T}/short.json", "w"))
PY

# --- inputs that are not regular files: refused at once, never blocking
mkfifo "$T/fifo.safetensors"
expect_fail "info on a FIFO: one line, no blocking" "fifo.safetensors.*FIFO" timeout 10 "$L" info "$T/fifo.safetensors"
expect_fail "forward with a FIFO as x" "FIFO" timeout 10 "$L" forward --weights "$W" --x "$T/fifo.safetensors" \
    --t "$T/t.npy" --y "$T/y.npy" --out "$T/o.npy"
expect_fail "sample with a directory as labels" "is a directory" "$L" sample --weights "$W" --labels "$T" --out "$T/o.npy"
expect_fail "train with a FIFO as config" "FIFO" timeout 10 "$L" train --config "$T/fifo.safetensors"

# --- outputs that would destroy an input, a device or a link's target
cp "$T/x.npy" "$T/x_before.npy"
expect_fail "forward --out equal to --x refused" "input of this run" "$L" forward --weights "$W" --x "$T/x.npy" \
    --t "$T/t.npy" --y "$T/y.npy" --out "$T/x.npy"
expect_fail "forward --out equal to --x by another path refused" "input of this run" "$L" forward --weights "$W" \
    --x "$T/x.npy" --t "$T/t.npy" --y "$T/y.npy" --out "$T/../robust_cli/./x.npy"
expect_fail "sample --out equal to --labels-out refused" "twice" "$L" sample --weights "$W" --n 2 --out "$T/a.npy" \
    --labels-out "$T/a.npy"
expect_fail "sample --png equal to --weights refused" "input of this run" "$L" sample --weights "$W" --n 2 \
    --out "$T/a.npy" --png "$W"
cmp -s "$T/x.npy" "$T/x_before.npy" && [ ! -e "$T/a.npy" ] && pass "refused runs left inputs as they were" ||
    fail "refused runs left inputs" "x.npy changed or a.npy written"
expect_fail "output to a character device refused" "character device" "$L" noise --seed 1 --shape 2 --out /dev/null
ln -s "$T/x_before.npy" "$T/link.npy"
expect_fail "output through a symlink refused" "symbolic link" "$L" noise --seed 1 --shape 2 --out "$T/link.npy"
cmp -s "$T/x_before.npy" "$T/x.npy" && pass "symlink target untouched" || fail "symlink target" "changed"

# --- outputs validated before the work, published only on success
"$L" noise --seed 5 --shape 3 --out "$T/o.npy"
cp "$T/o.npy" "$T/o_before.npy"
expect_fail "sample with a PNG in a missing directory fails first" "missing/g.png.*does not exist" \
    "$L" sample --weights "$W" --n 2 --steps 2 --out "$T/o.npy" --png "$T/missing/g.png"
cmp -s "$T/o.npy" "$T/o_before.npy" && [ ! -e "$T/o_labels.npy" ] &&
    pass "failed sample replaced no output" || fail "failed sample replaced no output" "o.npy or labels written"
expect_fail "sample that fails after loading (bad label) writes nothing" "label 5" \
    "$L" sample --weights "$W" --n 2 --class 5 --steps 2 --out "$T/o.npy"
cmp -s "$T/o.npy" "$T/o_before.npy" && [ -z "$(find "$T" -maxdepth 1 -name '.*tmp*')" ] &&
    pass "no output and no temporary after a late failure" || fail "late failure" "output or temporary left"
start=$(date +%s)
expect_fail "train export in a missing directory fails before any step" "missing_dir.*does not exist" \
    "$L" train --config "$T/export_missing.json"
[ ! -e "$T/run/checkpoint.safetensors" ] && pass "no training step before the export check" ||
    fail "export check" "a checkpoint was written"
expect_fail "config with invalid UTF-8 fails at load" "bad_utf8.json.*UTF-8" "$L" train --config "$T/bad_utf8.json"

# --- integers that do not fit, negative counts
expect_fail "--guide-channels 2^32+1 is not wrapped to 1" "guide-channels" "$L" forward --weights "$W" --x "$T/x.npy" \
    --t "$T/t.npy" --y "$T/y.npy" --cfg-scale 2 --guide-channels 4294967297 --out "$T/f.npy"
expect_fail "--heads -4 is an error, not ignored" "heads -4" "$L" info "$W" --heads -4
expect_fail "--steps 2^31 does not fit an int" "steps expects an integer" "$L" sample --weights "$W" --n 2 \
    --steps 2147483648 --out "$T/s.npy"
expect_fail "--seed with junk" "seed expects an integer" "$L" noise --seed 12x --shape 2 --out "$T/n.npy"
expect_fail "--shape element beyond long" "shape" "$L" noise --seed 1 --shape 2,99999999999999999999 --out "$T/n.npy"
expect_fail "--shape with a sign" "shape" "$L" noise --seed 1 --shape 2,+3 --out "$T/n.npy"

# --- non-finite values: refused alike, allowed where asked for
expect_fail "sample with NaN weights refused" "nan.safetensors.*blocks.0.attn.qkv.weight.*NaN" \
    "$L" sample --weights "$T/nan.safetensors" --n 2 --steps 2 --out "$T/s.npy"
expect_fail "forward with NaN weights refused" "NaN" "$L" forward --weights "$T/nan.safetensors" --x "$T/x.npy" \
    --t "$T/t.npy" --y "$T/y.npy" --out "$T/f.npy"
"$L" info --allow-nonfinite "$T/nan.safetensors" >/dev/null && pass "info --allow-nonfinite describes a NaN checkpoint" ||
    fail "info --allow-nonfinite" "exit $?"
"$L" forward --allow-nonfinite --weights "$T/nan.safetensors" --x "$T/x.npy" --t "$T/t.npy" --y "$T/y.npy" \
    --out "$T/f.npy" && pass "forward --allow-nonfinite runs on NaN weights" || fail "forward --allow-nonfinite" "exit $?"
expect_fail "sample with infinite noise refused" "inf_noise.npy.*inf" "$L" sample --weights "$W" \
    --noise "$T/inf_noise.npy" --steps 2 --out "$T/s.npy"
expect_fail "classify with NaN images refused" "nan_images.npy.*NaN" "$L" classify --weights models/classifier.safetensors \
    --images "$T/nan_images.npy" --labels "$T/img_labels.npy"
expect_fail "eval with NaN images refused" "nan_images.npy.*not finite" "$L" eval --samples "$T/nan_images.npy"

# --- user errors are never file.c:line
expect_fail "forward on an empty batch: one line, no source location" "empty_x.npy.*1 to" "$L" forward --weights "$W" \
    --x "$T/empty_x.npy" --t "$T/empty_t.npy" --y "$T/empty_y.npy" --out "$T/f.npy"
expect_fail "forward on 3e9 samples of zero size" "zero_dims.npy" "$L" forward --weights "$W" --x "$T/zero_dims.npy" \
    --t "$T/empty_t.npy" --y "$T/empty_y.npy" --out "$T/f.npy"
err=$("$L" train --config "$T/short.json" 2>&1 >/dev/null; "$L" sample --weights "$W" --n 2 --batch 0 --out "$T/s.npy" 2>&1)
if printf '%s' "$err" | grep -Eq '[a-z_]+\.c:[0-9]+:'; then fail "no source locations in user errors" "$err"; else
    pass "no source locations in user errors"; fi

# --- long paths are not truncated
long_dir=$(cat "$T/long_dir.txt")
if "$L" train --config "$T/long.json" >/dev/null 2>"$T/long.err" && [ -f "$long_dir/checkpoint.safetensors" ]; then
    pass "train with a ${#long_dir}-byte out_dir writes the full path"
else
    fail "long out_dir" "$(head -n 1 "$T/long.err")"
fi

# --- stale temporaries of a killed run are removed by the next run, others kept
sh -c 'exit 0' &
dead=$!
wait $dead
touch "$T/.o.npy.tmp.$dead.0" "$T/.o.npy.tmp.$dead" "$T/.other.npy.tmp.$dead.0" "$T/.o.npy.tmp.$$.0"
"$L" noise --seed 1 --shape 2 --out "$T/o.npy"
if [ ! -e "$T/.o.npy.tmp.$dead.0" ] && [ ! -e "$T/.o.npy.tmp.$dead" ] && [ -e "$T/.other.npy.tmp.$dead.0" ] &&
    [ -e "$T/.o.npy.tmp.$$.0" ]; then
    pass "stale temporaries of the output removed, unrelated and live ones kept"
else
    fail "stale temporaries" "$(ls -a "$T" | grep tmp | tr '\n' ' ')"
fi
