#!/usr/bin/env python3
"""Converts an official PyTorch DiT checkpoint to safetensors (F32) for lazydit.

    python3 tools/convert_checkpoint.py IN.pt OUT.safetensors [--key ema|model] [--num-heads H]

IN.pt is either a plain state dict (like DiT-XL-2-256x256.pt from
facebookresearch/DiT) or a training checkpoint {"model", "ema", "opt", "args"}
as written by DiT's train.py; from the latter "ema" is taken unless --key says
otherwise. A DDP "module." prefix is stripped. Every tensor is stored as
contiguous little-endian float32, sorted by name; metadata records the source
file name, the converter, the entry used and, with --num-heads, "num_heads"
(the head count cannot be derived from the weights).

The file is unpickled with an allow-list (tensors, storages, OrderedDict,
argparse.Namespace and plain containers), so a checkpoint cannot run code;
--trust-pickle lifts that for files you trust. Needs only PyTorch: the
safetensors format is written here with struct and json. Errors are one line
"<path>: <problem>" on stderr and exit status 1.
"""
import argparse
import json
import os
import pickle
import re
import struct
import sys
import tempfile
import types
import warnings

CONVERTED_BY = "lazydit tools/convert_checkpoint.py"
WRAPPER_KEYS = ("model", "ema", "opt", "args")  # DiT train.py checkpoint entries

# Every parameter name of the official DiT (models.py); anything else is an error.
DIT_NAME = re.compile(
    r"^(?:pos_embed"
    r"|x_embedder\.proj\.(?:weight|bias)"
    r"|t_embedder\.mlp\.[02]\.(?:weight|bias)"
    r"|y_embedder\.embedding_table\.weight"
    r"|blocks\.\d+\.(?:attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2|adaLN_modulation\.1)\.(?:weight|bias)"
    r"|final_layer\.(?:adaLN_modulation\.1|linear)\.(?:weight|bias))$"
)


class ConvertError(Exception):
    """A problem with the input or output, reported as one line."""


def restricted_pickle_module(torch):
    """A pickle module for torch.load whose Unpickler only resolves the globals
    a checkpoint needs. torch.load(weights_only=True) would refuse the
    argparse.Namespace that DiT's train.py stores under "args"."""
    allowed = {}
    try:  # torch's own weights-only allow-list (tensors, storages, rebuild functions)
        from torch._weights_only_unpickler import _get_allowed_globals

        allowed.update(_get_allowed_globals())
    except ImportError:
        pass
    allowed.update({
        "collections.OrderedDict": __import__("collections").OrderedDict,
        "torch._utils._rebuild_tensor_v2": torch._utils._rebuild_tensor_v2,
        "torch._utils._rebuild_parameter": torch._utils._rebuild_parameter,
        "argparse.Namespace": argparse.Namespace,
        "_codecs.encode": __import__("codecs").encode,  # how protocol 2 pickles bytes
        "builtins.set": set,
        "builtins.frozenset": frozenset,
    })
    for name in dir(torch):
        if isinstance(getattr(torch, name), torch.dtype):
            allowed["torch." + name] = getattr(torch, name)

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            key = module + "." + name
            if key not in allowed:
                raise pickle.UnpicklingError(f"refusing to unpickle global '{key}' (rerun with --trust-pickle only if you trust the file)")
            return allowed[key]

    mod = types.ModuleType("lazydit_restricted_pickle")
    mod.Unpickler = Unpickler
    mod.load = lambda f, **kw: Unpickler(f, **kw).load()
    return mod


def restricted_load(torch, f):
    """torch.load through the allow-list unpickler. torch 1.13's torch.load
    replaces any pickle_module with the standard pickle unless weights_only is
    set, so this repeats its dispatch on the (long-stable) private loaders."""
    ser = torch.serialization
    mod = restricted_pickle_module(torch)
    if ser._is_zipfile(f):
        with ser._open_zipfile_reader(f) as zf:
            if ser._is_torchscript_zip(zf):
                raise pickle.UnpicklingError("a TorchScript archive, not a checkpoint")
            return ser._load(zf, "cpu", mod, encoding="utf-8")
    return ser._legacy_load(f, "cpu", mod, encoding="utf-8")  # the pre-1.6 format


def load_checkpoint(torch, path, trust):
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")
    try:
        with warnings.catch_warnings(), open(path, "rb") as f:
            warnings.simplefilter("ignore")
            return torch.load(f, map_location="cpu") if trust else restricted_load(torch, f)
    except Exception as e:  # torch raises many types for a file that is not a checkpoint
        msg = " ".join(str(e).split()) or type(e).__name__
        raise ConvertError(f"{path}: not a loadable PyTorch checkpoint ({msg})")


