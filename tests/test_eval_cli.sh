#!/usr/bin/env bash
# lazydit eval: JSON keys and values, the cache file read back by numpy
# (digest, header, stored mean and covariance), agreement with an independent
# path (lazydit classify features + lazydit metrics give the same FD, KID and
# precision/recall; classify's accuracy equals the class consistency), equal
# results for every accepted sample layout and dtype, paired fidelity, bootstrap
# keys, the table and warnings, and one-line errors for bad inputs.
# Reference statistics go to $TEST_TMP/eval_refcache, shared with test_eval and
# test_eval_cache (content-keyed, so sharing is safe; it only saves time).
set -u
source "$(dirname "$0")/shell_lib.sh"
PY=${PYTHON:-/usr/bin/python3}
T="$TEST_TMP/eval_cli"
CACHE="$TEST_TMP/eval_refcache"
mkdir -p "$T"
# a snapshot, so that every command below sees the same bytes even if a
# training run replaces models/classifier.safetensors meanwhile
W="$T/clf.safetensors"
cp models/classifier.safetensors "$W"

"$PY" - "$T" <<'PYEOF'
import sys, gzip, numpy as np
t = sys.argv[1]
d = "/usr/share/datasets/fashion-mnist"
# training images: samples that are copies of reference (test) images would sit
# exactly on the k-NN ball boundaries of their neighbours, and precision/recall
# would then hinge on float ties
x = np.frombuffer(gzip.open(f"{d}/train-images-idx3-ubyte.gz").read(16 + 300 * 784)[16:], np.uint8).reshape(-1, 28, 28)
y = np.frombuffer(gzip.open(f"{d}/train-labels-idx1-ubyte.gz").read(8 + 300)[8:], np.uint8)
xt = np.frombuffer(gzip.open(f"{d}/t10k-images-idx3-ubyte.gz").read(16 + 300 * 784)[16:], np.uint8).reshape(-1, 1, 28, 28)
np.save(f"{t}/t300.npy", (xt / 127.5 - 1).astype(np.float32))
s = (x / 127.5 - 1).astype(np.float32)  # rounded once from double, as the C loader does for uint8
np.save(f"{t}/s4.npy", s[:, None])
np.save(f"{t}/s3.npy", s)
np.save(f"{t}/s64.npy", s.astype(np.float64)[:, None])
np.save(f"{t}/su8.npy", x)
np.save(f"{t}/y.npy", y.astype(np.int64))
np.save(f"{t}/y32.npy", y.astype(np.int32))
rng = np.random.default_rng(0)
np.save(f"{t}/noisy.npy", np.clip(s + 0.1 * rng.standard_normal(s.shape), -1, 1).astype(np.float32)[:, None])
np.save(f"{t}/range.npy", (x.astype(np.float32))[:, None])  # [0, 255] floats: a warning, not an error
np.save(f"{t}/rgb.npy", np.zeros((300, 3, 28, 28), np.float32))
np.save(f"{t}/big.npy", np.zeros((300, 1, 32, 32), np.float32))
np.save(f"{t}/flat.npy", np.zeros((300, 784), np.float32))
np.save(f"{t}/few.npy", s[:5, None])
bad = s[:, None].copy(); bad[2, 0, 0, 7] = np.nan
np.save(f"{t}/nan.npy", bad)
np.save(f"{t}/ints.npy", x.astype(np.int32))
np.save(f"{t}/y_short.npy", y[:299].astype(np.int64))
yb = y.astype(np.int64).copy(); yb[4] = 10
np.save(f"{t}/y_bad.npy", yb)
yn = y.astype(np.int64).copy(); yn[6] = -1
np.save(f"{t}/y_neg.npy", yn)
np.save(f"{t}/y_2d.npy", y.astype(np.int64)[:, None])
np.save(f"{t}/ref_short.npy", s[:299, None])
PYEOF

EVAL=("$LAZYDIT" eval --classifier "$W" --cache-dir "$CACHE")

