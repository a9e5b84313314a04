"""Publishing exports for the web page: `index.json` (every export with its size and metrics) and
`samples.json` (a few real test inputs with labels). `publish` is the one step convert and verify
both end with.

The index is rebuilt from the export folders themselves (report.json, and verify.json once
verified), so it can never list an export that is gone or miss one that exists. Hidden folders (an
old export left aside by an interrupted swap, staging folders) are never exports; publishing first
repairs them (export/swap.py). One export's damaged report.json or verify.json costs that export its
place (or its verdict) in the index, with a warning that names the file and the fix, never the index.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from jax2tfjs import atomic
from jax2tfjs.export import swap

INDEX_FILE = "index.json"
SAMPLES_FILE = "samples.json"
SAMPLE_COUNT = 20
QUANT_ORDER = ("none", "float16", "uint16", "uint8")
SAMPLES_SOURCE = "the test split"


def export_folders(root: str | Path, model: str | None = None, quantization: str | None = None) -> list[Path]:
    """Export folders under root (any `<model>/<quant>/` holding report.json or model.json), by model
    then in QUANT_ORDER, optionally only one model's or one quantization's."""
    root = Path(root)
    found = {
        p.parent
        for pattern in ("*/*/report.json", "*/*/model.json")
        for p in root.glob(pattern)
        # pathlib's glob matches dotfiles: `.none.old-…` and `.none.….tmp` are not exports
        if not any(part.startswith(".") for part in p.relative_to(root).parts)
    }
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


# report.json keys the index shows, with their types (bool is not an int here).
REPORT_KEYS = {
    "model": str,
    "quantization": str,
    "model_bytes": int,
    "total_bytes": int,
    "weight_bytes": int,
    "tfjs_compute_ops": int,
}


def _warn(message: str) -> None:
    print(f"[publish] warning: {message}", file=sys.stderr, flush=True)


def read_object(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or ValueError saying what is wrong with the file."""
    try:
        payload = json.loads(path.read_text())
    except UnicodeDecodeError as err:
        raise ValueError(f"not text ({err.reason})") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(payload, dict):
        raise ValueError(f"a JSON {type(payload).__name__}, not an object")
    return payload


def _checked_object(path: Path, wanted: dict[str, type]) -> dict[str, Any]:
    """`read_object`, and ValueError unless every key in `wanted` holds a value of its type."""
    payload = read_object(path)
    wrong = [
        key
        for key, kind in wanted.items()
        if not isinstance(payload.get(key), kind) or (kind is int and isinstance(payload.get(key), bool))
    ]
    if wrong:
        raise ValueError(f"keys missing or of the wrong type: {', '.join(wrong)}")
    return payload


def _make_args(folder: Path) -> str:
    return f"MODEL={folder.parent.name} QUANT={folder.name}"


def _reconvert(folder: Path) -> str:
    return f"convert it again (`make convert {_make_args(folder)}`)"


def read_report(folder: Path) -> dict[str, Any] | None:
    """The export's report.json, or None with a warning naming the file and the fix when it is
    missing or damaged (invalid JSON, not an object, keys missing)."""
    path = folder / "report.json"
    try:
        return _checked_object(path, REPORT_KEYS)
    except (OSError, ValueError) as err:
        reason = "missing" if isinstance(err, FileNotFoundError) else f"damaged: {err}"
        _warn(f"{path} is {reason}; left out of {INDEX_FILE}. fix: {_reconvert(folder)}")
        return None


VERIFY_KEYS = {"passed": bool, "failures": list}


def read_verify(folder: Path) -> dict[str, Any] | None:
    """The export's verify.json, or None when it has not been verified; None with a warning naming
    the file and the fix when it is damaged."""
    path = folder / "verify.json"
    if not path.exists():
        return None
    try:
        return _checked_object(path, VERIFY_KEYS)
    except (OSError, ValueError) as err:
        _warn(
            f"{path} is damaged ({err}); its verdict is left out. fix: verify it again "
            f"(`make verify {_make_args(folder)}`)"
        )
        return None


