#!/usr/bin/env bash
# tools/convert_checkpoint.py end to end: real torch.save files (a plain state
# dict, a DDP-prefixed one and a train.py-style {"model","ema","opt","args"}
# checkpoint) are converted and checked by the C reader (tests/st_compare.c,
# built here against liblazydit.a) against .npy dumps made by torch itself.
# Also: ema is the default and differs from model, --key model, F16/BF16
# files against torch's own conversion, and one-line errors for bad inputs.
source "$(dirname "$0")/shell_lib.sh"
cd "$(dirname "$0")/.."
: "${PYTHON:=/usr/bin/python3}" "${TEST_TMP:?}" "${LAZYDIT_BUILD:=$PWD/build}"
W="$TEST_TMP/convert"
rm -rf "$W" && mkdir -p "$W"
CONVERT=(env PYTHONDONTWRITEBYTECODE=1 "$PYTHON" tools/convert_checkpoint.py)

# The comparison helper, built like the test binaries (sanitizers when the
# library was built with them, as by `make asan`).
lib="$LAZYDIT_BUILD/liblazydit.a"
san=()
grep -qa __asan_init "$lib" 2>/dev/null && san=(-fsanitize=address,undefined)
blas_inc=$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
# shellcheck disable=SC2086
if "${CC:-cc}" -std=c11 -O1 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -I. $blas_inc "${san[@]}" tests/st_compare.c "$lib" \
    -o "$W/st_compare" -lopenblas -lsqlite3 -lcjson -lpng -lz -lm -lpthread 2>"$W/cc.log"; then
    pass convert_build_st_compare
else
    fail convert_build_st_compare "$(head -c 300 "$W/cc.log")"
    exit 1
fi

# Inputs and expected tensors. ema and model differ everywhere; one tensor is
# float16, one bfloat16, one a Parameter, one a non-contiguous view.
if ! "$PYTHON" - "$W" 2>"$W/gen.log" <<'EOF'; then
import argparse, json, os, struct, sys
import numpy as np
import torch

w = sys.argv[1]
torch.manual_seed(0)

def state_dict(scale):
    sd = {
        "pos_embed": torch.randn(1, 16, 32) * scale,
        "x_embedder.proj.weight": torch.randn(32, 4, 2, 2) * scale,
        "x_embedder.proj.bias": (torch.randn(32) * scale).half(),
        "blocks.0.attn.qkv.weight": torch.nn.Parameter(torch.randn(96, 32) * scale),
        "blocks.0.mlp.fc1.bias": (torch.randn(128) * scale).bfloat16(),
        "final_layer.linear.weight": (torch.randn(32, 16) * scale).t(),  # (16, 32), not contiguous
        "t_embedder.mlp.0.bias": torch.tensor(0.5 * scale).reshape(1),
    }
    return sd

ema, model = state_dict(1.0), state_dict(2.0)

def dump(sd, d):
    os.makedirs(d)
    for k, v in sd.items():
        np.save(os.path.join(d, k + ".npy"), np.ascontiguousarray(v.detach().float().numpy()))

dump(ema, f"{w}/exp_ema")
dump(model, f"{w}/exp_model")
param = torch.nn.Parameter(torch.zeros(3))
opt = torch.optim.AdamW([param], lr=1e-4)
param.grad = torch.ones(3)
opt.step()
args = argparse.Namespace(model="DiT-XL/2", image_size=256, num_classes=1000, results_dir="results", epochs=1400)
torch.save({"model": model, "ema": ema, "opt": opt.state_dict(), "args": args}, f"{w}/ckpt.pt")
torch.save({k: v for k, v in ema.items()}, f"{w}/plain.pt")
torch.save({"module." + k: v for k, v in model.items()}, f"{w}/ddp.pt")
torch.save(ema, f"{w}/legacy.pt", _use_new_zipfile_serialization=False)  # the pre-1.6 format
torch.save({"model": model}, f"{w}/model_only.pt")
# Bad inputs.
with open(f"{w}/notackpt.pt", "w") as f:
    f.write("hello, I am not a checkpoint\n")
torch.save({**ema, "foo.bar": torch.zeros(2), "blocks.0.lazy.weight": torch.zeros(2)}, f"{w}/unknown.pt")
torch.save({**ema, "step": 5}, f"{w}/nontensor.pt")
torch.save({"model": model, "ema": ema, "scheduler": {}}, f"{w}/wrapper_extra.pt")
torch.save({**ema, "y_embedder.embedding_table.weight": torch.zeros(3, 4, dtype=torch.int64)}, f"{w}/inttensor.pt")

class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {w}/pwned",))

torch.save({"ema": ema, "args": Evil()}, f"{w}/evil.pt")
torch.save({"ema": ema, "args": Evil()}, f"{w}/evil_legacy.pt", _use_new_zipfile_serialization=False)

# F16/BF16 safetensors written directly, expected values from torch's conversion
# (random values plus subnormals, infinities, NaN and signed zero).
special = torch.tensor([0.0, -0.0, 6e-8, -6e-8, 1e-5, 65504.0, float("inf"), float("-inf"), float("nan"), 1.0 / 3])
tensors = {"h": torch.cat([torch.randn(37) * 100, special]).half(),
           "b": torch.cat([torch.randn(23) * 1e30, special, torch.tensor([1e-39])]).bfloat16().reshape(2, 17)}
