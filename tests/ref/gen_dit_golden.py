#!/usr/bin/env python3
"""Generates the DiT forward goldens under tests/ref/golden/ (rerun with
/usr/bin/python3 tests/ref/gen_dit_golden.py; needs only PyTorch and NumPy).

Each case writes <name>.safetensors (randomised weights), <name>_x/t/y.npy
inputs and <name>_out.npy = forward(x, t, y); CFG cases write
<name>_cfg<G>_out.npy = forward_with_cfg(x, t, y, scale, guide_channels=G).
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from dit_torch import DiT, TimestepEmbedder, randomize_all, save_safetensors, sincos_2d  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "golden")

# Small configurations that still cover: learn_sigma on and off, patch 2 and 4,
# head sizes 12 and 10 (not powers of two), several blocks, odd class counts.
CASES = [
    dict(name="dit_a", input_size=8, patch=2, in_channels=4, hidden=48, depth=2, heads=4, num_classes=10,
         learn_sigma=True, batch=4, cfg=[(1.5, 3), (4.0, 4)]),
    dict(name="dit_b", input_size=16, patch=4, in_channels=3, hidden=40, depth=3, heads=4, num_classes=7,
         learn_sigma=False, batch=3, cfg=[]),
    dict(name="dit_c", input_size=12, patch=2, in_channels=1, hidden=32, depth=1, heads=2, num_classes=5,
         learn_sigma=True, batch=2, cfg=[(1.5, 1)]),
]


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    models = {}
    for i, case in enumerate(CASES):
        torch.manual_seed(1000 + i)
        model = DiT(**{k: case[k] for k in ("input_size", "patch", "in_channels", "hidden", "depth", "heads",
                                            "num_classes", "learn_sigma")}).eval()
        randomize_all(model, seed=2000 + i)
        models[case["name"]] = model
        n, c, s = case["batch"], case["in_channels"], case["input_size"]
        x = torch.randn(n, c, s, s)
        t = torch.tensor([0.0, 999.0, 417.0, 3.5][:n], dtype=torch.float32)  # incl. a fractional timestep
        y = torch.arange(n, dtype=torch.int64) % (case["num_classes"] + 1)
        y[-1] = case["num_classes"]  # the null class row
        with torch.no_grad():
            out = model(x, t, y)
        base = os.path.join(OUT, case["name"])
        save_safetensors(base + ".safetensors", model.state_dict(), {"num_heads": case["heads"]})
        np.save(base + "_x.npy", x.numpy())
        np.save(base + "_t.npy", t.numpy())
        np.save(base + "_y.npy", y.numpy())
        np.save(base + "_out.npy", out.numpy())
        for scale, g in case["cfg"]:
            # doubled batch: conditional labels then null labels
            half = n // 2
            ycfg = torch.cat([y[:half].clamp(max=case["num_classes"] - 1),
                              torch.full((half,), case["num_classes"], dtype=torch.int64)])
            with torch.no_grad():
                o = model.forward_with_cfg(x[: 2 * half], t[: 2 * half], ycfg, scale, guide_channels=g)
            np.save(base + "_cfgy.npy", ycfg.numpy())
            np.save(f"{base}_cfg{g}_out.npy", o.numpy())
            with open(f"{base}_cfg{g}.json", "w") as f:
                json.dump({"scale": scale, "guide_channels": g}, f)
    # Gradient golden (dit_c): loss = sum(forward(x, t, y) * R), all parameter
    # gradients through autograd. The C backward must match per tensor.
    torch.manual_seed(3000)
    model = models["dit_c"]
    x = torch.from_numpy(np.load(os.path.join(OUT, "dit_c_x.npy")))
    t = torch.from_numpy(np.load(os.path.join(OUT, "dit_c_t.npy")))
    y = torch.from_numpy(np.load(os.path.join(OUT, "dit_c_y.npy")))
    r = torch.randn(x.shape[0], 2, 12, 12)
    out = model(x, t, y)
    (out * r).sum().backward()
    grads = {name: (p.grad if p.grad is not None else torch.zeros_like(p)) for name, p in model.named_parameters()}
    save_safetensors(os.path.join(OUT, "dit_c_grads.safetensors"), grads)
    np.save(os.path.join(OUT, "dit_c_dout.npy"), r.numpy())
    # Unit goldens: timestep frequencies and the 2-D position embedding.
    t = torch.tensor([0.0, 1.0, 17.0, 500.5, 999.0])
    np.save(os.path.join(OUT, "tfreq_t.npy"), t.numpy())
    np.save(os.path.join(OUT, "tfreq.npy"), TimestepEmbedder.timestep_embedding(t, 256).numpy())
    np.save(os.path.join(OUT, "pos_embed_16x4.npy"), sincos_2d(16, 4).astype(np.float32))
    print("wrote goldens to", OUT)


if __name__ == "__main__":
    main()
