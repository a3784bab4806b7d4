#!/usr/bin/python3
"""Goldens for model/sampler.c: whole sampling loops in PyTorch.

Run with /usr/bin/python3 tests/ref/gen_sampler_golden.py (torch + numpy).
Writes tests/ref/golden/sampler_*.

The loop below restates the official DiT sampling (sample.py with
p_sample_loop / ddim_sample_loop of diffusion/gaussian_diffusion.py) from its
formulas; the per-step math comes from gen_diffusion.py (already checked
against the C step functions) and the network from dit_torch.py. Unlike the C
sampler it steps the WHOLE doubled batch under guidance, exactly as upstream,
so the golden also checks that skipping the null half is exact.

Noise rules (model/sampler.h):
  given noise:      torch.manual_seed(seed); z = torch.randn(N, C, H, W);
                    x = cat([z, z]) under guidance; every step
                    noise = torch.randn(x.shape)  (randn_like on the full batch)
  per-sample seeds: sample i alone: torch.manual_seed(sample_seed(seed, i));
                    x = torch.randn(1, C, H, W); every step (if noise is used)
                    noise = torch.randn(1, C, H, W)
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dit_torch import DiT, randomize_all, save_safetensors  # noqa: E402
from gen_diffusion import ddim_step, ddpm_step, spaced_process  # noqa: E402
from gen_rng import sample_seed  # noqa: E402

OUT = os.path.join(HERE, "golden")

MODELS = {
    # 4-channel learn_sigma "latent" model: official 3-channel guidance applies.
    "latent": dict(input_size=8, patch=2, in_channels=4, hidden=32, depth=2, heads=2, num_classes=10,
                   learn_sigma=True),
    # 1-channel pixel model without learn_sigma (fixed variance), like Fashion-MNIST.
    "pixel": dict(input_size=8, patch=2, in_channels=1, hidden=32, depth=1, heads=2, num_classes=5,
                  learn_sigma=False),
}

# Each case: model, sampler, respacing, eta, clip, cfg scale, guide channels,
# noise mode ("given" or "seeds"), seed, labels. Mirrored in tests/test_sampler.c.
CASES = [
    dict(name="ddim_cfg", model="latent", sampler="ddim", respacing="10", eta=0.0, clip=False, cfg=1.5, guide=3,
         noise="given", seed=11, labels=[1, 7, 3]),
    dict(name="ddim_eta", model="latent", sampler="ddim", respacing="10", eta=0.8, clip=False, cfg=1.5, guide=3,
         noise="given", seed=11, labels=[1, 7, 3]),
    dict(name="ddpm_cfg", model="latent", sampler="ddpm", respacing="10", eta=0.0, clip=False, cfg=1.5, guide=4,
         noise="given", seed=11, labels=[1, 7, 3]),
    dict(name="ddpm_seeds", model="pixel", sampler="ddpm", respacing="ddim10", eta=0.0, clip=True, cfg=1.0,
         guide=1, noise="seeds", seed=5, labels=[0, 4, 2]),
    dict(name="ddim_seeds", model="pixel", sampler="ddim", respacing="12", eta=0.5, clip=True, cfg=2.0, guide=1,
         noise="seeds", seed=5, labels=[0, 4, 2]),
]


def run_loop(model, proc, x, y, case, draw_noise):
    """The official loop on batch x (doubled under guidance) with labels y."""
    K = len(proc.timestep_map)
    var = "learned_range" if model.out_channels == 2 * model.in_channels else "fixed_large"
    for i in reversed(range(K)):
        t = torch.tensor([i] * x.shape[0])
        ts = torch.tensor([proc.timestep_map[i]] * x.shape[0])  # _WrappedModel: map[t], int64
        with torch.no_grad():
            if case["cfg"] != 1.0:
                out = model.forward_with_cfg(x, ts, y, case["cfg"], guide_channels=case["guide"])
            else:
                out = model(x, ts, y)
        noise = draw_noise(x.shape)  # drawn every step, as upstream, even when unused
        if case["sampler"] == "ddim":
            x, _ = ddim_step(proc, out, x, t, noise, case["eta"], case["clip"])
        else:
            x, _ = ddpm_step(proc, out, x, t, noise, var, case["clip"])
    return x


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    models = {}
    for k, (name, cfg) in enumerate(MODELS.items()):
        torch.manual_seed(4000 + k)
        m = DiT(**cfg).eval()
        randomize_all(m, seed=5000 + k)
        models[name] = m
        save_safetensors(os.path.join(OUT, f"sampler_{name}.safetensors"), m.state_dict(),
                         {"num_heads": cfg["heads"]})
    for case in CASES:
        model, mc = models[case["model"]], MODELS[case["model"]]
        proc = spaced_process("linear", 1000, case["respacing"])
        n, c, s = len(case["labels"]), mc["in_channels"], mc["input_size"]
        y = torch.tensor(case["labels"], dtype=torch.int64)
        null = torch.full((n,), mc["num_classes"], dtype=torch.int64)
        if case["noise"] == "given":
            torch.manual_seed(case["seed"])
            z = torch.randn(n, c, s, s)
            x = torch.cat([z, z]) if case["cfg"] != 1.0 else z
            yy = torch.cat([y, null]) if case["cfg"] != 1.0 else y
            res = run_loop(model, proc, x, yy, case, lambda shape: torch.randn(*shape))[:n]
            np.save(os.path.join(OUT, f"sampler_{case['name']}_z.npy"), z.numpy())
        else:
            outs = []
            for i in range(n):
                torch.manual_seed(sample_seed(case["seed"], i))
                z = torch.randn(1, c, s, s)
                x = torch.cat([z, z]) if case["cfg"] != 1.0 else z
                yy = torch.cat([y[i:i + 1], null[:1]]) if case["cfg"] != 1.0 else y[i:i + 1]
                # Per-sample stream: one randn(C, H, W) per step for this sample only.
                outs.append(run_loop(model, proc, x, yy, case, lambda shape: torch.randn(1, c, s, s))[:1])
            res = torch.cat(outs)
        np.save(os.path.join(OUT, f"sampler_{case['name']}_y.npy"), y.numpy())
        np.save(os.path.join(OUT, f"sampler_{case['name']}_out.npy"), res.numpy())
        with open(os.path.join(OUT, f"sampler_{case['name']}.json"), "w") as f:
            json.dump(case, f)
            f.write("\n")
    print("wrote sampler goldens to", OUT)


if __name__ == "__main__":
    main()
