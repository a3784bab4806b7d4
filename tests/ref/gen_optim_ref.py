#!/usr/bin/env python3
"""Golden for model/optim.c: torch.optim.AdamW over a few steps.

Rerun with /usr/bin/python3 tests/ref/gen_optim_ref.py. Writes under
tests/ref/golden/ optim_p0.npy (n,), optim_grads.npy (T, n) and
optim_expected.npy (T, 3, n) = (param, exp_avg, exp_avg_sq) after each step, for
lr 1e-2, betas (0.9, 0.99), eps 1e-8, weight_decay 0.1 (large values so every
term of the update matters at float32 precision).
"""
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "golden")


def main():
    torch.manual_seed(7)
    n, steps = 37, 5
    p = torch.nn.Parameter(torch.randn(n))
    p0 = p.detach().clone()
    grads = torch.randn(steps, n) * torch.logspace(-4, 1, n)  # tiny to large gradients
    grads[2, :5] = 0.0  # zero gradient: only decay and momentum move the parameter
    opt = torch.optim.AdamW([p], lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1, foreach=False)
    out = np.zeros((steps, 3, n), np.float32)
    for t in range(steps):
        p.grad = grads[t].clone()
        opt.step()
        st = opt.state[p]
        out[t, 0] = p.detach().numpy()
        out[t, 1] = st["exp_avg"].numpy()
        out[t, 2] = st["exp_avg_sq"].numpy()
    os.makedirs(OUT, exist_ok=True)
    np.save(os.path.join(OUT, "optim_p0.npy"), p0.numpy())
    np.save(os.path.join(OUT, "optim_grads.npy"), grads.numpy())
    np.save(os.path.join(OUT, "optim_expected.npy"), out)


if __name__ == "__main__":
    main()