# ---- main run: labels and the samples themselves as the paired reference ----
out=$("${EVAL[@]}" --samples "$T/s4.npy" --labels "$T/y.npy" --reference "$T/s4.npy" --json 2>"$T/err")
rc=$?
echo "$out" >"$T/main.json"
hash=$(sha256sum "$W" | cut -d' ' -f1)
acc=$("$LAZYDIT" classify --weights "$W" --images "$T/s4.npy" --labels "$T/y.npy" 2>/dev/null | sed -n 's/^accuracy [0-9.]* (\([0-9]*\)\/\([0-9]*\)).*/\1 \2/p')
if [ $rc -eq 0 ] && "$PY" - "$out" "$hash" "$acc" <<'PYEOF'
import sys, json, math
r = json.loads(sys.argv[1]); h = sys.argv[2]; c, n = map(int, sys.argv[3].split())
for k in ["n", "fid", "sfid", "is_mean", "is_std", "precision", "recall", "kid_mean", "kid_std",
          "class_consistency", "psnr", "ssim", "classifier_hash"]:
    assert k in r, k
assert "fid_ci" not in r and "kid_ci" not in r, r
assert r["n"] == 300 and r["ref_n"] == 10000 and r["sfid_dim"] == 343 and r["sfid_channels"] == 7, r
assert r["classifier_hash"] == h, (r["classifier_hash"], h)
assert r["psnr"] is None and r["ssim"] == 1 and r["identical_pairs"] == 300 and r["mse"] == 0, r
assert abs(r["class_consistency"] - c / n) < 1e-12, (r["class_consistency"], c, n)
assert 0 <= r["fid"] < 50 and 0 <= r["sfid"] < 50 and 1 <= r["is_mean"] <= 10, r
assert 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1 and r["kid_subset_size"] == 300, r
PYEOF
then pass eval_cli_json; else fail eval_cli_json "rc $rc out '$out' err '$(cat "$T/err")' classify '$acc'"; fi
if ls "$CACHE"/refstats_"${hash:0:16}"_*.bin >/dev/null 2>&1; then pass eval_cli_cache_file_named_by_hash
else fail eval_cli_cache_file_named_by_hash "no $CACHE/refstats_${hash:0:16}_*.bin: $(ls "$CACHE" 2>&1)"; fi

# ---- the cache file, read independently (format in analysis/refstats.h) ----
cachefile=$(ls "$CACHE"/refstats_"${hash:0:16}"_*.bin 2>/dev/null | head -1)
if [ -n "$cachefile" ] && "$PY" - "$cachefile" "$hash" "$T" <<'PYEOF'
import sys, struct, hashlib, numpy as np
path, h, t = sys.argv[1:4]
b = open(path, "rb").read()
assert b[:8] == b"LZREFST1", b[:8]
assert hashlib.sha256(b[:-32]).digest() == b[-32:], "trailing digest"
assert b[8:40].hex() == h, "classifier hash"
n, = struct.unpack("<q", b[72:80]); pd, ch, sd, nc = struct.unpack("<4i", b[80:96]); correct, = struct.unpack("<q", b[96:104])
assert (n, pd, ch, sd, nc) == (10000, 128, 7, 343, 10), (n, pd, ch, sd, nc)
assert 0 <= correct <= n
o = 120
pen = np.frombuffer(b, np.float32, n * pd, o).reshape(n, pd); o += 4 * n * pd
mu = np.frombuffer(b, np.float64, pd, o); o += 8 * pd
sig = np.frombuffer(b, np.float64, pd * pd, o).reshape(pd, pd); o += 8 * pd * pd
smu = np.frombuffer(b, np.float64, sd, o); o += 8 * sd
ssig = np.frombuffer(b, np.float64, sd * sd, o).reshape(sd, sd); o += 8 * sd * sd
assert o + 32 == len(b), (o, len(b))
x = pen.astype(np.float64)
assert np.abs(mu - x.mean(0)).max() <= 1e-9 * np.abs(x).max(), "stored mean"
assert np.abs(sig - np.cov(x, rowvar=False)).max() <= 1e-9 * np.abs(sig).max(), "stored covariance"
assert np.all(ssig == ssig.T) and np.all(np.diag(ssig) >= 0), "sfid covariance"
np.save(f"{t}/ref_feat.npy", pen)
PYEOF
then pass eval_cli_cache_file_format; else fail eval_cli_cache_file_format "$cachefile"; fi

