#!/usr/bin/python3
"""Goldens for model/diffusion.c from the official DiT diffusion formulas.

Run with /usr/bin/python3 (needs numpy and torch). Writes
tests/ref/golden/diffusion.json.

The DiT repository is not imported: the functions below restate the official
math (diffusion/gaussian_diffusion.py, respace.py, diffusion_utils.py of
facebookresearch/DiT) operation by operation -- numpy float64 for the tables,
torch float32 for the per-step tensors, with `extract` doing what
_extract_into_tensor does (float64 entry -> float32 tensor).

Storage: float64 tables as JSON numbers (repr round-trips exactly) at a few
indices, plus math.fsum and an FNV-1a hash of the whole array's bytes; float32
tensors as IEEE bit patterns (uint32) so the C test can count ulps.
"""
import math
import os

import numpy as np
import torch as th

from golden_io import write_json_atomic

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "golden", "diffusion.json")


# --------------------------------------------------------------------------
# official schedule and process (numpy float64)

def named_betas(name, steps):
    if name == "linear":
        scale = 1000 / steps
        return np.linspace(scale * 0.0001, scale * 0.02, steps, dtype=np.float64)
    if name in ("cosine", "squaredcos_cap_v2"):
        def alpha_bar(t):
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        betas = []
        for i in range(steps):
            t1 = i / steps
            t2 = (i + 1) / steps
            betas.append(min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999))
        return np.array(betas)
    raise ValueError(name)


