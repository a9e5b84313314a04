"""The inspector's catalog: `index.json` listing every TF.js export folder under a root, at any depth.

The model inspector (web/inspect.html) reads the demo's index (publish.py, MNIST exports keyed by
model and quantization) and this one (any folder tree of exports: `make zoo`'s) with one reader,
so both share the top level {"format", "updated", "exports": [...]} and an entry's "model_json"
(relative to the root), "total_bytes" and "signature" ({"inputs": [...], "outputs": [...]}, each
tensor {name, shape, dtype}).

An export folder is one holding model.json. Dot folders (a swap's `.none.old-…`, staging
`.<name>.….tmp`) and `*.tmp` folders are never exports and are not searched; nginx refuses to serve
them anyway. Only the standard library and jax2tfjs.atomic are imported, so `make web` can write a
catalog without TensorFlow or JAX.

    python -m jax2tfjs.export.catalog DIR     # writes DIR/index.json
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from jax2tfjs import atomic

INDEX_FILE = "index.json"
FORMAT = 1
# tensorflowjs's signature dtypes (TensorFlow's DataType enum names) as TF.js names them.
_TF_DTYPES = {"DT_FLOAT": "float32", "DT_INT32": "int32", "DT_BOOL": "bool", "DT_STRING": "string"}


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.endswith(atomic.TEMP_SUFFIX)


def export_folders(root: Path) -> list[Path]:
    """Every folder under root (root included) that holds model.json, sorted by relative path;
    hidden and temporary folders are not entered."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not _hidden(d))
        if "model.json" in files:
            found.append(Path(folder))
    return sorted(found, key=lambda f: f.relative_to(root).as_posix())


def _tf_tensor(key: str, raw: dict[str, Any]) -> dict[str, Any]:
    dims = (raw.get("tensorShape") or {}).get("dim") or []
    shape = [None if int(d.get("size", -1)) < 0 else int(d["size"]) for d in dims]
    return {"name": key, "shape": shape, "dtype": _TF_DTYPES.get(raw.get("dtype"), raw.get("dtype"))}


def signature_of(model_json: dict[str, Any], report: dict[str, Any] | None) -> dict[str, Any] | None:
    """report.json's signature, else the one jax2tfjs wrote into model.json's metadata, else
    model.json's own (tensorflowjs's, keyed by name) in the same shape; None when there is none."""
    for source in (report or {}, (model_json.get("userDefinedMetadata") or {}).get("jax2tfjs") or {}):
        if isinstance(source.get("signature"), dict):
            return source["signature"]
    raw = model_json.get("signature")
    if not isinstance(raw, dict):
        return None
    return {
        side: [_tf_tensor(key, tensor) for key, tensor in sorted((raw.get(side) or {}).items())]
        for side in ("inputs", "outputs")
    }


def quantization_of(model_json: dict[str, Any]) -> str:
    """The weights' quantization dtype (float16, uint8, uint16), or "none" for float32 weights."""
    found = {
        weight["quantization"].get("dtype")
        for group in model_json.get("weightsManifest") or []
        for weight in group.get("weights") or []
        if isinstance(weight.get("quantization"), dict)
    }
    return ",".join(sorted(d for d in found if d)) or "none"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        payload = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def entry(folder: Path, root: Path) -> dict[str, Any] | None:
    """The catalog entry of one export folder; None (with a warning) when its model.json is unreadable."""
    model_path = folder / "model.json"
    model_json = _read_json(model_path)
    if model_json is None:
        print(f"[catalog] warning: {model_path} is not a JSON object; left out", file=sys.stderr)
        return None
    shards = [p for group in model_json.get("weightsManifest") or [] for p in group.get("paths") or []]
    total = model_path.stat().st_size + sum(
        (folder / p).stat().st_size for p in shards if (folder / p).is_file()
    )
    relative = folder.relative_to(root).as_posix()
    report = _read_json(folder / "report.json")
    return {
        "name": folder.name if relative == "." else relative,
        "model_json": (folder / "model.json").relative_to(root).as_posix(),
        "total_bytes": total,
        "shards_missing": [p for p in shards if not (folder / p).is_file()],
        "signature": signature_of(model_json, report),
        "quantization": quantization_of(model_json),
        "has_golden": (folder / "golden.json").is_file(),
    }


def write(root: str | Path) -> dict[str, Any]:
    """Write root/index.json (atomically) listing every export under root; returns it."""
    root = Path(root)
    exports = [e for folder in export_folders(root) if (e := entry(folder, root)) is not None]
    index = {
        "format": FORMAT,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "exports": exports,
    }
    atomic.write_json(root / INDEX_FILE, index)
    return index


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(
            "usage: python -m jax2tfjs.export.catalog DIR  (an existing folder of TF.js exports)",
            file=sys.stderr,
        )
        return 2
    index = write(argv[0])
    print(f"[catalog] wrote {Path(argv[0]) / INDEX_FILE}: {len(index['exports'])} exports")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
