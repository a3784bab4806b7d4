#!/usr/bin/python3
"""Goldens for analysis/recorder.c: the similarity columns of module_steps for
a DDIM run, computed in PyTorch on the model of dit_torch.py.

Run with /usr/bin/python3 tests/ref/gen_recorder_golden.py (torch + numpy).
Writes tests/ref/golden/recorder_<case>.json (a few KB each).

The loop is the official one (sample.py + ddim_sample_loop, restated in
gen_sampler_golden.py) on the weights, noise and labels of the sampler goldens
(tests/ref/golden/sampler_*.safetensors, *_z.npy, *_y.npy). Forward hooks on
every block's `attn` and `mlp` modules capture the module input Z (the
modulated LayerNorm output) and output Y (before the adaLN gate) of every
model row at every step, CFG null-label rows included. Per (step, layer,
module) and model row, in float64:
    cos = <Y_t, Y_{t-1}> / (|Y_t| |Y_{t-1}|), rel_l2 = |Y_t - Y_{t-1}| / |Y_{t-1}|,
    z_dist = |Z_t - Z_{t-1}|, z_rel_dist = z_dist / |Z_{t-1}|, lipschitz = |dY| / |dZ|
aggregated over the rows: mean, min and the nearest-rank 5th percentile of cos,
means of the others; and the bound's terms (docs/theory.md) with the weight
spectral norms from torch.linalg.matrix_norm(ord=2) in float64:
    R = max(1, |Wq^T Wk|, |Wv| (attn) or |fc1|, |fc2|, |fc2 fc1| (mlp), max |Z|_F),
    C = 5 R^4 N D (attn) or R (mlp), R2 = max |Z_t - Z_{t-1}|_F,
    alpha = C^2 R2^2 min(N, D) / 2, value = 1 - alpha.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dit_torch import DiT  # noqa: E402
from gen_diffusion import ddim_step, spaced_process  # noqa: E402
from gen_sampler_golden import MODELS  # noqa: E402
from golden_io import write_json_atomic  # noqa: E402

GOLD = os.path.join(HERE, "golden")

# Mirrored in tests/test_recorder.c.
CASES = [
    # 4-channel latent model with learn_sigma, CFG 1.5 on 3 channels: 6 model rows (3 null rows).
    dict(name="cfg", model="latent", weights="sampler_latent.safetensors", z="sampler_ddim_cfg_z.npy",
         y="sampler_ddim_cfg_y.npy", respacing="10", cfg=1.5, guide=3),
    # 1-channel pixel model, no guidance: 3 model rows.
    dict(name="plain", model="pixel", weights="sampler_pixel.safetensors", z=None, y=None, respacing="ddim8",
         cfg=1.0, guide=1),
]


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"]).copy())
    return out


def main():
    torch.set_num_threads(1)
    for case in CASES:
        mc = MODELS[case["model"]]
        model = DiT(**mc).eval()
        model.load_state_dict(load_safetensors(os.path.join(GOLD, case["weights"])))
        if case["z"]:
            z = torch.from_numpy(np.load(os.path.join(GOLD, case["z"])))
            y = torch.from_numpy(np.load(os.path.join(GOLD, case["y"])))
        else:
            torch.manual_seed(77)
            z = torch.randn(3, mc["in_channels"], mc["input_size"], mc["input_size"])
            y = torch.tensor([2, 0, 4], dtype=torch.int64)
            np.save(os.path.join(GOLD, f"recorder_{case['name']}_z.npy"), z.numpy())
            np.save(os.path.join(GOLD, f"recorder_{case['name']}_y.npy"), y.numpy())
        n = len(y)
        L, D = mc["depth"], mc["hidden"]
        N = (mc["input_size"] // mc["patch"]) ** 2

        captured = {}  # (layer, module) -> (Z, Y) of the current forward, float64

        def hook(layer, module):
            def fn(mod, inputs, output):
                captured[(layer, module)] = (inputs[0].detach().double(), output.detach().double())
            return fn

        for l, blk in enumerate(model.blocks):
            blk.attn.register_forward_hook(hook(l, "attn"))
            blk.mlp.register_forward_hook(hook(l, "mlp"))

        proc = spaced_process("linear", 1000, case["respacing"])
        K = len(proc.timestep_map)
        guided = case["cfg"] != 1.0
        x = torch.cat([z, z]) if guided else z.clone()
        yy = torch.cat([y, torch.full((n,), mc["num_classes"], dtype=torch.int64)]) if guided else y
        prev = {}
        rows = []
        for step, i in enumerate(reversed(range(K))):
            t = torch.tensor([i] * x.shape[0])
            ts = torch.tensor([proc.timestep_map[i]] * x.shape[0])
            with torch.no_grad():
                if guided:
                    out = model.forward_with_cfg(x, ts, yy, case["cfg"], guide_channels=case["guide"])
                else:
                    out = model(x, ts, yy)
            for l in range(L):
                for m in ("attn", "mlp"):
                    Z, Y = captured[(l, m)]
                    rec = dict(step=step, timestep=int(proc.timestep_map[i]), layer=l, module=m)
                    if step > 0:
                        Zp, Yp = prev[(l, m)]
                        B = Y.shape[0]
                        f = lambda a: a.reshape(B, -1)  # noqa: E731
                        Yf, Ypf, Zf, Zpf = f(Y), f(Yp), f(Z), f(Zp)
                        dy = (Yf - Ypf).norm(dim=1)
                        dz = (Zf - Zpf).norm(dim=1)
                        cos = (Yf * Ypf).sum(1) / (Yf.norm(dim=1) * Ypf.norm(dim=1))
                        srt = torch.sort(cos).values
                        rank = max(1, math.ceil(0.05 * B))
                        rec.update(cos_mean=cos.mean().item(), cos_min=cos.min().item(), cos_p05=srt[rank - 1].item(),
                                   rel_l2=(dy / Ypf.norm(dim=1)).mean().item(), z_dist=dz.mean().item(),
                                   z_rel_dist=(dz / Zpf.norm(dim=1)).mean().item(),
                                   lipschitz=(dy / dz).mean().item())
                        blk = model.blocks[l]
                        two = lambda w: torch.linalg.matrix_norm(w.double(), ord=2).item()  # noqa: E731
                        if m == "attn":
                            W = blk.attn.qkv.weight.double()
                            wq, wk, wv = W[:D], W[D:2 * D], W[2 * D:]
                            rw = max(two(wq.t() @ wk), two(wv))
                        else:
                            w1, w2 = blk.mlp.fc1.weight.double(), blk.mlp.fc2.weight.double()
                            rw = max(two(w1), two(w2), two(w2 @ w1))
                        rin = max(Zf.norm(dim=1).max().item(), Zpf.norm(dim=1).max().item())
                        R = max(1.0, rw, rin)
                        C = 5 * R ** 4 * N * D if m == "attn" else R
                        R2 = dz.max().item()
                        alpha = C * C * R2 * R2 * min(N, D) / 2
                        rec.update(bound_r=R, bound_c=C, bound_r2=R2, bound_alpha=alpha, bound_value=1 - alpha)
                    rows.append(rec)
                    prev[(l, m)] = (Z, Y)
            x, _ = ddim_step(proc, out, x, t, torch.zeros_like(x), 0.0, False)  # eta 0: sigma = 0
        norms = []
        for l, blk in enumerate(model.blocks):
            W = blk.attn.qkv.weight.double()
            two = lambda w: torch.linalg.matrix_norm(w.double(), ord=2).item()  # noqa: E731
            norms.append(dict(layer=l, wqk=two(W[:D].t() @ W[D:2 * D]), wv=two(W[2 * D:]),
                              proj=two(blk.attn.proj.weight), fc1=two(blk.mlp.fc1.weight),
                              fc2=two(blk.mlp.fc2.weight),
                              fc2fc1=two(blk.mlp.fc2.weight.double() @ blk.mlp.fc1.weight.double())))
        doc = dict(case=case, model_rows=int(yy.shape[0]), module_steps=rows, weight_norms=norms)
        write_json_atomic(os.path.join(GOLD, f"recorder_{case['name']}.json"), doc)


if __name__ == "__main__":
    main()
