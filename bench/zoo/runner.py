"""Convert every zoo model, run the export in real TF.js (Node) on random inputs, compare to JAX.

A row per model: converted or the error code, max |Δ| and the relative error against JAX (per
output, the worst named), TF.js compute ops, model bytes and conversion time. A `Jax2TfjsError` is
recorded by its code (the stage says whether conversion or TF.js raised it); an export whose
signature does not name or count the inputs and outputs as the entry does is `signature`; any other
exception is a crash, recorded with its type and message, and counts as a failure.

The comparison is the package's own (jax2tfjs.compare, the rule verify and doctor use too): relative
error = max|Δ| / max(1, max|y_jax|), each output on its own scale (`compare_named`). A model passes
when it converted, its signature names what the entry expects, it ran, and its worst output's
relative error is within the tolerance on every backend.

Inputs are fed to TF.js by the names the export's signature gives them (its input order is JAX's
flatten order of the input pytree, so the random inputs' leaves pair with it in order); JAX's outputs
are the reference's output pytree flattened by `jax.tree_util` and paired in order with the
signature's output names (dict keys sorted, dataclass fields in order, as the converter names them).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
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


def convert_entry(entry: ZooEntry, built: Any, out_root: Path, golden_inputs: Any = None) -> Any:
    """Convert a built zoo model into out_root/<name> as the zoo does; returns the ConversionReport.
    `golden_inputs` (optional) are in the entry's input structure."""
    return to_tensorflowjs(
        built.model,
        built.params,
        input_spec=entry.input_struct(),
        out_dir=out_root / entry.name,
        quantization="none",
        # A zoo model must convert as written: a pass that needed an auto-fix would hide a gap.
        autofix=False,
        apply_kwargs=built.apply_kwargs,
        dynamic_batch=entry.dynamic_batch,
        dynamic_axes=entry.dynamic_axes(),
        golden_inputs=golden_inputs,
        name=entry.name,
        progress=False,
    )


class SignatureMismatch(Exception):
    """The export's signature does not name or count the inputs and outputs the entry expects."""


def _named(arrays: list[np.ndarray], tensors: list[dict[str, Any]], what: str) -> dict[str, np.ndarray]:
    if len(arrays) != len(tensors):
        raise SignatureMismatch(
            f"the model has {len(arrays)} {what}s, the export's signature {len(tensors)} "
            f"({', '.join(t['name'] for t in tensors)})"
        )
    return {t["name"]: a for t, a in zip(tensors, arrays, strict=True)}


def _expected_names(entry: ZooEntry, signature: dict[str, Any]) -> None:
    """An input the entry names (its argument name or key) must have that name in the export."""
    found = [t["name"] for t in signature["inputs"]]
    wanted = [spec.name for spec in entry.inputs]
    if any(w is not None and w != f for w, f in zip(wanted, found, strict=False)):
        raise SignatureMismatch(f"the export names its inputs {found}, the entry expects {wanted}")


def run_entry(
    entry: ZooEntry,
    out_root: Path,
    backends: Sequence[str] = ("wasm",),
    *,
    batch: int = 4,
    seed: int = 0,
    tolerance: float = TOLERANCE,
) -> dict[str, Any]:
    """Build, convert, run in TF.js on every backend, compare; never raises for a model's failure.
    `batch` is the rows fed where the batch is dynamic; a static-batch entry gets its spec's own."""
    row: dict[str, Any] = {
        "name": entry.name,
        "style": entry.style,
        "description": entry.description,
        "tags": list(entry.tags),
        "inputs": [spec.describe(entry.dynamic_batch) for spec in entry.inputs],
        "converted": False,
        "error": None,
        "passed": False,
    }
    try:
        built = entry.build(seed)
        inputs = entry.random_inputs(np.random.default_rng(seed), batch)
        outputs = [np.asarray(y) for y in jax.tree_util.tree_leaves(built.reference(inputs))]
    except Exception as err:  # the zoo's own model failed: a crash in the zoo, not the converter
        return _failure(row, "build", err)
    row["max_abs_jax"] = max(float(np.max(np.abs(y.astype(np.float64)), initial=0.0)) for y in outputs)
    started = time.perf_counter()
    try:
        report = convert_entry(entry, built, out_root, golden_inputs=inputs)
    except Exception as err:
        row["convert_s"] = round(time.perf_counter() - started, 2)
        return _failure(row, "convert", err)
    row.update(
        converted=True,
        convert_s=round(time.perf_counter() - started, 2),
        signature=report.signature,
        casts=list(report.casts),
        tfjs_compute_ops=report.tfjs_compute_ops,
        tfjs_ops={op: n for op, n in report.tfjs_ops.items() if op not in NON_COMPUTE_OPS},
        model_bytes=report.model_bytes,
        savedmodel_max_abs_diff=report.savedmodel_max_abs_diff,
        warnings=report.warnings,
        # Zoo models need no repair; anything auto-fix changed is listed (and shown in zoo.md).
        autofixes=list(getattr(report, "autofixes", [])),
        backends={},
    )
    try:
        _expected_names(entry, report.signature)
        fed = _named(jax.tree_util.tree_leaves(inputs), report.signature["inputs"], "input")
        expected = _named(outputs, report.signature["outputs"], "output")
    except SignatureMismatch as err:
        row.update(error="signature", error_message=f"signature: {err}", passed=False)
        return row
    row["outputs"] = [{"name": n, "shape": list(y.shape), "dtype": y.dtype.name} for n, y in expected.items()]
    # golden.json holds the converter's JAX outputs for these inputs; the zoo's reference is the
    # model as written.
    golden = golden_file.read(report.out_dir)
    for backend in backends:
        try:
            # The inputs are golden.json's, so the runner's own self-check would only repeat this one.
            actual, _ = run_in_tfjs(report.out_dir, fed, backend, golden_self_check=False)
        except Exception as err:
            return _failure(row, f"tfjs-{backend}", err)
        result = compare.compare_named(actual, expected)
        row["backends"][backend] = {
            "max_abs_diff": result.max_abs_diff,
            "rel_err": result.rel_err,
            "worst_output": result.worst_output or next(iter(expected)),
            "per_output": result.per_output
            or {next(iter(expected)): {"max_abs_diff": result.max_abs_diff, "rel_err": result.rel_err}},
            "golden_rel_err": compare.compare_named(actual, golden.outputs).rel_err,
        }
    worst = max(row["backends"].values(), key=lambda r: r["rel_err"])
    row["max_abs_diff"] = max(r["max_abs_diff"] for r in row["backends"].values())
    row["rel_err"], row["worst_output"] = worst["rel_err"], worst["worst_output"]
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
        "rule": f"passed = converted, ran in TF.js, and {RELATIVE_RULE} <= {tolerance:g} for every output on every backend",
        "failed": [r["name"] for r in rows if not r["passed"]],
        "targets_met": bool(rows) and len(passed) == len(rows),
    }


def _config(backends: Sequence[str], batch: int, seed: int) -> dict[str, Any]:
    return {"backends": list(backends), "batch": batch, "seed": seed, "quantization": "none"}
