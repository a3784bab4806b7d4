#!/usr/bin/env bash
# Regenerates the seed corpora tests/fuzz/<target>/seed-* (small valid inputs
# the fuzzers start from and mutate). Needs build/lazydit and python3 with
# numpy. Reproducers of found crashes (crash-*) and seeds made by hand are kept.
#   bash tests/fuzz/make_seeds.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
L=${LAZYDIT:-build/lazydit}
F=tests/fuzz
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in safetensors dit classifier train_checkpoint npy idx train_config classifier_config policy experiment respacing args \
    gates calibration paper_tables result_db report_merge lazy_checkpoint; do
    # Seeds added by hand (seed-every-field.json, seed-oracle.json, ...) are kept:
    # the files below are overwritten, nothing is removed.
    mkdir -p "$F/$t"
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
# Gate and router files: 2 steps, 1 block, hidden 4 (gates.h), a full and a minimal metadata set.
sha = "91e068195e7ee39ebf912e940caa8438d6e4b2a82fdb095d9b3b962a1eb26b84"
full = {"format": "lazydit-gates", "steps": "2", "respacing": "ddim2", "model_sha256": sha, "rho_attn": "0.5",
        "rho_mlp": "1e-3", "threshold": "0.5", "staleness": "1", "calibration": "threshold", "target_ratio": "0.3",
        "realised_ratio": "0.296875", "calibration_samples": "32", "calibration_seed": "5", "calibration_cfg": "1.5",
        "training": '{"lr":0.001,"steps":10}'}
safetensors(f"{F}/gates/seed-gates.safetensors",
            [("attn", rng.normal(size=(2, 1, 4))), ("mlp", rng.normal(size=(2, 1, 4)))], full)
minimal = {"steps": "3", "respacing": "3", "model_sha256": sha, "rho_attn": "0", "rho_mlp": "0", "threshold": "1"}
safetensors(f"{F}/gates/seed-router.safetensors",
            [("attn", rng.normal(size=(3, 2))), ("mlp", np.zeros((3, 2)))], dict(minimal, format="l2c-router"))
safetensors(f"{F}/gates/seed-minimal.safetensors",
            [("attn", np.ones((3, 2, 1))), ("mlp", np.zeros((3, 2, 1)))], minimal)

# train-lazy / train-l2c checkpoints of fuzz_lazy_checkpoint.c's trainers (4 steps, 1 block,
# hidden 4; options text {"fuzz":1}) after 3 iterations.
for name, G in [("gates", 4), ("router", 1)]:
    shape = (2, 4, 1, G)
    safetensors(f"{F}/lazy_checkpoint/seed-{name}.safetensors",
                [("w", rng.normal(size=shape)), ("adam_m", rng.normal(size=shape) * 1e-3),
                 ("adam_v", rng.uniform(0, 1e-6, size=shape)), ("adam_t", np.array([0, 2, 0, 1]))],
                {"format": "lazydit-lazy-train-checkpoint", "iteration": "3", "options": '{"fuzz":1}'})

# Result databases as SQL on a fresh schema (fuzz_result_db.c): an equal-budget
# pair (lazydit at 4 steps, ddim at 2), a full-compute run with similarity
# records, a failed run, metrics with intervals, per-sample metrics, weight norms.
def q(v):
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v)
lines = ["INSERT INTO meta VALUES('experiment','seed');", "INSERT INTO meta VALUES('config_sha256','%s');" % ("ab" * 32)]
runs = [(1, "ddim/steps=4", "ddim", '{"name":"ddim","modules":"both"}', 4, "done", 0.0),
        (2, "lazydit/steps=4", "lazydit", '{"name":"lazydit","modules":"both","gates":"g","threshold":0.5}', 4, "done", 0.5),
        (3, "ddim/steps=2", "ddim", '{"name":"ddim","modules":"both"}', 2, "done", 0.0),
        (4, "fora/steps=4", "fora", '{"name":"fora","modules":"mlp","interval":2}', 4, "failed", None)]
