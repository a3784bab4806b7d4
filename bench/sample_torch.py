#!/usr/bin/python3
"""The PyTorch side of bench/sample: the official DiT sampling loop on CPU.

sample.py of facebookresearch/DiT with diffusion.ddim_sample_loop and
classifier-free guidance, restated from the official code: the network is
tests/ref/dit_torch.py (models.py semantics), the per-step math
tests/ref/gen_diffusion.py (gaussian_diffusion.py, respace.py). As upstream:

    z = noise (N, C, H, W); y = labels
    x = cat([z, z]); y = cat([y, null])         # the doubled CFG batch
    for i in reversed(range(K)):                 # respacing "K", DDIM, eta 0
        out = model.forward_with_cfg(x, map[i], y, cfg_scale)   # no_grad
        noise = randn_like(x)                    # drawn every step, unused at eta 0
        x = ddim_step(out, x, i, noise)
    samples = x[:N]

Prints one JSON line {"loop_seconds", "torch", "threads"} and writes the
samples as .npy. Only the loop is timed (not the import or the weights).
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
from dit_torch import DiT  # noqa: E402
from gen_diffusion import ddim_step, spaced_process  # noqa: E402


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {e['dtype']}, this script reads F32 only")
        a, b = e["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(e["shape"]).copy())
    return tensors, meta


def build_model(path, heads):
    sd, meta = load_safetensors(path)
    w = sd["x_embedder.proj.weight"]  # (D, C, p, p)
    hidden, channels, patch = w.shape[0], w.shape[1], w.shape[2]
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    grid = int(round(sd["pos_embed"].shape[1] ** 0.5))
    classes = sd["y_embedder.embedding_table.weight"].shape[0] - 1
    learn_sigma = sd["final_layer.linear.weight"].shape[0] == patch * patch * 2 * channels
    heads = heads or int(meta.get("num_heads", 0))
    if not heads:
        raise SystemExit(f"{path}: no num_heads metadata; pass --heads")
    model = DiT(grid * patch, patch, channels, hidden, depth, heads, classes, learn_sigma)
    model.load_state_dict(sd)
    return model.eval(), classes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--noise", required=True, help="(N, C, H, W) float32 .npy")
    ap.add_argument("--labels", required=True, help="(N,) integer .npy")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--cfg-scale", type=float, default=1.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--heads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0, help="seeds the per-step randn_like draws")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    model, classes = build_model(a.weights, a.heads)
    z = torch.from_numpy(np.load(a.noise).astype(np.float32))
    y = torch.from_numpy(np.load(a.labels).astype(np.int64))
    n = z.shape[0]
    proc = spaced_process("linear", 1000, str(a.steps))
    x = torch.cat([z, z], 0)
    yy = torch.cat([y, torch.full((n,), classes, dtype=torch.int64)], 0)
    torch.manual_seed(a.seed)

    t0 = time.perf_counter()
    with torch.no_grad():
        for i in reversed(range(len(proc.timestep_map))):
            t = torch.tensor([i] * x.shape[0])
            ts = torch.tensor([proc.timestep_map[i]] * x.shape[0])  # _WrappedModel: map[t]
            out = model.forward_with_cfg(x, ts, yy, a.cfg_scale)  # official: guidance on channels [:3]
            noise = torch.randn_like(x)
            x, _ = ddim_step(proc, out, x, t, noise, 0.0, False)
    seconds = time.perf_counter() - t0

    np.save(a.out, x[:n].numpy())
    print(json.dumps({"loop_seconds": seconds, "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