class Process:
    """GaussianDiffusion.__init__ tables."""

    def __init__(self, betas, timestep_map=None):
        betas = np.array(betas, dtype=np.float64)
        assert (betas > 0).all() and (betas <= 1).all()
        self.betas = betas
        self.timestep_map = list(range(len(betas))) if timestep_map is None else timestep_map
        alphas = 1.0 - betas
        self.alphas_cumprod = np.cumprod(alphas, axis=0)
        self.alphas_cumprod_prev = np.append(1.0, self.alphas_cumprod[:-1])
        self.alphas_cumprod_next = np.append(self.alphas_cumprod[1:], 0.0)
        self.sqrt_alphas_cumprod = np.sqrt(self.alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = np.sqrt(1.0 - self.alphas_cumprod)
        self.log_one_minus_alphas_cumprod = np.log(1.0 - self.alphas_cumprod)
        self.sqrt_recip_alphas_cumprod = np.sqrt(1.0 / self.alphas_cumprod)
        self.sqrt_recipm1_alphas_cumprod = np.sqrt(1.0 / self.alphas_cumprod - 1)
        self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        self.posterior_log_variance_clipped = np.log(
            np.append(self.posterior_variance[1], self.posterior_variance[1:]))
        self.posterior_mean_coef1 = betas * np.sqrt(self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef2 = (1.0 - self.alphas_cumprod_prev) * np.sqrt(alphas) / (1.0 - self.alphas_cumprod)
        self.log_betas = np.log(self.betas)
        self.fixed_large_variance = np.append(self.posterior_variance[1], self.betas[1:])
        self.fixed_large_log_variance = np.log(self.fixed_large_variance)


TABLES = ["betas", "log_betas", "alphas_cumprod", "alphas_cumprod_prev", "alphas_cumprod_next",
          "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod",
          "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
          "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
          "fixed_large_variance", "fixed_large_log_variance"]


def space_timesteps(num_timesteps, section_counts):
    if isinstance(section_counts, str):
        if section_counts.startswith("ddim"):
            desired_count = int(section_counts[len("ddim"):])
            for i in range(1, num_timesteps):
                if len(range(0, num_timesteps, i)) == desired_count:
                    return set(range(0, num_timesteps, i))
            raise ValueError(f"cannot create exactly {desired_count} steps with an integer stride")
        section_counts = [int(x) for x in section_counts.split(",")]
    size_per = num_timesteps // len(section_counts)
    extra = num_timesteps % len(section_counts)
    start_idx = 0
    all_steps = []
    for i, section_count in enumerate(section_counts):
        size = size_per + (1 if i < extra else 0)
        if size < section_count:
            raise ValueError(f"cannot divide section of {size} steps into {section_count}")
        frac_stride = 1 if section_count <= 1 else (size - 1) / (section_count - 1)
        cur_idx = 0.0
        for _ in range(section_count):
            all_steps.append(start_idx + round(cur_idx))
            cur_idx += frac_stride
        start_idx += size
    return set(all_steps)


def spaced_process(schedule, steps, respacing):
    """create_diffusion -> SpacedDiffusion ("" means all steps)."""
    base = Process(named_betas(schedule, steps))
    use = space_timesteps(steps, respacing if respacing else [steps])
    last = 1.0
    new_betas, tmap = [], []
    for i, ac in enumerate(base.alphas_cumprod):
        if i in use:
            new_betas.append(1 - ac / last)
            last = ac
            tmap.append(i)
    return Process(np.array(new_betas), tmap)


# --------------------------------------------------------------------------
# official per-step math (torch float32)

def extract(arr, t, shape):
    res = th.from_numpy(arr)[t].float()
    while len(res.shape) < len(shape):
        res = res[..., None]
    return res + th.zeros(shape)


def p_mean_variance(p, model_output, x, t, var, clip):
    B, C = x.shape[:2]
    if var == "learned_range":
        model_output, model_var_values = th.split(model_output, C, dim=1)
        min_log = extract(p.posterior_log_variance_clipped, t, x.shape)
        max_log = extract(np.log(p.betas), t, x.shape)
        frac = (model_var_values + 1) / 2
        model_log_variance = frac * max_log + (1 - frac) * min_log
    else:
        model_output = model_output[:, :C]
        table = {"fixed_large": np.log(np.append(p.posterior_variance[1], p.betas[1:])),
                 "fixed_small": p.posterior_log_variance_clipped}[var]
        model_log_variance = extract(table, t, x.shape)
    pred_xstart = (extract(p.sqrt_recip_alphas_cumprod, t, x.shape) * x
                   - extract(p.sqrt_recipm1_alphas_cumprod, t, x.shape) * model_output)
    if clip:
        pred_xstart = pred_xstart.clamp(-1, 1)
    mean = (extract(p.posterior_mean_coef1, t, x.shape) * pred_xstart
            + extract(p.posterior_mean_coef2, t, x.shape) * x)
    return mean, model_log_variance, pred_xstart


def ddpm_step(p, model_output, x, t, noise, var, clip):
    mean, log_var, pred_xstart = p_mean_variance(p, model_output, x, t, var, clip)
    nonzero_mask = (t != 0).float().view(-1, *([1] * (len(x.shape) - 1)))
    return mean + nonzero_mask * th.exp(0.5 * log_var) * noise, pred_xstart


def ddim_step(p, model_output, x, t, noise, eta, clip):
    _, _, pred_xstart = p_mean_variance(p, model_output, x, t, "learned_range"
                                        if model_output.shape[1] == 2 * x.shape[1] else "fixed_small", clip)
    eps = (extract(p.sqrt_recip_alphas_cumprod, t, x.shape) * x - pred_xstart) / extract(
        p.sqrt_recipm1_alphas_cumprod, t, x.shape)
    alpha_bar = extract(p.alphas_cumprod, t, x.shape)
    alpha_bar_prev = extract(p.alphas_cumprod_prev, t, x.shape)
    sigma = eta * th.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar)) * th.sqrt(1 - alpha_bar / alpha_bar_prev)
    mean_pred = pred_xstart * th.sqrt(alpha_bar_prev) + th.sqrt(1 - alpha_bar_prev - sigma ** 2) * eps
    nonzero_mask = (t != 0).float().view(-1, *([1] * (len(x.shape) - 1)))
    return mean_pred + nonzero_mask * sigma * noise, pred_xstart


def q_sample(p, x0, t, noise):
    return (extract(p.sqrt_alphas_cumprod, t, x0.shape) * x0
            + extract(p.sqrt_one_minus_alphas_cumprod, t, x0.shape) * noise)


def normal_kl(mean1, logvar1, mean2, logvar2):
    return 0.5 * (-1.0 + logvar2 - logvar1 + th.exp(logvar1 - logvar2)
                  + ((mean1 - mean2) ** 2) * th.exp(-logvar2))


def approx_standard_normal_cdf(x):
    return 0.5 * (1.0 + th.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * th.pow(x, 3))))