for rid, name, pol, pj, steps, status, ratio in runs:
    cfg = '{"quantize":true,"steps":%d}' % steps
    lines.append("INSERT INTO runs VALUES(%s);" % ",".join(q(v) for v in [
        rid, "seed", name, sha, pol, pj, steps, str(steps), "ddim", 0.0, 1.5, 0, 8, 8, "abc", 2, "x", "h",
        "2026-12-01T00:00:00Z", "2026-12-01T00:00:01Z", status, 1.5, 1e9 * steps * (1 - (ratio or 0)), 9e8, ratio,
        ratio, ratio, cfg, "boom" if status == "failed" else None]))
    if status != "done":
        continue
    for m, v, lo, hi in [("fid", 10.0 + rid, 9.0, 12.0), ("is", 3.0, 2.5, 3.5), ("precision", 0.6, None, None),
                         ("recall", 0.5, 0.4, 0.6), ("kid", 0.01, 0.0, 0.02)]:
        lines.append("INSERT INTO metrics VALUES(%s);" % ",".join(q(x) for x in [rid, m, v, lo, hi, 8]))
    for mod in ("attn", "mlp"):
        lines.append("INSERT INTO weight_norms VALUES(%s);" % ",".join(q(x) for x in [rid, 0, mod, "w1", 2.5, 40]))
        for step in range(steps):
            sim = [None] * 9 if step == 0 else [0.9, 0.8, 0.85, 0.3, 1.2, 0.2, 1.5, 0.4, 0.6]
            skip = 0.0 if pol == "ddim" else 0.5 * (step % 2)
            lines.append("INSERT INTO module_steps VALUES(%s);" % ",".join(q(x) for x in [
                rid, step, 999 - 333 * step, 0, mod, skip, None if pol == "ddim" else 0.4] + sim +
                ([None] * 3 if step == 0 else [2.0, 3.0, 0.5])))
    lines.append("INSERT INTO sample_metrics VALUES(%d,0,'psnr',30.5);" % rid)
with open(f"{F}/result_db/seed-pair.sql", "w") as f:
    f.write("\n".join(lines) + "\n")
# The same with stored sample features of runs 1 and 2 (8 samples, dimension 2) and their
# reference fit, for the paired bootstrap.
ref = "ab" * 32 + "_" + "cd" * 32
feat = ["INSERT INTO feature_references VALUES('%s', 2, 100.0, X'%s', X'%s');" %
        (ref, np.array([0.1, -0.2], "<f8").tobytes().hex(), np.array([[1.0, 0.2], [0.2, 0.5]], "<f8").tobytes().hex())]
for rid in (1, 2):
    x = rng.normal(size=(8, 2)).astype("<f4")
    feat.append("INSERT INTO sample_features VALUES(%d, '%s', 8, 2, X'%s');" % (rid, ref, x.tobytes().hex()))
with open(f"{F}/result_db/seed-features.sql", "w") as f:
    f.write("\n".join(lines + feat) + "\n")
with open(f"{F}/result_db/seed-empty.sql", "w") as f:
    f.write("INSERT INTO meta VALUES('experiment','e');\n")
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

for f in models/calibration/*.json; do cp "$f" "$F/calibration/seed-$(basename "$f")"; done
cp "$F"/result_db/seed-*.sql "$F/report_merge/"
cp analysis/reference/lazydit_paper_tables.csv "$F/paper_tables/seed-lazydit_paper_tables.csv"
printf '%s\r\n' 'table,model,method,steps,lazy_ratio,fid,sfid,is,precision,recall' \
    'T4,"a ""quoted"", model",lazydit,20,0.5,1,2,3,4,5' 'T4,m,ddim,10,,1e-3,2,3,4,5' >"$F/paper_tables/seed-quoted.csv"

printf '50' >"$F/respacing/seed-n"
printf 'ddim25' >"$F/respacing/seed-ddim"
printf '10,15,20' >"$F/respacing/seed-sections"
printf '\x0110' >"$F/respacing/seed-small-base"
printf -- '%s\0' --weights w.safetensors --n 100 --steps=3 --cfg-scale 1.5 --quiet pos >"$F/args/seed-all"
printf -- '%s\0' --weights=w --help >"$F/args/seed-help"
ls -la "$F"/*/seed-* | awk '{s += $5} END {print NR " seed files, " s " bytes"}'
