#!/usr/bin/env bash
# The file rules (model/io/file_rules.h, docs/robustness.md) through the
# commands of the lazy policies and the result databases: calibrate,
# train-lazy, train-l2c, calibrate-gates, run, merge, report and
# sample --record. A FIFO as an input or a database is refused at once (never
# blocks), an output never replaces an input (by any path), a device or a
# symbolic link's target, a failed run publishes nothing, and a database in a
# read-only directory can still be reported.
cd "$(dirname "$0")/.."
. tests/shell_lib.sh
L=${LAZYDIT:-build/lazydit}
PY=${PYTHON:-/usr/bin/python3}
T=${TEST_TMP:-$(mktemp -d)}/robust_lazy_cli
rm -rf "$T" && mkdir -p "$T"
cd "$T" || exit 1
mounted=0
cleanup() { [ "$mounted" = 1 ] && umount "$T/ro" 2>/dev/null; }
trap cleanup EXIT
"$L" init --config DiT-S/2 --depth 1 --hidden 8 --heads 2 --input-size 4 --in-channels 1 --classes 2 --learn-sigma \
    --randomize-all --seed 1 --out w.safetensors >/dev/null
"$PY" -c "
import numpy as np
np.save('x.npy', np.random.default_rng(0).uniform(-1, 1, (8, 1, 4, 4)).astype(np.float32))
np.save('y.npy', (np.arange(8) % 2).astype(np.int64))"
mkfifo fifo
cat >exp.json <<'EOF'
{"name": "p", "model": "w.safetensors", "n_samples": 2, "batch": 2, "cfg_scale": 1.5,
 "runs": [{"name": "full", "policy": {"name": "ddim"}, "steps": 3, "seed": 0}]}
EOF
TRAIN="--weights w.safetensors --images x.npy --labels y.npy --steps 4 --iterations 2 --batch 2"
CAL="--weights w.safetensors --calib-samples 4 --calib-batch 4"
"$L" train-lazy $TRAIN --out-dir tl >/dev/null 2>&1 && [ -f tl/gates.safetensors ] || fail "train-lazy setup" "no gates"
"$L" run exp.json --db r.db --quiet >/dev/null 2>&1 || fail "run setup" "exit $?"
sha_w=$(sha256sum w.safetensors)

# --- FIFOs: refused at once, by name, never opened (SQLite would block on one)
expect_fail "calibrate: FIFO weights" "fifo.*FIFO" timeout 10 "$L" calibrate --policy teacache --weights fifo --steps 4 \
    --n 4 --out c.json --quiet
expect_fail "train-lazy: FIFO images" "fifo.*FIFO" timeout 10 "$L" train-lazy --weights w.safetensors --images fifo \
    --labels y.npy --steps 4 --iterations 2 --batch 2 --out-dir tl2
expect_fail "calibrate-gates: FIFO gates" "fifo.*FIFO" timeout 10 "$L" calibrate-gates --gates fifo $CAL \
    --target-ratio 0.3 --out g.safetensors
expect_fail "run: FIFO config" "fifo.*FIFO" timeout 10 "$L" run fifo --db r2.db --quiet
expect_fail "run: FIFO database" "fifo.*FIFO" timeout 10 "$L" run exp.json --db fifo --quiet
expect_fail "merge: FIFO input" "fifo.*FIFO" timeout 10 "$L" merge m.db fifo
expect_fail "merge: FIFO output" "fifo.*FIFO" timeout 10 "$L" merge fifo r.db
expect_fail "report: FIFO database" "fifo.*FIFO" timeout 10 "$L" report fifo --out rep --no-render --quiet
expect_fail "report: FIFO paper table" "fifo.*FIFO" timeout 10 "$L" report r.db --paper-tables fifo --out rep \
    --no-render --quiet
expect_fail "sample: FIFO record database" "fifo.*FIFO" timeout 10 "$L" sample --weights w.safetensors --n 2 \
    --steps 3 --out s.npy --quiet --record fifo

# --- outputs that are inputs, devices or links
expect_fail "calibrate: output is the weights" "also an input" "$L" calibrate --policy teacache --weights w.safetensors \
    --steps 4 --n 4 --out ./w.safetensors --quiet
expect_fail "train-lazy: --out is the images" "also an input" "$L" train-lazy $TRAIN --out-dir tl3 --out x.npy
expect_fail "train-l2c: --out is the weights" "also an input" "$L" train-l2c $TRAIN --out-dir tl3 --out w.safetensors
expect_fail "calibrate-gates: --out is the gate file" "also an input" "$L" calibrate-gates --gates tl/gates.safetensors \
    $CAL --target-ratio 0.3 --out tl/../tl/gates.safetensors
ln -s w.safetensors link.safetensors
expect_fail "calibrate-gates: --out a symbolic link" "symbolic link" "$L" calibrate-gates --gates tl/gates.safetensors \
    $CAL --target-ratio 0.3 --out link.safetensors