def discretized_gaussian_log_likelihood(x, means, log_scales):
    centered_x = x - means
    inv_stdv = th.exp(-log_scales)
    plus_in = inv_stdv * (centered_x + 1.0 / 255.0)
    cdf_plus = approx_standard_normal_cdf(plus_in)
    min_in = inv_stdv * (centered_x - 1.0 / 255.0)
    cdf_min = approx_standard_normal_cdf(min_in)
    log_cdf_plus = th.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_min = th.log((1.0 - cdf_min).clamp(min=1e-12))
    cdf_delta = cdf_plus - cdf_min
    return th.where(x < -0.999, log_cdf_plus,
                    th.where(x > 0.999, log_one_minus_cdf_min, th.log(cdf_delta.clamp(min=1e-12))))


def vb_terms(p, model_output, x_start, x_t, t):
    """training_losses' VB term: eps half frozen, clip_denoised False."""
    C = x_t.shape[1]
    frozen = th.cat([model_output[:, :C].detach(), model_output[:, C:]], dim=1)
    true_mean = (extract(p.posterior_mean_coef1, t, x_t.shape) * x_start
                 + extract(p.posterior_mean_coef2, t, x_t.shape) * x_t)
    true_log_variance_clipped = extract(p.posterior_log_variance_clipped, t, x_t.shape)
    mean, log_var, _ = p_mean_variance(p, frozen, x_t, t, "learned_range", False)
    kl = normal_kl(true_mean, true_log_variance_clipped, mean, log_var)
    kl = kl.mean(dim=list(range(1, 4))) / np.log(2.0)
    nll = -discretized_gaussian_log_likelihood(x_start, mean, 0.5 * log_var)
    nll = nll.mean(dim=list(range(1, 4))) / np.log(2.0)
    return th.where(t == 0, nll, kl)


# --------------------------------------------------------------------------
# encoding

def fnv1a32(data):
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def table_summary(arr, indices):
    arr = np.asarray(arr, dtype=np.float64)
    idx = sorted({i if i >= 0 else len(arr) + i for i in indices if -len(arr) <= i < len(arr)})
    return {"at": idx, "values": [float(arr[i]) for i in idx], "fsum": math.fsum(arr.tolist()),
            "fnv1a": fnv1a32(arr.astype("<f8").tobytes())}


def process_doc(p, indices):
    return {"num_steps": len(p.betas), "timestep_map": list(map(int, p.timestep_map)),
            "tables": {name: table_summary(getattr(p, name), indices) for name in TABLES}}


def bits(t):
    a = np.ascontiguousarray(t.detach().numpy().astype(np.float32)).reshape(-1)
    return a.view(np.uint32).astype(np.int64).tolist()


# --------------------------------------------------------------------------

IDX = [0, 1, 2, 3, 10, 24, 25, 49, 100, 249, 250, 499, 500, 750, 998, -2, -1]


