#!/usr/bin/env bash
# lazydit noise and lazydit sample: torch-exact noise files, a CLI run equal to
# the PyTorch sampler golden (tests/ref/gen_sampler_golden.py), labels next to
# the samples, per-sample seeds independent of --batch, the PNG grid's size,
# and one-line errors.
set -u
source "$(dirname "$0")/shell_lib.sh"
PY=${PYTHON:-/usr/bin/python3}
G=tests/ref/golden
T="$TEST_TMP/sample_cli"
mkdir -p "$T"

# --- lazydit noise == torch.manual_seed(S); torch.randn(shape), bit for bit:
# the scalar path (< 16 elements), whole 16-blocks, and a tail.
# (one Python process checks every case: importing torch takes seconds).
# The same process checks --random-labels: torch.manual_seed(seed);
# torch.randint(0, classes, (N,)).
"$LAZYDIT" sample --weights $G/sampler_pixel.safetensors --n 6 --steps 2 --seed 9 --random-labels \
    --out "$T/r.npy" >/dev/null
cases="0:7 42:2,4,8,8 7:3,5,7 4294967301:1,1,4,4"
for case in $cases; do
    "$LAZYDIT" noise --seed "${case%%:*}" --shape "${case#*:}" --out "$T/noise_${case%%:*}.npy"
done
"$PY" - "$T" $cases <<'PYEOF'
import sys, numpy as np, torch
t = sys.argv[1]
for case in sys.argv[2:]:
    seed, shape = case.split(":")
    shape = [int(v) for v in shape.split(",")]
    torch.manual_seed(int(seed))
    want = torch.randn(*shape).numpy()
    try:
        got = np.load(f"{t}/noise_{seed}.npy")
        ok = got.dtype == np.float32 and got.shape == want.shape and np.array_equal(got.view(np.uint32), want.view(np.uint32))
    except OSError:
        ok = False
    name = f"noise --seed {seed} --shape {','.join(map(str, shape))} equals torch bit for bit"
    print(f"PASS {name}" if ok else f"FAIL {name}: differs")
torch.manual_seed(9)
try:
    ok = list(np.load(f"{t}/r_labels.npy")) == torch.randint(0, 5, (6,)).tolist()
except OSError:
    ok = False
name = "--random-labels equals torch.randint after manual_seed(seed)"
print(f"PASS {name}" if ok else f"FAIL {name}: differs")
PYEOF

# --- a given-noise CLI run equals the PyTorch golden (DDIM eta 0, cfg 1.5,
# 3 guided channels, respacing "10"); labels are written next to the samples.
if "$LAZYDIT" sample --weights $G/sampler_latent.safetensors --noise $G/sampler_ddim_cfg_z.npy \
    --labels $G/sampler_ddim_cfg_y.npy --steps 10 --seed 11 --out "$T/ddim.npy" >/dev/null &&
    "$PY" -c "
import sys, numpy as np
a = np.load('$T/ddim.npy'); b = np.load('$G/sampler_ddim_cfg_out.npy')
rel = np.abs(a - b).max() / np.abs(b).max()
print('# ddim_cfg CLI relative error to scale %.3g' % rel)
y = np.load('$T/ddim_labels.npy')
sys.exit(0 if a.shape == b.shape and rel <= 1e-3 and y.dtype == np.int64 and list(y) == [1, 7, 3] else 1)
"; then pass "sample --noise equals the PyTorch golden; labels written to OUT_labels.npy"
else fail "sample --noise equals the PyTorch golden; labels written to OUT_labels.npy" "mismatch"; fi

# The same with a noise file from `lazydit noise` and in-loop noise (DDPM):
# the golden was made by torch.manual_seed(11); z = torch.randn(3, 4, 8, 8).
"$LAZYDIT" noise --seed 11 --shape 3,4,8,8 --out "$T/z11.npy"
if "$LAZYDIT" sample --weights $G/sampler_latent.safetensors --noise "$T/z11.npy" --sampler ddpm --class 0 \
    --labels-out "$T/ylab.npy" --respacing 10 --seed 11 --guide-channels all --batch 2 --out "$T/ddpm.npy" \
    --labels "$G/sampler_ddpm_cfg_y.npy" >/dev/null 2>&1; then
    fail "at most one of --labels/--class" "accepted both"
