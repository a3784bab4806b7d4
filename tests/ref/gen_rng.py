#!/usr/bin/python3
"""Goldens for model/base/torch_rng.c: what torch's default CPU generator produces.

Run with /usr/bin/python3 (the interpreter that has torch). Writes
tests/ref/golden/rng.json. Every case is a sequence of calls after one
torch.manual_seed(seed), so it also checks that the generator state (including
the cached Box-Muller value of the scalar randn path) carries across calls.

Float results are stored as their IEEE-754 bit patterns (uint32), so the C test
compares bits, not decimal strings. Arrays longer than FULL_LIMIT are stored as
a summary: the first and last 64 elements, the exact sum (math.fsum) and a
32-bit FNV-1a hash of the little-endian bytes of the whole array.
"""
import math
import os
import struct

import numpy as np
import torch

from golden_io import write_json_atomic

FULL_LIMIT = 128
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "golden", "rng.json")

SEEDS = [0, 42, 2**32 + 5]


def fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def encode(arr: np.ndarray):
    """Bits (floats) or values (ints), summarised when long."""
    arr = np.ascontiguousarray(arr).reshape(-1)
    if arr.dtype == np.float32:
        words = arr.view(np.uint32).astype(np.int64).tolist()
        raw = arr.astype("<f4").tobytes()
        total = math.fsum(float(v) for v in arr)
    else:
        assert arr.dtype == np.int64, arr.dtype
        words = arr.tolist()
        raw = arr.astype("<i8").tobytes()
        total = math.fsum(float(v) for v in arr)
    if len(words) <= FULL_LIMIT:
        return {"n": len(words), "full": words}
    return {"n": len(words), "head": words[:64], "tail": words[-64:],
            "sum": total, "fnv1a": fnv1a32(raw)}


def run_op(op):
    kind = op["op"]
    if kind == "randn":
        # shape may be multi-dimensional; the C side draws the flat count.
        return torch.randn(*op["shape"]).numpy()
    if kind == "rand":
        return torch.rand(op["n"]).numpy()
    if kind == "randint":
        return torch.randint(op["low"], op["high"], (op["n"],)).numpy()
    raise ValueError(kind)


def randn_op(*shape):
    return {"op": "randn", "shape": list(shape), "n": int(np.prod(shape))}


def sequences():
    out = []
    for seed in SEEDS:
        # One call per size: scalar path (n < 16), exact blocks, tails.
        for n in [1, 7, 15, 16, 17, 33, 100]:
            out.append({"seed": seed, "ops": [randn_op(n)]})
        out.append({"seed": seed, "ops": [randn_op(4, 32, 32)]})      # one latent
        out.append({"seed": seed, "ops": [randn_op(2, 4, 32, 32)]})   # a batch of 2
        out.append({"seed": seed, "ops": [randn_op(3, 11, 7)]})       # 231: tail of 7
        # Successive calls: the scalar path caches sin(theta) across calls,
        # also across an intervening vectorised call.
        out.append({"seed": seed, "ops": [randn_op(7), randn_op(100), randn_op(1)]})
        out.append({"seed": seed, "ops": [randn_op(17), randn_op(5)]})
        out.append({"seed": seed, "ops": [randn_op(1), randn_op(16), randn_op(3)]})
        out.append({"seed": seed, "ops": [{"op": "rand", "n": 50}, randn_op(20)]})
        out.append({"seed": seed, "ops": [
            {"op": "randint", "low": 0, "high": 10, "n": 20},
            {"op": "randint", "low": -5, "high": 5, "n": 20},
            {"op": "randint", "low": 0, "high": 2**40, "n": 8},
            {"op": "randint", "low": 0, "high": 1000, "n": 16},
            randn_op(3)]})
    for case in out:
        torch.manual_seed(case["seed"])
        for op in case["ops"]:
            op["result"] = encode(run_op(op))
    return out


# Python twin of rng_sample_seed (model/base/torch_rng.h).
def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def fmix32(x):
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def sample_seed(run_seed, index):
    return fmix32(((splitmix64(run_seed) & 0xFFFFFFFF) + index) & 0xFFFFFFFF)


def sample_noise():
    out = []
    for run_seed in SEEDS:
        for index in [0, 1, 2, 1000]:
            s = sample_seed(run_seed, index)
            torch.manual_seed(s)
            noise = torch.randn(4, 8, 8).numpy()
            out.append({"run_seed": run_seed, "index": index, "seed": s,
                        "shape": [4, 8, 8], "result": encode(noise)})
    return out


def main():
    doc = {
        "generator": "tests/ref/gen_rng.py",
        "torch_version": torch.__version__,
        "note": "float results are IEEE-754 bit patterns; see gen_rng.py",
        "sequences": sequences(),
        "sample_noise": sample_noise(),
    }
    write_json_atomic(OUT, doc)


if __name__ == "__main__":
    main()