def main():
    doc = {"generator": "tests/ref/gen_diffusion.py", "torch_version": th.__version__,
           "numpy_version": np.__version__}
    # Base processes (no respacing) straight from the named betas.
    doc["base"] = []
    for schedule, steps in [("linear", 1000), ("cosine", 1000), ("linear", 100), ("cosine", 50)]:
        d = process_doc(Process(named_betas(schedule, steps)), IDX)
        d.update({"schedule": schedule, "steps": steps})
        doc["base"].append(d)
    # Respaced processes (create_diffusion).
    doc["respaced"] = []
    for schedule, respacing in [("linear", "50"), ("linear", "25"), ("linear", "ddim50"), ("linear", "ddim25"),
                                ("linear", "250"), ("linear", "10,15,20"), ("linear", "1000"), ("linear", ""),
                                ("cosine", "50"), ("cosine", "ddim25"), ("linear", "7,1,3"), ("linear", "ddim7"), ("linear", "1")]:
        try:
            p = spaced_process(schedule, 1000, respacing)
        except IndexError:
            continue  # "1": a single step has no posterior_variance[1]; checked in C only
        d = process_doc(p, IDX)
        d.update({"schedule": schedule, "steps": 1000, "respacing": respacing})
        doc["respaced"].append(d)
    # Official error cases (the C messages are our own; only failure is compared).
    doc["respacing_errors"] = []
    for respacing in ["1001", "ddim37", "ddim1", "10,15,500", "ddim1001"]:
        try:
            space_timesteps(1000, respacing)
            raise AssertionError(respacing + " should fail")
        except ValueError as e:
            doc["respacing_errors"].append({"respacing": respacing, "official_message": str(e)})

    # Per-step cases on the LazyDiT default process: linear 1000 respaced "50".
    p = spaced_process("linear", 1000, "50")
    gen = th.Generator().manual_seed(1234)
    B, C, H, W = 3, 4, 2, 2
    t = th.tensor([49, 20, 0])
    x = th.randn(B, C, H, W, generator=gen)
    eps = th.randn(B, C, H, W, generator=gen)
    v = th.rand(B, C, H, W, generator=gen) * 2 - 1
    out2 = th.cat([eps, v], dim=1)  # learn_sigma model output
    noise = th.randn(B, C, H, W, generator=gen)
    # x0 like uint8 images in [-1, 1], with exact -1 and 1 present
    x0 = (th.randint(0, 256, (B, C, H, W), generator=gen).float() / 127.5 - 1)
    x0[0, 0, 0, 0] = -1.0
    x0[1, 0, 0, 0] = 1.0
    x0[2, 0, 0, 0] = -1.0
    x0[2, 1, 0, 0] = 1.0
    inputs = {"x": bits(x), "model_out": bits(out2), "noise": bits(noise), "x0": bits(x0)}
    cases = []

    def add(kind, outputs, **params):
        cases.append({"kind": kind, "params": params, "outputs": {k: bits(val) for k, val in outputs.items()}})

    for eta, clip, use_noise in [(0.0, False, True), (0.0, True, True), (0.7, True, True), (1.0, False, True)]:
        s, px = ddim_step(p, out2, x, t, noise if use_noise else th.zeros_like(x), eta, clip)
        add("ddim", {"sample": s, "pred_xstart": px}, eta=eta, clip=int(clip), cout=2 * C)
    s, px = ddim_step(p, eps, x, t, noise, 0.5, False)
    add("ddim", {"sample": s, "pred_xstart": px}, eta=0.5, clip=0, cout=C)
    for var, cout in [("learned_range", 2 * C), ("fixed_large", C), ("fixed_small", C)]:
        for clip in [False, True]:
            mo = out2 if cout == 2 * C else eps
            s, px = ddpm_step(p, mo, x, t, noise, var, clip)
            mean, lv, _ = p_mean_variance(p, mo, x, t, var, clip)
            add("ddpm", {"sample": s, "pred_xstart": px, "mean": mean, "log_variance": lv},
                var=var, clip=int(clip), cout=cout)
    add("q_sample", {"x_t": q_sample(p, x0, t, noise)})
    post = (extract(p.posterior_mean_coef1, t, x.shape) * x0 + extract(p.posterior_mean_coef2, t, x.shape) * x)
    add("q_posterior", {"mean": post})
    # VB helpers on the step inputs (log variances from the learned range).
    _, lv, _ = p_mean_variance(p, out2, x, t, "learned_range", False)
    true_lv = extract(p.posterior_log_variance_clipped, t, x.shape)
    add("normal_kl", {"kl": normal_kl(post, true_lv, x0 * 0.5, lv),
                      "mean1": post, "logvar1": true_lv, "mean2": x0 * 0.5, "logvar2": lv})
    ls = 0.5 * lv + th.linspace(-2.0, 1.0, lv.numel()).view(lv.shape)  # spread the scales
    add("dgll", {"log_probs": discretized_gaussian_log_likelihood(x0, x * 0.3, ls), "means": x * 0.3,
                 "log_scales": ls})
    # VB term and its gradient w.r.t. the var-value channels.
    mo = out2.clone().requires_grad_(True)
    x_t = q_sample(p, x0, t, noise)
    vb = vb_terms(p, mo, x0, x_t, t)
    vb.sum().backward()
    add("vb", {"vb": vb, "x_t": x_t, "dvar": mo.grad[:, C:]})

    doc["steps"] = {"schedule": "linear", "steps": 1000, "respacing": "50", "B": B, "C": C, "HW": H * W,
                    "t": t.tolist(), "inputs": inputs, "cases": cases}
    write_json_atomic(OUT, doc)


if __name__ == "__main__":
    main()