# ---- independent path: classify features + metrics ----
# The reference rows are the classifier's features of the test split, and
# metrics on the same features gives the same FD, KID and precision/recall as
# eval. eval extracts features on one OpenBLAS thread (analysis/
# eval_features.h), so classify --threads 1 reproduces them bit for bit
# (for images in batches of the same size: see below).
"$LAZYDIT" classify --weights "$W" --threads 1 --images "$T/t300.npy" --features-out "$T/t_feat.npy" >/dev/null 2>&1 &&
    "$LAZYDIT" classify --weights "$W" --threads 1 --images "$T/s4.npy" --features-out "$T/s_feat.npy" >/dev/null 2>&1 &&
    met=$("$LAZYDIT" metrics --real "$T/ref_feat.npy" --fake "$T/s_feat.npy" --json 2>"$T/err")
rc=$?
if [ $rc -eq 0 ] && "$PY" - "$(cat "$T/main.json")" "$met" "$T" <<'PYEOF'
import sys, json, numpy as np
e, m, t = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
ref, tf = np.load(f"{t}/ref_feat.npy")[:300], np.load(f"{t}/t_feat.npy")
# rows 0..255 share their 256-image batch in both runs: identical bits; the
# rest sat in batches of another size (GEMM blocking changes the last bits)
assert np.array_equal(ref[:256], tf[:256]), np.abs(ref[:256] - tf[:256]).max()
assert np.abs(ref - tf).max() <= 1e-6 * np.abs(tf).max(), np.abs(ref - tf).max()
close = lambda a, b: abs(a - b) <= 1e-9 * abs(b) + 1e-12
assert close(e["fid"], m["fd"]), (e["fid"], m["fd"])
assert close(e["kid_mean"], m["kid_mean"]) and close(e["kid_std"], m["kid_std"]), (e["kid_mean"], m["kid_mean"])
for k in ["precision", "recall", "density", "coverage"]:
    assert e[k] == m[k], (k, e[k], m[k])
PYEOF
then pass eval_cli_matches_classify_plus_metrics; else fail eval_cli_matches_classify_plus_metrics "rc $rc metrics '$met'"; fi

# ---- the same images in every accepted layout / dtype give the same numbers ----
same=1
for v in "s3.npy y.npy" "s64.npy y.npy" "su8.npy y32.npy"; do
    set -- $v
    o=$("${EVAL[@]}" --samples "$T/$1" --labels "$T/$2" --reference "$T/s4.npy" --json 2>/dev/null)
    if ! "$PY" -c '
import sys, json
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
a.pop("ref_cache"); b.pop("ref_cache")
assert a == b, {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k)}
' "$(cat "$T/main.json")" "$o" 2>"$T/err"; then
        same=0
        fail "eval_cli_layout_$1" "$(tail -1 "$T/err")"
    fi
    case "$o" in *'"ref_cache":"loaded"'*) ;; *) same=0; fail "eval_cli_layout_$1_cache" "not loaded from the cache: $o" ;; esac
done
[ $same -eq 1 ] && pass eval_cli_layouts_and_dtypes_agree

