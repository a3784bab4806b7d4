#!/usr/bin/env bash
# Regenerates the seed corpora tests/fuzz/<target>/seed-* (small valid inputs
# the fuzzers start from and mutate). Needs build/lazydit and python3 with
# numpy. Reproducers of found crashes (crash-*) are kept as they are.
#   bash tests/fuzz/make_seeds.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
L=${LAZYDIT:-build/lazydit}
F=tests/fuzz
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in safetensors dit classifier train_checkpoint npy idx train_config classifier_config policy experiment respacing args; do
    mkdir -p "$F/$t"
    rm -f "$F/$t"/seed-*
done

# A tiny DiT: 4x4 pixels, patch 2, hidden 4, depth 1, 2 heads, 2 classes.
"$L" init --config DiT-S/2 --depth 1 --hidden 4 --heads 2 --input-size 4 --in-channels 1 --classes 2 \
    --learn-sigma --randomize-all --seed 1 --out "$F/dit/seed-tiny.safetensors"
"$L" init --config DiT-S/2 --depth 2 --hidden 4 --heads 1 --input-size 4 --in-channels 1 --classes 3 \
    --seed 2 --out "$F/dit/seed-depth2.safetensors"
cp "$F/dit/seed-tiny.safetensors" "$F/safetensors/seed-dit.safetensors"

"${PYTHON:-/usr/bin/python3}" - "$F" "$tmp" <<'PY'
import gzip, json, struct, sys
import numpy as np
F, tmp = sys.argv[1], sys.argv[2]

def safetensors(path, tensors, meta=None, dtype="F32"):
    header, blobs, off = {}, [], 0
    if meta is not None:
        header["__metadata__"] = meta
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr, dtype={"F32": "<f4", "F16": "<f2"}[dtype])
        b = arr.tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

rng = np.random.default_rng(0)
safetensors(f"{F}/safetensors/seed-f16.safetensors", [("a", rng.normal(size=(2, 3))), ("b", np.zeros(0))],
            {"k": "v", "num_heads": "2"}, "F16")
safetensors(f"{F}/safetensors/seed-empty.safetensors", [])

# A tiny classifier: 1x4x4 input, channels 1/1/1, hidden 2, 2 classes.
cfg = dict(in_channels=1, height=4, width=4, c1=1, c2=1, c3=1, hidden=2, num_classes=2)
shapes = [("conv1.weight", (1, 1, 3, 3)), ("conv1.bias", (1,)), ("conv2.weight", (1, 1, 3, 3)), ("conv2.bias", (1,)),
          ("conv3.weight", (1, 1, 3, 3)), ("conv3.bias", (1,)), ("fc1.weight", (2, 1)), ("fc1.bias", (2,)),
          ("fc2.weight", (2, 2)), ("fc2.bias", (2,))]
meta = {"format": "lazydit-classifier", **{k: str(v) for k, v in cfg.items()}}
safetensors(f"{F}/classifier/seed-tiny.safetensors", [(n, rng.normal(size=s)) for n, s in shapes], meta)

def npy(path, arr):
    np.save(path, arr)
npy(f"{F}/npy/seed-f32.npy", rng.normal(size=(2, 3)).astype(np.float32))
npy(f"{F}/npy/seed-f64-scalar.npy", np.float64(1.5))
npy(f"{F}/npy/seed-i64.npy", np.arange(4, dtype=np.int64))
npy(f"{F}/npy/seed-u8.npy", np.arange(6, dtype=np.uint8).reshape(1, 2, 3))
npy(f"{F}/npy/seed-i32-empty.npy", np.zeros((0, 2), dtype=np.int32))
with open(f"{F}/npy/seed-v2.npy", "wb") as f:
    h = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
    h += b" " * (-(12 + len(h) + 1) % 64) + b"\n"
    f.write(b"\x93NUMPY\x02\x00" + struct.pack("<I", len(h)) + h + np.ones(2, "<f4").tobytes())

def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)
with open(f"{F}/idx/seed-images.idx", "wb") as f:
    f.write(idx([2, 3, 3], range(18)))
with open(f"{F}/idx/seed-labels.idx", "wb") as f:
    f.write(idx([3], [0, 1, 2]))
with open(f"{F}/idx/seed-images.idx.gz", "wb") as f:
    f.write(gzip.compress(idx([2, 2, 2], range(8)), mtime=0))

# A tiny training run for the checkpoint seed (the fuzz target's model and seed 7).
npy(f"{tmp}/x.npy", rng.uniform(-1, 1, size=(2, 1, 4, 4)).astype(np.float32))
npy(f"{tmp}/y.npy", np.array([0, 1], dtype=np.int64))
train = {"model": {"input_size": 4, "patch": 2, "in_channels": 1, "hidden": 4, "depth": 1, "heads": 2,
                   "num_classes": 2, "learn_sigma": True, "init_seed": 1},
         "data": {"images": f"{tmp}/x.npy", "labels": f"{tmp}/y.npy"},
         "train": {"steps": 2, "batch": 2, "lr": 1e-3, "ema_decay": 0.99, "seed": 7, "checkpoint_every": 1,
                   "log_every": 1},
         "out_dir": f"{tmp}/run"}
with open(f"{tmp}/train.json", "w") as f:
    json.dump(train, f)
train["data"] = {"images": "x.npy", "labels": "y.npy"}
train["out_dir"] = "run"
with open(f"{F}/train_config/seed-tiny.json", "w") as f:
    json.dump(train, f)
PY
cp experiments/models/fmnist_dit.json "$F/train_config/seed-fmnist_dit.json"
cp experiments/models/classifier.json "$F/classifier_config/seed-classifier.json"
printf '%s' '{"epochs": 1, "batch_size": 2, "lr": 0.01, "seed": 1, "out": "c.safetensors", "train_images": "x.npy",
 "train_labels": "y.npy", "test_images": "x.npy", "test_labels": "y.npy", "lr_schedule": "constant"}' \
    >"$F/classifier_config/seed-explicit.json"
for f in experiments/*.json; do cp "$f" "$F/experiment/seed-$(basename "$f")"; done
printf '%s' '{"name": "fora", "modules": "both", "interval": 3}' >"$F/policy/seed-fora.json"
printf '%s' '{"name": "random", "modules": "mlp", "rate": 0.25, "seed": 9}' >"$F/policy/seed-random.json"
printf '%s\0' ddim attn >"$F/policy/seed-ddim-args"
printf '%s\0' random both rate 0.5 seed 3 >"$F/policy/seed-random-args"
"$L" train --config "$tmp/train.json" >/dev/null 2>&1
cp "$tmp/run/checkpoint.safetensors" "$F/train_checkpoint/seed-step2.safetensors"

printf '50' >"$F/respacing/seed-n"
printf 'ddim25' >"$F/respacing/seed-ddim"
printf '10,15,20' >"$F/respacing/seed-sections"
printf '\x0110' >"$F/respacing/seed-small-base"
printf -- '%s\0' --weights w.safetensors --n 100 --steps=3 --cfg-scale 1.5 --quiet pos >"$F/args/seed-all"
printf -- '%s\0' --weights=w --help >"$F/args/seed-help"
ls -la "$F"/*/seed-* | awk '{s += $5} END {print NR " seed files, " s " bytes"}'
