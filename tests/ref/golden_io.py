"""Shared by the golden generators: write a golden file atomically, so an
interrupted generator never leaves a half-written golden that the C tests would
then misread."""
import json
import os


def write_json_atomic(path, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