# ---- 8-bit quantisation (default) against --no-quantize ----
# Images that came from 8-bit data are unchanged by the rounding: the same
# numbers either way. Float images are scored as their 8-bit form: eval of
# noisy.npy equals eval --no-quantize of a copy rounded by numpy (clamp, then
# floor((v + 1) * 127.5 + 0.5) in float32, back through x / 127.5 - 1).
"$PY" - "$T" <<'PYEOF'
import sys, numpy as np
t = sys.argv[1]
v = np.load(f"{t}/noisy.npy").astype(np.float32)
q = np.floor((v + np.float32(1)) * np.float32(127.5) + np.float32(0.5))
q = np.clip(q, 0, 255).astype(np.uint8)
np.save(f"{t}/noisy_q.npy", (q / 127.5 - 1).astype(np.float32))
PYEOF
qa=$("${EVAL[@]}" --samples "$T/s4.npy" --labels "$T/y.npy" --json 2>/dev/null)
qb=$("${EVAL[@]}" --samples "$T/s4.npy" --labels "$T/y.npy" --json --no-quantize 2>/dev/null)
qc=$("${EVAL[@]}" --samples "$T/noisy.npy" --reference "$T/s4.npy" --json 2>/dev/null)
qd=$("${EVAL[@]}" --samples "$T/noisy_q.npy" --reference "$T/s4.npy" --json --no-quantize 2>/dev/null)
qe=$("${EVAL[@]}" --samples "$T/noisy.npy" --reference "$T/s4.npy" --json --no-quantize 2>/dev/null)
if "$PY" - "$qa" "$qb" "$qc" "$qd" "$qe" <<'PYEOF'
import sys, json
a, b, c, d, e = (json.loads(x) for x in sys.argv[1:6])
assert a["quantized"] is True and b["quantized"] is False and c["quantized"] is True and e["quantized"] is False, (a, b)
for x in (a, b, c, d, e): x.pop("ref_cache"); x.pop("quantized")
assert a == b, {k: (a[k], b[k]) for k in a if a[k] != b[k]}
assert c == d, {k: (c[k], d[k]) for k in c if c[k] != d[k]}
assert c["fid"] != e["fid"] and c["psnr"] != e["psnr"], (c["fid"], e["fid"])
PYEOF
then pass eval_cli_quantize_8bit_default_and_no_quantize
else fail eval_cli_quantize_8bit_default_and_no_quantize "'$qa' '$qb' '$qc' '$qd' '$qe'"; fi

# ---- paired fidelity against a noisy copy; bootstrap intervals ----
out=$("${EVAL[@]}" --samples "$T/s4.npy" --reference "$T/noisy.npy" --bootstrap 20 --seed 5 --json 2>"$T/err")
if "$PY" -c '
import sys, json
r = json.loads(sys.argv[1])
assert "class_consistency" not in r, r
assert 20 < r["psnr"] < 35 and 0 < r["ssim"] < 1 and r["identical_pairs"] == 0, r
assert r["bootstrap"] == 20 and r["ci_level"] == 0.95 and r["seed"] == 5, r
assert r["fid_ci"][0] <= r["fid_ci"][1] and r["kid_ci"][0] <= r["kid_ci"][1], r
assert len(r["fid_ci_raw"]) == 2 and len(r["kid_ci_raw"]) == 2, r
' "$out"; then pass eval_cli_noisy_reference_bootstrap; else fail eval_cli_noisy_reference_bootstrap "$out $(cat "$T/err")"; fi

# ---- table, --verbose on stderr only ----
out=$("${EVAL[@]}" --samples "$T/s4.npy" --labels "$T/y.npy" --reference "$T/noisy.npy" --verbose 2>"$T/err")
if printf '%s\n' "$out" | grep -q '^fid ' && printf '%s\n' "$out" | grep -q '^sfid ' &&
    printf '%s\n' "$out" | grep -q '^class consistency' && printf '%s\n' "$out" | grep -q '^psnr .* dB' &&
    grep -q 'total' "$T/err" && ! printf '%s' "$out" | grep -q 'total'; then
    pass eval_cli_table_verbose
else
    fail eval_cli_table_verbose "out '$out' err '$(cat "$T/err")'"
fi

# ---- pixels outside [-1, 1]: a one-line warning, results still printed ----
out=$("${EVAL[@]}" --samples "$T/range.npy" --json 2>"$T/err")
if [ $? -eq 0 ] && grep -q 'warning: .*range\.npy: .*pixels outside \[-1, 1\]' "$T/err" && [ "$(grep -c . "$T/err")" -eq 1 ] &&
    printf '%s' "$out" | grep -q '"fid"'; then
    pass eval_cli_range_warning
else
    fail eval_cli_range_warning "err '$(cat "$T/err")'"
fi

# ---- errors: one line, exit != 0 ----
expect_fail eval_cli_rgb 'rgb\.npy: samples have shape \(300, 3, 28, 28\) but the classifier takes \(N, 1, 28, 28\)' \
    "${EVAL[@]}" --samples "$T/rgb.npy"
