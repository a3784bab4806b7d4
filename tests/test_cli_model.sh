#!/usr/bin/env bash
# CLI-level checks of the model commands: forward against the PyTorch goldens,
# init/info round trips and MAC figures, and every malformed checkpoint giving
# one error line that names the file, a non-zero exit, and no output file.
source "$(dirname "$0")/shell_lib.sh"
G=tests/ref/golden
T=$TEST_TMP/cli_model
mkdir -p "$T"

# forward and forward_with_cfg through the CLI
"$LAZYDIT" forward --weights $G/dit_a.safetensors --x $G/dit_a_x.npy --t $G/dit_a_t.npy --y $G/dit_a_y.npy \
    --out "$T/out.npy" && pass "forward runs" || fail "forward runs" "exit $?"
"$LAZYDIT" forward --weights $G/dit_a.safetensors --x $G/dit_a_x.npy --t $G/dit_a_t.npy --y $G/dit_a_cfgy.npy \
    --cfg-scale 4.0 --guide-channels all --out "$T/cfg.npy" && pass "forward --cfg-scale runs" || fail "forward --cfg-scale runs" "exit $?"
cmp_npy() {  # name got want rel_tol: max |got-want| / max |want| <= tol
    local r
    r=$("$PYTHON" - "$2" "$3" "$4" <<'PY'
import sys, numpy as np
g, w, tol = np.load(sys.argv[1]), np.load(sys.argv[2]), float(sys.argv[3])
err = np.abs(g - w).max() / np.abs(w).max() if g.shape == w.shape else float("inf")
print("ok" if err <= tol else f"shape {g.shape} vs {w.shape}, rel err {err:.3g}")
PY
)
    [ "$r" = ok ] && pass "$1" || fail "$1" "$r"
}
cmp_npy "forward output equals the PyTorch golden (rel 1e-4)" "$T/out.npy" $G/dit_a_out.npy 1e-4
cmp_npy "forward_with_cfg all channels equals the PyTorch golden (rel 1e-4)" "$T/cfg.npy" $G/dit_a_cfg4_out.npy 1e-4

# init -> info: the configuration and MAC figures
"$LAZYDIT" init --config DiT-S/8 --input-size 16 --in-channels 4 --classes 7 --learn-sigma --depth 2 --seed 3 \
    --randomize-all --out "$T/small.safetensors" && pass "init writes a checkpoint" || fail "init writes a checkpoint" "exit $?"
info=$("$LAZYDIT" info "$T/small.safetensors")
echo "$info" | grep -q "hidden          384, depth 2, heads 6" && pass "info infers hidden/depth/heads" ||
    fail "info infers hidden/depth/heads" "$info"
echo "$info" | grep -q "learn_sigma     yes (output channels 8)" && pass "info infers learn_sigma" ||
    fail "info infers learn_sigma" "$info"
echo "$info" | grep -q "input           4 x 16 x 16 (patch 8, 4 tokens)" && pass "info infers patch and input size" ||
    fail "info infers patch and input size" "$info"

# The DiT-XL/2 figures (118.6 G / 114.4 G) are checked in test_dit_forward.c
# without writing a 2.7 GB file; here the info output on a real DiT-S/2 file.
"$LAZYDIT" init --config DiT-S/2 --seed 1 --learn-sigma --out "$T/s2.safetensors" || fail "init DiT-S/2" "exit $?"
info=$("$LAZYDIT" info "$T/s2.safetensors")
echo "$info" | grep -q "config          DiT-S/2" && pass "info names DiT-S/2" || fail "info names DiT-S/2" "$info"
echo "$info" | grep -q "all 6.056 GMAC, linear+conv 5.452 GMAC" && pass "info prints DiT-S/2 MACs (6.056 G all, 5.452 G linear)" || fail "info prints DiT-S/2 MACs (6.056 G all, 5.452 G linear)" "$info"

# Malformed checkpoints, built from the valid small file with Python (no torch).
"$PYTHON" - "$T/small.safetensors" "$T" <<'PY'
import json, struct, sys
src, out = sys.argv[1], sys.argv[2]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]

