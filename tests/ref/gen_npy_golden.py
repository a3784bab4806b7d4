#!/usr/bin/env python3
"""Writes the small .npy goldens under tests/ref/golden/npy_*.npy with NumPy
itself, so tests/test_npy.c can check that lazydit reads what numpy writes and
writes byte-identical files. Rerun with /usr/bin/python3 tests/ref/gen_npy_golden.py.
The values are repeated literally in tests/test_npy.c: change both together.
"""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")

F32_2X3 = np.array([[0.5, -1.25, 3.0e38], [1.4e-45, -0.0, np.inf]], dtype=np.float32)


def save(name, arr, version=None):
    path = os.path.join(OUT, name)
    if version is None:
        np.save(path, arr)  # np.save picks version 1.0 for these small headers
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, arr, version=version)


def main():
    os.makedirs(OUT, exist_ok=True)
    # Readable cases, one per dtype plus the edge shapes.
    save("npy_f32_2x3.npy", F32_2X3)
    save("npy_f32_1.npy", np.array([42.0], dtype=np.float32))
    save("npy_f32_0x3.npy", np.zeros((0, 3), dtype=np.float32))
    save("npy_f64_scalar.npy", np.array(-2.5, dtype=np.float64))
    save("npy_f64_3.npy", np.array([0.1, -2.0, 1e300], dtype=np.float64))
    save("npy_i64_4.npy", np.array([-(2**63), -1, 0, 2**63 - 1], dtype=np.int64))
    save("npy_i32_2x2.npy", np.array([[-(2**31), -1], [7, 2**31 - 1]], dtype=np.int32))
    save("npy_u8_3.npy", np.array([0, 128, 255], dtype=np.uint8))
    save("npy_v2_f32_2x3.npy", F32_2X3, version=(2, 0))
    save("npy_v3_f32_2x3.npy", F32_2X3, version=(3, 0))
    # Files numpy writes that lazydit must reject.
    save("npy_bad_fortran.npy", np.asfortranarray(F32_2X3))
    save("npy_bad_bigendian.npy", F32_2X3.astype(">f4"))
    save("npy_bad_f16.npy", np.array([0.5, -1.25], dtype=np.float16))
    save("npy_bad_structured.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))


if __name__ == "__main__":
    main()