expect_fail eval_cli_big 'big\.npy: samples have shape \(300, 1, 32, 32\)' "${EVAL[@]}" --samples "$T/big.npy"
expect_fail eval_cli_flat 'flat\.npy: samples have shape \(300, 784\)' "${EVAL[@]}" --samples "$T/flat.npy"
expect_fail eval_cli_few 'few\.npy: 5 samples, need at least 10' "${EVAL[@]}" --samples "$T/few.npy"
expect_fail eval_cli_nan 'nan\.npy: samples image 2 pixel 7 is not finite' "${EVAL[@]}" --samples "$T/nan.npy"
expect_fail eval_cli_int_dtype 'ints\.npy: samples have dtype int32' "${EVAL[@]}" --samples "$T/ints.npy"
expect_fail eval_cli_label_count 'y_short\.npy: 299 labels for 300 samples' \
    "${EVAL[@]}" --samples "$T/s4.npy" --labels "$T/y_short.npy"
expect_fail eval_cli_label_range 'y_bad\.npy: label 10 at index 4 outside 0\.\.9' \
    "${EVAL[@]}" --samples "$T/s4.npy" --labels "$T/y_bad.npy"
expect_fail eval_cli_label_negative 'y_neg\.npy: label -1 at index 6 outside 0\.\.9' \
    "${EVAL[@]}" --samples "$T/s4.npy" --labels "$T/y_neg.npy"
expect_fail eval_cli_label_2d 'y_2d\.npy: labels must be a 1-D \(N,\) array, got shape \(300, 1\)' \
    "${EVAL[@]}" --samples "$T/s4.npy" --labels "$T/y_2d.npy"
expect_fail eval_cli_reference_count 'ref_short\.npy: 299 reference images for 300 samples' \
    "${EVAL[@]}" --samples "$T/s4.npy" --reference "$T/ref_short.npy"
expect_fail eval_cli_reference_shape 'rgb\.npy: reference images have shape \(300, 3, 28, 28\)' \
    "${EVAL[@]}" --samples "$T/s4.npy" --reference "$T/rgb.npy"
expect_fail eval_cli_missing_samples 'nope\.npy' "${EVAL[@]}" --samples "$T/nope.npy"
expect_fail eval_cli_missing_classifier 'nope\.safetensors' "$LAZYDIT" eval --classifier "$T/nope.safetensors" \
    --samples "$T/s4.npy" --cache-dir "$CACHE"
expect_fail eval_cli_missing_option 'missing required option --samples' "$LAZYDIT" eval --cache-dir "$CACHE"
expect_fail eval_cli_bad_bootstrap 'bootstrap' "${EVAL[@]}" --samples "$T/s4.npy" --bootstrap 1

# ---- --min-consistency: the exit status model checks rely on ----
# real images under their true labels: consistency is the classifier's accuracy
# on them (about 0.95), so a 0.5 floor passes and a 1.0 floor must fail
if "${EVAL[@]}" --samples "$T/s4.npy" --labels "$T/y.npy" --min-consistency 0.5 >/dev/null 2>"$T/err"; then
    pass eval_cli_min_consistency_met
else
    fail eval_cli_min_consistency_met "rc $?: $(head -c 300 "$T/err")"
fi
expect_fail eval_cli_min_consistency_unmet 'class consistency 0\.[0-9]+ is below --min-consistency 1\.0000 \(.*s4\.npy\)' \
    "${EVAL[@]}" --samples "$T/s4.npy" --labels "$T/y.npy" --min-consistency 1
expect_fail eval_cli_min_consistency_needs_labels 'min-consistency needs --labels' \
    "${EVAL[@]}" --samples "$T/s4.npy" --min-consistency 0.5
expect_fail eval_cli_min_consistency_range 'give a value in \[0, 1\]' \
    "${EVAL[@]}" --samples "$T/s4.npy" --labels "$T/y.npy" --min-consistency 80
expect_fail eval_cli_min_consistency_negative 'give a value in \[0, 1\]' \
    "${EVAL[@]}" --samples "$T/s4.npy" --labels "$T/y.npy" --min-consistency -0.5
expect_fail eval_cli_min_consistency_nan "--min-consistency expects a finite number, got 'nan'" \
    "${EVAL[@]}" --samples "$T/s4.npy" --labels "$T/y.npy" --min-consistency nan