def _entry(folder: Path, root: Path) -> dict[str, Any] | None:
    if not (folder / "model.json").exists():
        _warn(f"{folder / 'model.json'} is missing; left out of {INDEX_FILE}. fix: {_reconvert(folder)}")
        return None
    report = read_report(folder)
    if report is None:
        return None
    verify = read_verify(folder)
    provenance = report.get("provenance") if isinstance(report.get("provenance"), dict) else {}
    metrics = provenance.get("metrics") if isinstance(provenance.get("metrics"), dict) else {}
    return {
        "model": report["model"],
        "quantization": report["quantization"],
        "model_json": str((folder / "model.json").relative_to(root)),
        "model_bytes": report["model_bytes"],
        "total_bytes": report["total_bytes"],
        "weight_bytes": report["weight_bytes"],
        "tfjs_compute_ops": report["tfjs_compute_ops"],
        "labels": report.get("labels"),
        # Named inputs and outputs (jax2tfjs.signature); exports from before signatures have none.
        "signature": report.get("signature") if isinstance(report.get("signature"), dict) else None,
        "step": provenance.get("step"),
        "jax_test_accuracy": metrics.get("test_accuracy"),
        "verified": None if verify is None else _verify_summary(verify),
    }


def _verify_summary(row: dict[str, Any]) -> dict[str, Any]:
    """What the web page shows next to a model: pass/fail and TF.js's accuracy (wasm preferred)."""
    backends = row.get("tfjs") if isinstance(row.get("tfjs"), dict) else {}
    main = backends.get("wasm") or next(iter(backends.values()), None) or {}
    main = main if isinstance(main, dict) else {}
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
    """Repair what interrupted jobs left under root, then write index.json from the export folders."""
    root = Path(root)
    swap.repair(root)
    entries = [entry for folder in export_folders(root) if (entry := _entry(folder, root)) is not None]
    index = {"format": 1, "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "exports": entries}
    atomic.write_json(root / INDEX_FILE, index)
    return index


def balanced_sample_indices(labels: Any, count: int) -> list[int]:
    """Up to `count` positions in `labels`, spread evenly over the classes: round r takes the r-th
    occurrence of every label (in label order), so 20 MNIST digits are two of each 0..9 and the
    page's sample button walks 0, 1, ..., 9, 0, 1, ... Deterministic: same labels, same picks."""
    by_label: dict[int, list[int]] = {}
    for position, label in enumerate(int(v) for v in labels):
        by_label.setdefault(label, []).append(position)
    picks: list[int] = []
    rounds = max((len(v) for v in by_label.values()), default=0)
    for r in range(rounds):
        for label in sorted(by_label):
            if r < len(by_label[label]) and len(picks) < count:
                picks.append(by_label[label][r])
        if len(picks) >= count:
            break
    return picks


def write_samples(
    root: str | Path, images: Any, labels: Any, count: int = SAMPLE_COUNT, source: str = SAMPLES_SOURCE
) -> None:
    """`count` test inputs as stored (the demo's are uint8 0..255 digits), flattened row-major, with
    their labels, for the page's "Sample digit" button and test-digit strip: a balanced set
    (`balanced_sample_indices`), not the split's first few, which may lack a class entirely."""
    picks = balanced_sample_indices(labels, count)
    payload = {
        "source": source,
        "images": [[int(v) for v in images[i].reshape(-1)] for i in picks],
        "labels": [int(labels[i]) for i in picks],
    }
    atomic.write_json(Path(root) / SAMPLES_FILE, payload)


def publish(
    root: str | Path, samples: tuple[Any, Any] | None = None, samples_source: str = SAMPLES_SOURCE
) -> dict[str, Any]:
    """Rebuild index.json and, given (images, labels), write samples.json; return the index."""
    if samples is not None:
        write_samples(root, *samples, source=samples_source)
    return rebuild(root)