header, blobs, off = {}, [], 0
for name, t in tensors.items():
    raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
    header[name] = {"dtype": "F16" if t.dtype == torch.float16 else "BF16", "shape": list(t.shape),
                    "data_offsets": [off, off + len(raw)]}
    blobs.append(raw)
    off += len(raw)
text = json.dumps(header).encode()
with open(f"{w}/half.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
dump({k: v for k, v in tensors.items()}, f"{w}/exp_half")

# Most converter cases run in this process (importing torch costs seconds per
# process); the command-line behaviour is tested below with a few real runs.
import contextlib, io, re
sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
sys.path.insert(0, "tools")
import convert_checkpoint as cc

def case(name, argv, error=None):
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            cc.main(argv)
        ok, got = error is None, "converted"
    except cc.ConvertError as e:
        ok, got = error is not None and re.search(error, str(e)) is not None, str(e)
    print(f"PASS {name}" if ok else f"FAIL {name}: got '{got}', want {error or 'success'}")

case("convert_ddp_prefix", [f"{w}/ddp.pt", f"{w}/ddp.safetensors"])
case("convert_legacy_format", [f"{w}/legacy.pt", f"{w}/legacy.safetensors"])
case("convert_model_only_fallback", [f"{w}/model_only.pt", f"{w}/model_only.safetensors"])
x = f"{w}/x.safetensors"
case("convert_unknown_names", [f"{w}/unknown.pt", x], r"unknown\.pt: unknown tensor names .*: blocks\.0\.lazy\.weight, foo\.bar$")
case("convert_non_tensor_entry", [f"{w}/nontensor.pt", x], r"nontensor\.pt: entries that are not tensors: step \(int\)")
case("convert_unknown_wrapper_entry", [f"{w}/wrapper_extra.pt", x], r"wrapper_extra\.pt: unknown checkpoint entries scheduler")
case("convert_int_tensor", [f"{w}/inttensor.pt", x], r"tensor y_embedder\.embedding_table\.weight is torch\.int64")
case("convert_key_on_plain_dict", [f"{w}/plain.pt", x, "--key", "ema"], r"plain\.pt: --key ema given but the file is a plain state dict")
case("convert_missing_key", [f"{w}/model_only.pt", x, "--key", "ema"], r"model_only\.pt: checkpoint has no 'ema' entry")
case("convert_refuses_code_in_legacy_pickle", [f"{w}/evil_legacy.pt", x], r"evil_legacy\.pt: .*refusing to unpickle global 'posix\.system'")
case("convert_missing_dir", [f"{w}/plain.pt", f"{w}/no_dir/o.safetensors"], r"no_dir/o\.safetensors: cannot create a temporary file")
case("convert_missing_input", [f"{w}/nothing.pt", x], r"nothing\.pt: no such file")
EOF
    fail convert_python_cases "$(tail -n 3 "$W/gen.log" | tr '\n' ' ')"
    exit 1
fi

# run NAME CMD...: the command must succeed.
run() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(printf '%s' "$out" | tail -n 2 | tr '\n' ' ')"; fi
}

CMP="$W/st_compare"
by="lazydit tools/convert_checkpoint.py"
run convert_train_ckpt_default "${CONVERT[@]}" "$W/ckpt.pt" "$W/ckpt.safetensors"
run convert_default_is_ema "$CMP" "$W/ckpt.safetensors" "$W/exp_ema" source=ckpt.pt "converted_by=$by" checkpoint_key=ema
expect_fail convert_ema_differs_from_model "tensor .* element 0 is" "$CMP" "$W/ckpt.safetensors" "$W/exp_model"
run convert_key_model "${CONVERT[@]}" "$W/ckpt.pt" "$W/model.safetensors" --key model
run convert_key_model_matches "$CMP" "$W/model.safetensors" "$W/exp_model" checkpoint_key=model
run convert_plain_num_heads "${CONVERT[@]}" "$W/plain.pt" "$W/plain.safetensors" --num-heads 4
run convert_plain_matches "$CMP" "$W/plain.safetensors" "$W/exp_ema" num_heads=4 checkpoint_key=state_dict source=plain.pt
run convert_ddp_prefix_stripped "$CMP" "$W/ddp.safetensors" "$W/exp_model"
run convert_legacy_format_matches "$CMP" "$W/legacy.safetensors" "$W/exp_ema"
run convert_model_only_matches "$CMP" "$W/model_only.safetensors" "$W/exp_model" checkpoint_key=model
run convert_c_f16_bf16_match_torch "$CMP" "$W/half.safetensors" "$W/exp_half"

expect_fail convert_not_a_checkpoint "notackpt\.pt: not a loadable PyTorch checkpoint" \
    "${CONVERT[@]}" "$W/notackpt.pt" "$W/x.safetensors"
expect_fail convert_refuses_code_in_pickle "evil\.pt: .*refusing to unpickle global 'posix\.system'" \
    "${CONVERT[@]}" "$W/evil.pt" "$W/x.safetensors"
if [ -e "$W/pwned" ]; then fail convert_pickle_code_not_run "the pickled os.system ran"; else pass convert_pickle_code_not_run; fi
if [ -e "$W/x.safetensors" ]; then fail convert_failures_write_nothing "x.safetensors exists"; else pass convert_failures_write_nothing; fi
leftover=$(find "$W" -name '*.tmp.*' | head -n 1)
if [ -z "$leftover" ]; then pass convert_no_temporaries_left; else fail convert_no_temporaries_left "$leftover"; fi
