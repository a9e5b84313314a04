"""Convert every zoo model, run the export in real TF.js (Node) on random inputs, compare to JAX.

A row per model: converted or the error code, max |Δ| and the relative error against JAX, TF.js
compute ops, model bytes and conversion time. A `Jax2TfjsError` is recorded by its code (the
stage says whether conversion or TF.js raised it); any other exception is a crash, recorded with
its type and message, and counts as a failure.

The comparison is the package's own (jax2tfjs.compare, the rule verify and doctor use too): relative
error = max|Δ| / max(1, max|y_jax|). A model passes when it converted, ran, and its relative error
is within the tolerance on every backend.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.zoo.registry import ZooEntry
from jax2tfjs import compare
from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.compare import RELATIVE_RULE, TOLERANCE
from jax2tfjs.errors import Jax2TfjsError, ModelInputError
from jax2tfjs.export import golden as golden_file
from jax2tfjs.export.tfjs_convert import NON_COMPUTE_OPS
from jax2tfjs.tfjs_runtime import BACKENDS, run_in_tfjs


def _failure(row: dict[str, Any], stage: str, err: BaseException) -> dict[str, Any]:
    if isinstance(err, Jax2TfjsError):
        row["error"] = err.code
        row["error_message"] = f"{stage}: {err.cause}"
    else:
        row["error"] = f"crash:{type(err).__name__}"
        row["error_message"] = f"{stage}: {type(err).__name__}: {str(err)[:600]}"
    row["passed"] = False
    return row


def convert_entry(
    entry: ZooEntry, built: Any, out_root: Path, golden_inputs: np.ndarray | None = None
) -> Any:
    """Convert a built zoo model into out_root/<name> as the zoo does; returns the ConversionReport."""
    return to_tensorflowjs(
        built.model,
        built.params,
        input_spec=entry.input.struct(),
        out_dir=out_root / entry.name,
        quantization="none",
        # A zoo model must convert as written: a pass that needed an auto-fix would hide a gap.
        autofix=False,
        apply_kwargs=built.apply_kwargs,
        golden_inputs=golden_inputs,
        name=entry.name,
        progress=False,
    )


def run_entry(
    entry: ZooEntry,
    out_root: Path,
    backends: Sequence[str] = ("wasm",),
    *,
    batch: int = 4,
    seed: int = 0,
    tolerance: float = TOLERANCE,
) -> dict[str, Any]:
    """Build, convert, run in TF.js on every backend, compare; never raises for a model's failure."""
    row: dict[str, Any] = {
        "name": entry.name,
        "style": entry.style,
        "description": entry.description,
        "tags": list(entry.tags),
        "input": {"shape": [None, *entry.input.shape[1:]], "dtype": entry.input.dtype},
        "converted": False,
        "error": None,
        "passed": False,
    }
    try:
        built = entry.build(seed)
        x = entry.input.random(np.random.default_rng(seed), batch)
        expected = np.asarray(built.reference(x), dtype=np.float32)
    except Exception as err:  # the zoo's own model failed: a crash in the zoo, not the converter
        return _failure(row, "build", err)
    row["output_shape"] = [None, *expected.shape[1:]]
    row["max_abs_jax"] = float(np.max(np.abs(expected)))
    started = time.perf_counter()
    try:
        report = convert_entry(entry, built, out_root, golden_inputs=x)
    except Exception as err:
        row["convert_s"] = round(time.perf_counter() - started, 2)
        return _failure(row, "convert", err)
    row.update(
        converted=True,
        convert_s=round(time.perf_counter() - started, 2),
        tfjs_compute_ops=report.tfjs_compute_ops,
        tfjs_ops={op: n for op, n in report.tfjs_ops.items() if op not in NON_COMPUTE_OPS},
        model_bytes=report.model_bytes,
        savedmodel_max_abs_diff=report.savedmodel_max_abs_diff,
        warnings=report.warnings,
        # Zoo models need no repair; anything auto-fix changed is listed (and shown in zoo.md).
        autofixes=list(getattr(report, "autofixes", [])),
        backends={},
    )
    # golden.json holds the converter's JAX outputs for x; the zoo's reference is the model as written.
    golden = golden_file.read(report.out_dir)
    for backend in backends:
        try:
            # x is golden.json's input, so the runner's own self-check would only repeat this one.
            actual, _ = run_in_tfjs(report.out_dir, x, backend, golden_self_check=False)
        except Exception as err:
            return _failure(row, f"tfjs-{backend}", err)
        result = compare.compare(np.asarray(actual), expected)
        row["backends"][backend] = {
            "max_abs_diff": result.max_abs_diff,
            "rel_err": result.rel_err,
            "golden_rel_err": compare.compare(np.asarray(actual), golden.outputs).rel_err,
        }
    row["max_abs_diff"] = max(r["max_abs_diff"] for r in row["backends"].values())
    row["rel_err"] = max(r["rel_err"] for r in row["backends"].values())
    row["passed"] = row["rel_err"] <= tolerance
    return row


def run_zoo(
    selected: Sequence[ZooEntry],
    out_root: str | Path,
    backends: Sequence[str] = ("wasm",),
    *,
    batch: int = 4,
    seed: int = 0,
    tolerance: float = TOLERANCE,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Rows for `selected` plus the summary (success rate, worst |Δ|, targets met)."""
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        raise ModelInputError(
            f"unknown TF.js backend(s) {unknown or backends}", fix=f"use one or more of {', '.join(BACKENDS)}"
        )
    out_root = Path(out_root)
    rows = []
    for entry in selected:
        print(f"[zoo] {entry.name} ({entry.style}) ...", file=sys.stderr, flush=True)
        row = run_entry(entry, out_root, backends, batch=batch, seed=seed, tolerance=tolerance)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return {"rows": rows, "summary": summarize(rows, tolerance), "config": _config(backends, batch, seed)}


def summarize(rows: Sequence[dict[str, Any]], tolerance: float = TOLERANCE) -> dict[str, Any]:
    passed = [r for r in rows if r["passed"]]
    measured = [r["max_abs_diff"] for r in rows if r.get("max_abs_diff") is not None]
    worst_rel = [r["rel_err"] for r in rows if r.get("rel_err") is not None]
    return {
        "models": len(rows),
        "converted": sum(r["converted"] for r in rows),
        "passed": len(passed),
        "success_rate": len(passed) / len(rows) if rows else 0.0,
        "worst_max_abs_diff": max(measured, default=None),
        "worst_rel_err": max(worst_rel, default=None),
        "tolerance": tolerance,
        "rule": f"passed = converted, ran in TF.js, and {RELATIVE_RULE} <= {tolerance:g} on every backend",
        "failed": [r["name"] for r in rows if not r["passed"]],
        "targets_met": bool(rows) and len(passed) == len(rows),
    }


def _config(backends: Sequence[str], batch: int, seed: int) -> dict[str, Any]:
    return {"backends": list(backends), "batch": batch, "seed": seed, "quantization": "none"}