else pass "at most one of --labels/--class"; fi
if "$LAZYDIT" sample --weights $G/sampler_latent.safetensors --noise "$T/z11.npy" --sampler ddpm \
    --labels "$G/sampler_ddpm_cfg_y.npy" --labels-out "$T/ylab.npy" --respacing 10 --seed 11 \
    --guide-channels all --batch 2 --out "$T/ddpm.npy" >/dev/null &&
    "$PY" -c "
import sys, numpy as np
a = np.load('$T/ddpm.npy'); b = np.load('$G/sampler_ddpm_cfg_out.npy')
rel = np.abs(a - b).max() / np.abs(b).max()
print('# ddpm_cfg CLI (batch 2) relative error to scale %.3g' % rel)
sys.exit(0 if rel <= 1e-3 and list(np.load('$T/ylab.npy')) == [1, 7, 3] else 1)
"; then pass "DDPM given-noise run (noise from lazydit noise, batch 2) equals the PyTorch golden"
else fail "DDPM given-noise run (noise from lazydit noise, batch 2) equals the PyTorch golden" "mismatch"; fi

# --- per-sample seeds: --batch does not change the samples; default labels i % classes.
"$LAZYDIT" sample --weights $G/sampler_pixel.safetensors --n 5 --steps 4 --eta 1 --seed 9 --batch 2 \
    --out "$T/s2.npy" >/dev/null
"$LAZYDIT" sample --weights $G/sampler_pixel.safetensors --n 5 --steps 4 --eta 1 --seed 9 \
    --out "$T/s5.npy" >/dev/null
if "$PY" -c "
import sys, numpy as np
a = np.load('$T/s2.npy'); b = np.load('$T/s5.npy')
rel = np.abs(a - b).max() / np.abs(b).max()
print('# per-sample seeds, batch 2 vs 5: relative difference %.3g' % rel)
sys.exit(0 if rel <= 1e-5 and list(np.load('$T/s5_labels.npy')) == [0, 1, 2, 3, 4] else 1)
"; then pass "per-sample seeds: --batch 2 equals --batch 5; default labels i % classes"
else fail "per-sample seeds: --batch 2 equals --batch 5; default labels i % classes" "differs"; fi

# --- PNG grids: width = cols * (W + 2) + 2, height = rows * (H + 2) + 2.
png_size() {  # prints "width height" from the IHDR chunk (bytes 16..23, big-endian)
    od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}'
}
png_kind() { od -An -tu1 -j24 -N2 "$1" | awk '{print $1, $2}'; }  # bit depth, colour type
"$LAZYDIT" sample --weights $G/sampler_pixel.safetensors --n 5 --steps 3 --clip --grid-cols 2 \
    --png "$T/grey.png" --out "$T/grey.npy" >/dev/null
sig=$(od -An -tx1 -N8 "$T/grey.png" 2>/dev/null | tr -d ' ')
if [ "$sig" = "89504e470d0a1a0a" ] && [ "$(png_size "$T/grey.png")" = "22 32" ] &&
    [ "$(png_kind "$T/grey.png")" = "8 0" ]; then pass "grey PNG grid of 5 (2 per row) is 22x32, 8-bit grey"
else fail "grey PNG grid of 5 (2 per row) is 22x32, 8-bit grey" "sig $sig size $(png_size "$T/grey.png")"; fi
# Pixel values: (v + 1) * 127.5 + 0.5 clamped and truncated, 2-pixel black borders.
if "$PY" -c "
import sys, zlib, numpy as np
data = open('$T/grey.png', 'rb').read()
pos, idat = 8, b''
while pos < len(data):
    n = int.from_bytes(data[pos:pos + 4], 'big'); kind = data[pos + 4:pos + 8]
    if kind == b'IDAT': idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat); w, h = 22, 32
rows, prev = [], bytearray(w)
for r in range(h):  # undo the PNG filters (types 0-4)
    f, line = raw[r * (w + 1)], bytearray(raw[r * (w + 1) + 1:(r + 1) * (w + 1)])
    for i in range(w):
        a = line[i - 1] if i else 0; b = prev[i]; c = prev[i - 1] if i else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
