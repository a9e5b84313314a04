"""Publishing exports for the web page: `index.json` (every export with its size and metrics) and
`samples.json` (a few real test inputs with labels). `publish` is the one step convert and verify
both end with.

The index is rebuilt from the export folders themselves (report.json, and verify.json once
verified), so it can never list an export that is gone or miss one that exists.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from jax2tfjs import atomic

INDEX_FILE = "index.json"
SAMPLES_FILE = "samples.json"
SAMPLE_COUNT = 20
QUANT_ORDER = ("none", "float16", "uint16", "uint8")
SAMPLES_SOURCE = "the test split"


def export_folders(root: str | Path, model: str | None = None, quantization: str | None = None) -> list[Path]:
    """Export folders under root (any `<model>/<quant>/` holding report.json or model.json), by model
    then in QUANT_ORDER, optionally only one model's or one quantization's."""
    root = Path(root)
    found = {p.parent for pattern in ("*/*/report.json", "*/*/model.json") for p in root.glob(pattern)}
    order = {q: i for i, q in enumerate(QUANT_ORDER)}
    return sorted(
        (
            f
            for f in found
            if (model is None or f.parent.name == model) and (quantization is None or f.name == quantization)
        ),
        key=lambda f: (f.parent.name, order.get(f.name, len(order)), f.name),
    )


def jax2tfjs_metadata(model_json: dict[str, Any]) -> dict[str, Any]:
    """What jax2tfjs wrote into a parsed model.json (model, input, quantization, source...); {} for a
    graph model jax2tfjs did not write."""
    return (model_json.get("userDefinedMetadata") or {}).get("jax2tfjs") or {}


def _entry(folder: Path, root: Path) -> dict[str, Any] | None:
    try:
        report = json.loads((folder / "report.json").read_text())
    except (OSError, ValueError):
        return None
    if not (folder / "model.json").exists():
        return None
    verify_path = folder / "verify.json"
    verify = _verify_summary(json.loads(verify_path.read_text())) if verify_path.exists() else None
    metrics = (report.get("provenance") or {}).get("metrics") or {}
    return {
        "model": report["model"],
        "quantization": report["quantization"],
        "model_json": str((folder / "model.json").relative_to(root)),
        "model_bytes": report["model_bytes"],
        "total_bytes": report["total_bytes"],
        "weight_bytes": report["weight_bytes"],
        "tfjs_compute_ops": report["tfjs_compute_ops"],
        "labels": report.get("labels"),
        "step": (report.get("provenance") or {}).get("step"),
        "jax_test_accuracy": metrics.get("test_accuracy"),
        "verified": verify,
    }


def _verify_summary(row: dict[str, Any]) -> dict[str, Any]:
    """What the web page shows next to a model: pass/fail and TF.js's accuracy (wasm preferred)."""
    backends = row.get("tfjs") or {}
    main = backends.get("wasm") or next(iter(backends.values()), None) or {}
    return {
        "passed": row["passed"],
        "samples": row.get("samples", 0),
        "tfjs_accuracy": main.get("accuracy"),
        "accuracy_drop_points": main.get("accuracy_drop_points"),
        "max_abs_diff": main.get("max_abs_diff"),
        "infer_ms_batch1": main.get("infer_ms_batch1"),
        "failures": row["failures"],
    }


def rebuild(root: str | Path) -> dict[str, Any]:
    root = Path(root)
    entries = [entry for folder in export_folders(root) if (entry := _entry(folder, root)) is not None]
    index = {"format": 1, "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "exports": entries}
    atomic.write_json(root / INDEX_FILE, index)
    return index


def write_samples(
    root: str | Path, images: Any, labels: Any, count: int = SAMPLE_COUNT, source: str = SAMPLES_SOURCE
) -> None:
    """The first `count` test inputs as stored (the demo's are uint8 0..255 digits), flattened row-major,
    with their labels, for the page's "sample" button."""
    payload = {
        "source": source,
        "images": [[int(v) for v in image.reshape(-1)] for image in images[:count]],
        "labels": [int(label) for label in labels[:count]],
    }
    atomic.write_json(Path(root) / SAMPLES_FILE, payload)


def publish(
    root: str | Path, samples: tuple[Any, Any] | None = None, samples_source: str = SAMPLES_SOURCE
) -> dict[str, Any]:
    """Rebuild index.json and, given (images, labels), write samples.json; return the index."""
    if samples is not None:
        write_samples(root, *samples, source=samples_source)
    return rebuild(root)
