#!/usr/bin/env bash
# lazydit metrics: JSON shape, agreement with an independent numpy evaluation
# (FD via eigenvalues of S1 S2, KID with one full subset, brute-force k-NN
# precision/recall), and one-line errors for bad inputs.
set -u
source "$(dirname "$0")/shell_lib.sh"
PY=${PYTHON:-/usr/bin/python3}
T="$TEST_TMP/metrics_cli"
mkdir -p "$T"

"$PY" - "$T" <<'PYEOF'
import sys, numpy as np
t = sys.argv[1]
rng = np.random.default_rng(0)
a = rng.standard_normal((300, 12)) @ (0.3 * rng.standard_normal((12, 12)) + np.eye(12))
b = rng.standard_normal((250, 12)) * 1.1 + 0.2
np.save(f"{t}/real.npy", a.astype(np.float32))
np.save(f"{t}/fake.npy", b.astype(np.float32))
np.save(f"{t}/fake64.npy", b.astype(np.float64))
np.save(f"{t}/d7.npy", rng.standard_normal((50, 7)).astype(np.float32))
np.save(f"{t}/ints.npy", np.arange(40, dtype=np.int64).reshape(20, 2))
np.save(f"{t}/vec.npy", np.zeros(10, dtype=np.float32))
np.save(f"{t}/one.npy", np.zeros((1, 12), dtype=np.float32))
open(f"{t}/junk.npy", "wb").write(b"this is not an npy file")
PYEOF

out=$("$LAZYDIT" metrics --real "$T/real.npy" --fake "$T/fake.npy" --kid-subset-size 5000 --json 2>"$T/err")
rc=$?
if [ $rc -eq 0 ] && "$PY" - "$T" "$out" <<'PYEOF'
import sys, json, numpy as np
t, text = sys.argv[1], sys.argv[2]
r = json.loads(text)
for key in ["fd", "kid_mean", "kid_std", "precision", "recall", "density", "coverage"]:
    assert key in r, key
x = np.load(f"{t}/real.npy").astype(np.float64)
y = np.load(f"{t}/fake.npy").astype(np.float64)
# FD through the (non-symmetric) product's eigenvalues, not the eigh route the C code takes
m1, m2 = x.mean(0), y.mean(0)
s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
ev = np.linalg.eigvals(s1 @ s2)
fd = ((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.abs(ev.real)).sum()
assert abs(r["fd"] - fd) <= 1e-6 * abs(fd), (r["fd"], fd)
# KID: the subset is capped at min(N) = 250 rows, drawn at random from the
# 300 real rows, so check the estimator on the full sets differs only by
# subsampling noise and that the capped size was reported
assert r["kid_subset_size"] == 250 and r["kid_subsets"] == 100
d = x.shape[1]
k = lambda a, b: (a @ b.T / d + 1) ** 3
kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
n, m = len(x), len(y)
mmd = (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
assert abs(r["kid_mean"] - mmd) < 4 * r["kid_std"] + 1e-3, (r["kid_mean"], r["kid_std"], mmd)
# precision / recall, k = 3, squared distances, closed balls
def sq(a, b):
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
rx = np.sort(sq(x, x), axis=1)[:, 3]
ry = np.sort(sq(y, y), axis=1)[:, 3]
dxy = sq(x, y)
prec = (dxy <= rx[:, None]).any(0).mean()
rec = (dxy <= ry[None, :]).any(1).mean()
assert abs(r["precision"] - prec) <= 1.0 / len(y) + 1e-12, (r["precision"], prec)
assert abs(r["recall"] - rec) <= 1.0 / len(x) + 1e-12, (r["recall"], rec)
PYEOF
then pass metrics_cli_json_vs_numpy; else fail metrics_cli_json_vs_numpy "rc $rc out '$out' err '$(cat "$T/err")'"; fi

# float64 input gives the same numbers as float32 input holding the same values
o32=$("$LAZYDIT" metrics --real "$T/real.npy" --fake "$T/fake.npy" --json 2>/dev/null)
o64=$("$LAZYDIT" metrics --real "$T/real.npy" --fake "$T/fake64.npy" --json 2>/dev/null)
if [ -n "$o32" ] && [ "$o32" = "$o64" ]; then pass metrics_cli_float64_input; else fail metrics_cli_float64_input "'$o32' vs '$o64'"; fi

# identical sets: fd ~ 0, precision = recall = 1; bootstrap intervals present
out=$("$LAZYDIT" metrics --real "$T/real.npy" --fake "$T/real.npy" --bootstrap 20 --seed 3 --json 2>/dev/null)
if "$PY" -c '
import json, sys
r = json.loads(sys.argv[1])
assert abs(r["fd"]) < 1e-8 and r["precision"] == 1 and r["recall"] == 1, r
assert len(r["fd_ci"]) == 2 and len(r["kid_ci"]) == 2 and r["bootstrap"] == 20, r
assert r["fd_ci"][0] <= r["fd_ci"][1] and r["kid_ci"][0] <= r["kid_ci"][1], r
' "$out"; then pass metrics_cli_identical_bootstrap; else fail metrics_cli_identical_bootstrap "$out"; fi

# table output and --verbose timings on stderr only
out=$("$LAZYDIT" metrics --real "$T/real.npy" --fake "$T/fake.npy" --kid-subsets 5 --verbose 2>"$T/err")
if printf '%s' "$out" | grep -q '^precision' && printf '%s' "$out" | grep -q '^kid' && grep -q 'total' "$T/err" &&
    ! printf '%s' "$out" | grep -q 'total'; then
    pass metrics_cli_table_verbose
else
    fail metrics_cli_table_verbose "out '$out' err '$(cat "$T/err")'"
fi

expect_fail metrics_cli_dim_mismatch 'feature dimensions differ.*D = 12.*D = 7' \
    "$LAZYDIT" metrics --real "$T/real.npy" --fake "$T/d7.npy"
expect_fail metrics_cli_bad_file 'junk\.npy' "$LAZYDIT" metrics --real "$T/real.npy" --fake "$T/junk.npy"
expect_fail metrics_cli_missing_file 'nope\.npy.*cannot open' "$LAZYDIT" metrics --real "$T/nope.npy" --fake "$T/fake.npy"
expect_fail metrics_cli_int_dtype 'ints\.npy.*dtype int64' "$LAZYDIT" metrics --real "$T/ints.npy" --fake "$T/fake.npy"
expect_fail metrics_cli_not_2d 'vec\.npy.*2-D' "$LAZYDIT" metrics --real "$T/vec.npy" --fake "$T/fake.npy"
expect_fail metrics_cli_one_row 'one\.npy.*at least 2' "$LAZYDIT" metrics --real "$T/real.npy" --fake "$T/one.npy"
expect_fail metrics_cli_missing_option 'missing required option --fake' "$LAZYDIT" metrics --real "$T/real.npy"
expect_fail metrics_cli_bad_bootstrap 'bootstrap' "$LAZYDIT" metrics --real "$T/real.npy" --fake "$T/fake.npy" --bootstrap 1