def select_state_dict(torch, path, obj, key):
    """Returns (state dict, entry used) after checking the checkpoint's shape."""
    if not isinstance(obj, dict):
        raise ConvertError(f"{path}: top level is a {type(obj).__name__}, expected a state dict or a checkpoint dict")
    is_wrapper = any(k in ("model", "ema") and isinstance(obj[k], dict) for k in obj)
    if not is_wrapper:
        if key is not None:
            raise ConvertError(f"{path}: --key {key} given but the file is a plain state dict")
        return obj, "state_dict"
    unknown = sorted(str(k) for k in obj if k not in WRAPPER_KEYS)
    if unknown:
        raise ConvertError(f"{path}: unknown checkpoint entries {', '.join(unknown)} (expected {', '.join(WRAPPER_KEYS)})")
    key = key or ("ema" if "ema" in obj else "model")
    if key not in obj:
        raise ConvertError(f"{path}: checkpoint has no '{key}' entry (has {', '.join(sorted(map(str, obj)))})")
    if not isinstance(obj[key], dict):
        raise ConvertError(f"{path}: checkpoint entry '{key}' is a {type(obj[key]).__name__}, not a state dict")
    return obj[key], key


def clean_tensors(torch, path, sd, entry):
    """Validates names and values; returns {name: contiguous float32 CPU tensor}."""
    where = "" if entry == "state_dict" else f" in '{entry}'"
    out = {}
    not_tensors = [f"{k} ({type(v).__name__})" for k, v in sd.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ConvertError(f"{path}: entries{where} that are not tensors: {', '.join(map(str, not_tensors[:8]))}")
    for k, v in sd.items():
        name = k[len("module."):] if isinstance(k, str) and k.startswith("module.") else k
        if not isinstance(name, str):
            raise ConvertError(f"{path}: tensor key {name!r}{where} is not a string")
        if name in out:
            raise ConvertError(f"{path}: two tensors named {name}{where} once 'module.' is stripped")
        if v.layout != torch.strided or not v.is_floating_point():
            raise ConvertError(f"{path}: tensor {name}{where} is {v.dtype} {v.layout}, expected a dense float tensor")
        out[name] = v.detach().to(device="cpu", dtype=torch.float32).contiguous()
    unknown = sorted(n for n in out if not DIT_NAME.match(n))
    if unknown:
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise ConvertError(f"{path}: unknown tensor names{where} (not DiT parameters): {', '.join(unknown[:10])}{more}")
    if not out:
        raise ConvertError(f"{path}: no tensors{where}")
    return out


def write_safetensors(path, tensors, metadata):
    """F32 safetensors: header sorted by name, padded with spaces to a multiple
    of 8, written to a temporary file in the same directory and renamed."""
    header = {"__metadata__": metadata}
    offset = 0
    names = sorted(tensors)
    for name in names:
        nbytes = tensors[name].numel() * 4
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".tmp.")
    except OSError as e:
        raise ConvertError(f"{path}: cannot create a temporary file next to it: {e.strerror}")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for name in names:
                f.write(tensors[name].numpy().astype("<f4", copy=False).tobytes())
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp makes 0600; give the permissions open() would
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise ConvertError(f"{path}: write failed: {e.strerror or e}")
        raise


def main(argv):
    ap = argparse.ArgumentParser(description="Convert a PyTorch DiT checkpoint to F32 safetensors for lazydit.")
    ap.add_argument("input", help="state dict or training checkpoint (.pt)")
    ap.add_argument("output", help="output .safetensors path (written atomically)")
    ap.add_argument("--key", choices=("ema", "model"), help="entry of a training checkpoint (default: ema if present)")
    ap.add_argument("--num-heads", type=int, help="attention heads, stored as metadata 'num_heads'")
    ap.add_argument("--trust-pickle", action="store_true", help="unpickle without the allow-list (runs code in the file)")
    args = ap.parse_args(argv)
    if args.num_heads is not None and args.num_heads <= 0:
        ap.error("--num-heads must be positive")
    try:
        import torch
    except ImportError as e:
        raise ConvertError(f"{args.input}: PyTorch is needed to read checkpoints ({e})")
    obj = load_checkpoint(torch, args.input, args.trust_pickle)
    sd, entry = select_state_dict(torch, args.input, obj, args.key)
    tensors = clean_tensors(torch, args.input, sd, entry)
    metadata = {"source": os.path.basename(args.input), "converted_by": CONVERTED_BY, "checkpoint_key": entry}
    if args.num_heads is not None:
        metadata["num_heads"] = str(args.num_heads)
    write_safetensors(args.output, tensors, metadata)
    total = sum(t.numel() for t in tensors.values())
    print(f"{args.output}: {len(tensors)} tensors, {total} parameters from '{entry}' of {args.input}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ConvertError as e:
        print(e, file=sys.stderr)
        sys.exit(1)
