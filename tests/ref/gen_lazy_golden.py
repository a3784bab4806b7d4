#!/usr/bin/python3
"""Goldens for the learned lazy policies (model/lazy/policy_lazydit.c, policy_l2c.c).

Run with /usr/bin/python3 tests/ref/gen_lazy_golden.py (torch + numpy).
Writes tests/ref/golden/lazy_*; rerunning rewrites the same bytes.

A whole DDIM sampling loop (the official ddim_sample_loop with sample.py's
classifier-free guidance, the doubled batch stepped whole) on the network of
dit_torch.py, with the lazy rule written out from its definition:

Model: the sampler goldens' 4-channel latent DiT (sampler_latent.safetensors).

  per model row b, step s (execution order), block l, module m:
    Z = modulate(LN(x), shift, scale)                       (the module's input)
    lazydit: score = sigmoid(sum_{t,d} Z[b] * w[m][s][l])   (per row)
    l2c:     score = sigmoid(theta[m][s][l]), consulted only when the respaced
             index K-1-s is even (odd respaced indices are full steps)
    reuse when s > 0 and score > threshold: Y[b] = cache[l][m][b]
    otherwise Y[b] = module(Z[b]) and cache[l][m][b] = Y[b]
    x += gate * Y                                           (the CURRENT gate)

The gates are random with a spread that gives a mix of decisions; the
generator tries seeds in order until no score lies within 1e-3 of the
threshold in logit space, so float rounding in C cannot flip a decision. It
also records how many slots reused, to check the C accounting.
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dit_torch import DiT, modulate, randomize_all, save_safetensors  # noqa: E402
from gen_diffusion import ddim_step, spaced_process  # noqa: E402
from golden_io import write_json_atomic  # noqa: E402

OUT = os.path.join(HERE, "golden")
MODEL = dict(input_size=8, patch=2, in_channels=4, hidden=32, depth=2, heads=2, num_classes=10, learn_sigma=True)

# name, policy, respacing, cfg scale, threshold, gate scale, labels. Mirrored in tests/test_lazy_policy.c.
CASES = [
    dict(name="lazydit_cfg", policy="lazydit", respacing="10", cfg=1.5, threshold=0.5, scale=0.06, labels=[1, 7, 3]),
    dict(name="lazydit_plain", policy="lazydit", respacing="ddim8", cfg=1.0, threshold=0.6, scale=0.06,
         labels=[2, 0, 9, 4]),
    dict(name="l2c_cfg", policy="l2c", respacing="10", cfg=1.5, threshold=0.5, scale=1.0, labels=[1, 7, 3]),
]
NOISE_SEED = 21


def logit(p):
    return float(np.log(p / (1 - p)))


def lazy_forward(model, x, t, y, gates, case, step, K, cache, stats):
    """model.forward with the lazy rule; cache[l][m] is a (B, T, D) tensor or None."""
    h = model.x_embedder(x) + model.pos_embed
    c = model.t_embedder(t) + model.y_embedder(y)
    thr = case["threshold"]
    for l, block in enumerate(model.blocks):
        sm, cm, gm, sf, cf, gf = block.adaLN_modulation(c).chunk(6, dim=1)
        for m, (norm, mod, shift, scale, gate) in enumerate(
                [(block.norm1, block.attn, sm, cm, gm), (block.norm2, block.mlp, sf, cf, gf)]):
            z = modulate(norm(h), shift, scale)
            full = mod(z)
            out = full.clone()
            w = gates[m][step][l]
            for b in range(z.shape[0]):
                if step == 0 or cache[l][m] is None:
                    continue
                if case["policy"] == "lazydit":
                    a = float((z[b].double() * torch.from_numpy(w).double()).sum())
                elif (K - 1 - step) % 2 == 0:
                    a = float(w[0])
                else:
                    continue
                stats["margin"] = min(stats["margin"], abs(a - logit(thr)))
                if 1.0 / (1.0 + np.exp(-a)) > thr:
                    out[b] = cache[l][m][b]
                    stats["reused"][m] += 1
            stats["slots"] += z.shape[0]
            cache[l][m] = out.clone()  # reused rows keep their cache, computed rows take the new output
            h = h + gate.unsqueeze(1) * out
    return model.unpatchify(model.final_layer(h, c))


def run_case(model, case, gates, z):
    proc = spaced_process("linear", 1000, case["respacing"])
    K = len(proc.timestep_map)
    n = len(case["labels"])
    y = torch.tensor(case["labels"], dtype=torch.int64)
    null = torch.full((n,), MODEL["num_classes"], dtype=torch.int64)
    use_cfg = case["cfg"] != 1.0
    x = torch.cat([z, z]) if use_cfg else z.clone()
    yy = torch.cat([y, null]) if use_cfg else y
    cache = [[None, None] for _ in range(MODEL["depth"])]
    stats = {"margin": float("inf"), "reused": [0, 0], "slots": 0}
    for step, i in enumerate(reversed(range(K))):
        t = torch.tensor([i] * x.shape[0])
        ts = torch.tensor([proc.timestep_map[i]] * x.shape[0])
        with torch.no_grad():
            if use_cfg:
                half = x[: len(x) // 2]
                out = lazy_forward(model, torch.cat([half, half]), ts, yy, gates, case, step, K, cache, stats)
                eps, rest = out[:, :3], out[:, 3:]
                cond, uncond = torch.split(eps, len(eps) // 2, dim=0)
                half_eps = uncond + case["cfg"] * (cond - uncond)
                out = torch.cat([torch.cat([half_eps, half_eps], dim=0), rest], dim=1)
            else:
                out = lazy_forward(model, x, ts, yy, gates, case, step, K, cache, stats)
            x, _ = ddim_step(proc, out, x, t, torch.zeros_like(x), 0.0, False)
    return x[:n], stats, K


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    # The model is the sampler goldens' "latent" model (gen_sampler_golden.py,
    # same seeds): rebuilt here and checked byte for byte against its file.
    torch.manual_seed(4000)
    model = DiT(**MODEL).eval()
    randomize_all(model, seed=5000)
    model_path = os.path.join(OUT, "sampler_latent.safetensors")
    tmp = os.path.join(OUT, "lazy_model.tmp")
    save_safetensors(tmp, model.state_dict(), {"num_heads": MODEL["heads"]})
    same = open(tmp, "rb").read() == open(model_path, "rb").read()
    os.remove(tmp)
    if not same:
        raise SystemExit(f"{model_path} is not the model this generator builds: rerun gen_sampler_golden.py")
    sha = hashlib.sha256(open(model_path, "rb").read()).hexdigest()
    for case in CASES:
        proc = spaced_process("linear", 1000, case["respacing"])
        K, L, D = len(proc.timestep_map), MODEL["depth"], MODEL["hidden"]
        n, c, s = len(case["labels"]), MODEL["in_channels"], MODEL["input_size"]
        torch.manual_seed(NOISE_SEED)
        z = torch.randn(n, c, s, s)
        for gate_seed in range(1000, 1200):
            g = np.random.default_rng(gate_seed)
            shape = (K, L, D) if case["policy"] == "lazydit" else (K, L)
            gates = [(g.standard_normal(shape) * case["scale"]).astype(np.float32) for _ in range(2)]
            gates_l = gates if case["policy"] == "lazydit" else [a[..., None] for a in gates]
            res, stats, _ = run_case(model, case, gates_l, z)
            total = stats["slots"]
            mixed = 0 < sum(stats["reused"]) < total * 0.8
            if stats["margin"] > 1e-3 and mixed and min(stats["reused"]) > 0:
                break
        else:
            raise SystemExit(f"{case['name']}: no gate seed gives a clear mix of decisions")
        meta = {"format": "lazydit-gates" if case["policy"] == "lazydit" else "l2c-router", "steps": K,
                "respacing": case["respacing"], "model_sha256": sha, "rho_attn": 0, "rho_mlp": 0,
                "threshold": case["threshold"], "calibration": "none"}
        save_safetensors(os.path.join(OUT, f"lazy_{case['name']}_gates.safetensors"),
                         {"attn": torch.from_numpy(gates[0]), "mlp": torch.from_numpy(gates[1])}, meta)
        np.save(os.path.join(OUT, f"lazy_{case['name']}_z.npy"), z.numpy())
        np.save(os.path.join(OUT, f"lazy_{case['name']}_out.npy"), res.numpy())
        doc = dict(case, gate_seed=gate_seed, steps=K, reused_attn=stats["reused"][0], reused_mlp=stats["reused"][1],
                   slots=total, margin=round(stats["margin"], 6))
        write_json_atomic(os.path.join(OUT, f"lazy_{case['name']}.json"), doc)
        print(f"{case['name']}: gate seed {gate_seed}, reused attn {stats['reused'][0]} mlp {stats['reused'][1]} "
              f"of {total} slots, margin {stats['margin']:.4f}")
    print("wrote lazy goldens to", OUT)


if __name__ == "__main__":
    main()