expect_fail "run: database is the model" "also an input" "$L" run exp.json --db w.safetensors --quiet
expect_fail "run: database is the config" "also an input" "$L" run exp.json --db ./exp.json --quiet
expect_fail "run: database /dev/null" "character device" "$L" run exp.json --db /dev/null --quiet
ln -s r.db rlink.db
expect_fail "run: database a symbolic link" "symbolic link" "$L" run exp.json --db rlink.db --quiet
ln r.db rhard.db
expect_fail "merge: output a hard link to the input" "also an input" "$L" merge rhard.db r.db
expect_fail "merge: output a symbolic link" "symbolic link" "$L" merge rlink.db r.db
expect_fail "merge: output /dev/null" "character device" "$L" merge /dev/null r.db
expect_fail "sample: --record is --out" "s.npy" "$L" sample --weights w.safetensors --n 2 --steps 3 --out s.npy \
    --quiet --record s.npy
expect_fail "sample: --record is the weights" "also an input" "$L" sample --weights w.safetensors --n 2 --steps 3 \
    --out s.npy --quiet --record w.safetensors
expect_fail "sample: --record a symbolic link" "symbolic link" "$L" sample --weights w.safetensors --n 2 --steps 3 \
    --out s.npy --quiet --record rlink.db
expect_fail "sample: --out is the gate file" "also an input" "$L" sample --weights w.safetensors --n 2 --steps 4 \
    --policy lazydit --gates tl/gates.safetensors --out tl/gates.safetensors --quiet
[ "$(sha256sum w.safetensors)" = "$sha_w" ] && [ -L link.safetensors ] && [ -L rlink.db ] && [ ! -e s.npy ] &&
    pass "inputs, links and devices unchanged; no output of a refused run" ||
    fail "inputs unchanged" "weights, links or outputs changed"
"$L" run exp.json --db newdir/r.db --quiet >/dev/null 2>&1 && [ -f newdir/r.db ] &&
    pass "run: the database directory is made" || fail "run: database directory" "not made"

# --- a failed run publishes nothing: two targets, the second out of reach
"$L" calibrate-gates --gates tl/gates.safetensors $CAL --target-ratio 0.3,0.99 --out 'g{r}.safetensors' >/dev/null 2>&1
rc=$?
[ "$rc" -eq 1 ] && [ ! -e g30.safetensors ] && [ ! -e g99.safetensors ] && [ -z "$(find . -name '.*.tmp.*')" ] &&
    pass "calibrate-gates: a missed target publishes no file" ||
    fail "calibrate-gates: a missed target" "exit $rc; $(ls g*.safetensors .*.tmp.* 2>/dev/null | tr '\n' ' ')"
# train-lazy --target-ratio out of reach: the trained file is kept (it was removed before).
cp -r tl tk
"$L" train-lazy ${TRAIN/--iterations 2/--iterations 3} --out-dir tk --target-ratio 0.99 --calib-samples 4 --calib-batch 4 >/dev/null 2>&1
rc=$?
[ "$rc" -eq 1 ] && [ -f tk/gates.safetensors ] && [ -z "$(find tk -name '.*.tmp.*')" ] &&
    pass "train-lazy: a missed calibration keeps the trained gate file" ||
    fail "train-lazy: missed calibration" "exit $rc; $(ls -a tk | tr '\n' ' ')"

# --- read-only directories: a report of a database there, outputs refused
mkdir -p ro
if mount -t tmpfs -o size=1m tmpfs ro 2>/dev/null; then
    mounted=1
    cp r.db ro/old.db
    mount -o remount,ro ro
    "$L" report ro/old.db --out rep --no-render --quiet >/dev/null 2>&1 && [ -f rep/REPORT.md ] &&
        pass "report: a database in a read-only directory" || fail "report: read-only directory" "exit $?"
    expect_fail "merge: output in a read-only directory" "ro/m.db" "$L" merge ro/m.db r.db
    expect_fail "calibrate-gates: output in a read-only directory" "(Read-only|cannot write)" "$L" calibrate-gates \
        --gates tl/gates.safetensors $CAL --target-ratio 0.3 --out ro/g.safetensors
    expect_fail "run: database in a read-only directory" "ro/old.db" "$L" run exp.json --db ro/old.db --quiet
    umount ro && mounted=0
elif command -v setpriv >/dev/null; then
    echo "# mount not permitted: read-only directory with an unprivileged user"
    cp r.db ro/old.db && chmod 555 ro && chmod 644 ro/old.db && chmod 777 . && mkdir -p rep && chmod 777 rep
    setpriv --reuid=65534 --regid=65534 --clear-groups "$L" report ro/old.db --out rep --no-render --quiet \
        >/dev/null 2>&1 && [ -f rep/REPORT.md ] &&
        pass "report: a database in a read-only directory (unprivileged user)" ||
        fail "report: read-only directory (unprivileged user)" "exit $?"
    chmod 755 ro
else
    fail "read-only directory" "neither mount nor setpriv available"
fi