img = np.frombuffer(b''.join(rows), np.uint8).reshape(h, w)
x = np.load('$T/grey.npy')
want = np.zeros((h, w), np.uint8)
for n in range(5):
    oy, ox = 2 + (n // 2) * 10, 2 + (n % 2) * 10
    want[oy:oy + 8, ox:ox + 8] = np.clip((x[n, 0] + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)
sys.exit(0 if np.array_equal(img, want) else 1)
"; then pass "grey PNG pixels are (v + 1) * 127.5 + 0.5 clamped, with 2-pixel borders"
else fail "grey PNG pixels are (v + 1) * 127.5 + 0.5 clamped, with 2-pixel borders" "pixels differ"; fi

"$LAZYDIT" init --config DiT-S/2 --input-size 8 --in-channels 3 --classes 4 --depth 1 --hidden 32 --heads 2 \
    --randomize-all --seed 1 --out "$T/rgb.safetensors"
"$LAZYDIT" sample --weights "$T/rgb.safetensors" --n 12 --steps 2 --png "$T/rgb.png" --out "$T/rgb.npy" --quiet \
    >/dev/null
if [ "$(png_size "$T/rgb.png")" = "102 22" ] && [ "$(png_kind "$T/rgb.png")" = "8 2" ]; then
    pass "RGB PNG grid of 12 (10 per row) is 102x22, 8-bit RGB"
else fail "RGB PNG grid of 12 (10 per row) is 102x22, 8-bit RGB" "size $(png_size "$T/rgb.png")"; fi

# --- one-line errors
W="--weights $G/sampler_latent.safetensors"
expect_fail "steps above the schedule" "exceeds the 1000-step" "$LAZYDIT" sample $W --n 2 --steps 1001 --out "$T/e.npy"
expect_fail "unknown respacing" "respacing|foo" "$LAZYDIT" sample $W --n 2 --respacing foo --out "$T/e.npy"
expect_fail "respacing count differs from --steps" "keeps 20 steps but --steps is 50" \
    "$LAZYDIT" sample $W --n 2 --respacing ddim20 --steps 50 --out "$T/e.npy"
expect_fail "class out of range" "label 10 .*outside 0\.\.9" "$LAZYDIT" sample $W --n 2 --class 10 --out "$T/e.npy"
"$PY" -c "import numpy as np; np.save('$T/badlab.npy', np.array([1, -1], dtype=np.int64))"
expect_fail "labels file out of range" "label -1 in .*badlab.npy" \
    "$LAZYDIT" sample $W --labels "$T/badlab.npy" --out "$T/e.npy"
"$LAZYDIT" noise --seed 1 --shape 2,3,8,8 --out "$T/z3.npy"
expect_fail "noise channels differ from the model" "z3.npy has shape \(2, 3, 8, 8\) .*expects \(N, 4, 8, 8\)" \
    "$LAZYDIT" sample $W --noise "$T/z3.npy" --out "$T/e.npy"
expect_fail "noise rows differ from --n" "has 3 samples but --n is 2" \
    "$LAZYDIT" sample $W --noise "$T/z11.npy" --n 2 --out "$T/e.npy"
expect_fail "--png on a latent model" "latent model: decode with a VAE first" \
    "$LAZYDIT" sample $W --n 2 --steps 2 --png "$T/e.png" --out "$T/e.npy"
expect_fail "N = 0" "--n 0 must be >= 1" "$LAZYDIT" sample $W --n 0 --out "$T/e.npy"
expect_fail "no N at all" "--n is required" "$LAZYDIT" sample $W --out "$T/e.npy"
expect_fail "unknown sampler" "unknown --sampler 'plms'" "$LAZYDIT" sample $W --n 2 --sampler plms --out "$T/e.npy"
expect_fail "--eta with ddpm" "--eta applies to --sampler ddim only" \
    "$LAZYDIT" sample $W --n 2 --sampler ddpm --eta 1 --out "$T/e.npy"
expect_fail "noise: bad shape" "--shape '2,0' must be" "$LAZYDIT" noise --seed 1 --shape 2,0 --out "$T/e.npy"
[ -e "$T/e.npy" ] && fail "failed runs write no output" "$T/e.npy exists" || pass "failed runs write no output"