def write(name, hdr, body, lie=None):
    text = json.dumps(hdr).encode()
    text += b" " * (-len(text) % 8)
    with open(f"{out}/{name}.safetensors", "wb") as f:
        f.write(struct.pack("<Q", lie if lie is not None else len(text)) + text + body)

open(f"{out}/truncated.safetensors", "wb").write(raw[: len(raw) // 2])
write("lying_header", header, data, lie=10 ** 9)
h = json.loads(json.dumps(header)); h["pos_embed"]["data_offsets"][1] += 4 * 10 ** 6
write("offset_out_of_range", h, data)
h = json.loads(json.dumps(header))
names = sorted(k for k in h if k != "__metadata__")
a, b = h[names[0]]["data_offsets"], h[names[1]]["data_offsets"]
h[names[1]]["data_offsets"] = [a[0], a[0] + (b[1] - b[0])]
write("overlapping", h, data)
h = json.loads(json.dumps(header)); h["pos_embed"]["dtype"] = "F64"
write("unknown_dtype", h, data)
h = json.loads(json.dumps(header)); h["not_a_dit.weight"] = h.pop("blocks.1.mlp.fc2.bias")
write("renamed", h, data)  # missing one tensor and carries an unknown one
h = json.loads(json.dumps(header)); h["blocks.1.attn.qkv.bias"]["shape"] = [3, 384]
write("wrong_rank", h, data)
PY
expect_bad() {  # name file pattern
    expect_fail "$1 (info)" "$2.*$3" "$LAZYDIT" info "$2"
    rm -f "$T/never.npy"
    expect_fail "$1 (forward)" "$2.*$3" "$LAZYDIT" forward --weights "$2" --x $G/dit_a_x.npy --t $G/dit_a_t.npy \
        --y $G/dit_a_y.npy --out "$T/never.npy"
    [ ! -e "$T/never.npy" ] && pass "$1: no output written" || fail "$1: no output written" "$T/never.npy exists"
}
expect_bad "truncated checkpoint" "$T/truncated.safetensors" "(exceed|truncat|short)"
expect_bad "lying header length" "$T/lying_header.safetensors" "header length"
expect_bad "offsets out of range" "$T/offset_out_of_range.safetensors" "(offset|range|data section)"
expect_bad "overlapping offsets" "$T/overlapping.safetensors" "overlap"
expect_bad "unknown dtype" "$T/unknown_dtype.safetensors" "dtype"
expect_bad "missing or unexpected tensor" "$T/renamed.safetensors" "(missing tensor blocks.1.mlp.fc2.bias|unexpected tensor not_a_dit.weight)"
expect_bad "wrong shape" "$T/wrong_rank.safetensors" "blocks.1.attn.qkv.bias.*shape"

# Input mismatches and bad options
expect_fail "forward: x shape does not match the model" "dit_b_x.npy.*expects" "$LAZYDIT" forward \
    --weights $G/dit_a.safetensors --x $G/dit_b_x.npy --t $G/dit_b_t.npy --y $G/dit_b_y.npy --out "$T/x.npy"
expect_fail "forward: odd batch with --cfg-scale" "even batch" "$LAZYDIT" forward --weights $G/dit_b.safetensors \
    --x $G/dit_b_x.npy --t $G/dit_b_t.npy --y $G/dit_b_y.npy --cfg-scale 1.5 --out "$T/x.npy"
expect_fail "init: unknown config" "unknown model" "$LAZYDIT" init --config DiT-Q/2 --seed 1 --out "$T/q.safetensors"
expect_fail "init: unwritable output leaves nothing" "nonexistent" "$LAZYDIT" init --config DiT-S/8 --depth 1 \
    --input-size 16 --seed 1 --out "$T/nonexistent/w.safetensors"
expect_fail "unknown option" "unknown option" "$LAZYDIT" info --bogus "$T/small.safetensors"
for cmd in forward init info; do
    "$LAZYDIT" $cmd --help | grep -q "^usage: lazydit $cmd" && pass "$cmd --help" || fail "$cmd --help" "no usage line"
done
