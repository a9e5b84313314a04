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

With `browser` backends (`--browser=webgl,wasm`, what `make zoo` runs), each export also runs in
headless Chromium on those TF.js backends (jax2tfjs.browser: one browser for the whole zoo) with the
same random inputs, compared with JAX's outputs under the same rule and named `chromium-<backend>`
in `backends`; a row passes only when every backend, Node and browser, passes. A browser backend the
browser does not offer (webgpu without an adapter) is listed under `browser_skipped`, not failed.

Inputs are fed to TF.js by the names the export's signature gives them (its input order is JAX's
flatten order of the input pytree, so the random inputs' leaves pair with it in order); JAX's outputs
are the reference's output pytree flattened by `jax.tree_util` and paired in order with the
signature's output names (dict keys sorted, dataclass fields in order, as the converter names them).
"""

from __future__ import annotations

import contextlib
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
from jax2tfjs.browser import session as browser_session
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


def _figures(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray], golden: Any) -> dict[str, Any]:
    """One backend's comparison with JAX's outputs (and with golden.json's, the converter's own)."""
    result = compare.compare_named(actual, expected)
    return {
        "max_abs_diff": result.max_abs_diff,
        "rel_err": result.rel_err,
        "worst_output": result.worst_output or next(iter(expected)),
        "per_output": result.per_output
        or {next(iter(expected)): {"max_abs_diff": result.max_abs_diff, "rel_err": result.rel_err}},
        "golden_rel_err": compare.compare_named(actual, golden.outputs).rel_err,
    }


def _run_in_browser(
    row: dict[str, Any],
    browser: browser_session.ChromiumSession,
    backends: Sequence[str],
    folder: Path,
    fed: dict[str, np.ndarray],
    expected: dict[str, np.ndarray],
    golden: Any,
) -> None:
    """The export in Chromium on each browser backend, its figures beside the Node backends'. A
    backend that could not run it is an entry with `error` (the row fails); one not offered is skipped."""
    for backend in backends:
        name = browser_session.backend_name(backend)
        (outcome,) = browser.run(backend, [browser_session.BrowserRuns(folder, {"zoo": fed}, "zoo")])
        if outcome.skipped is not None:
            row.setdefault("browser_skipped", {})[name] = outcome.skipped
        elif outcome.error is not None:
            row["backends"][name] = {"error": outcome.error}
        else:
            row["backends"][name] = {
                **_figures(outcome.outputs["zoo"], expected, golden),
                "load_ms": outcome.load_ms,
                "infer_ms": outcome.predict_ms,
            }


def run_entry(
    entry: ZooEntry,
    out_root: Path,
    backends: Sequence[str] = ("wasm",),
    *,
    batch: int = 4,
    seed: int = 0,
    tolerance: float = TOLERANCE,
    browser: browser_session.ChromiumSession | None = None,
    browser_backends: Sequence[str] = (),
) -> dict[str, Any]:
    """Build, convert, run in TF.js on every backend (and in `browser` on `browser_backends`), compare;
    never raises for a model's failure. `batch` is the rows fed where the batch is dynamic; a
    static-batch entry gets its spec's own."""
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
        row["backends"][backend] = _figures(actual, expected, golden)
    if browser is not None and browser_backends:
        _run_in_browser(row, browser, browser_backends, report.out_dir, fed, expected, golden)
    ran = [r for r in row["backends"].values() if "error" not in r]
    worst = max(ran, key=lambda r: r["rel_err"])  # the Node backends ran: a failure returned above
    row["max_abs_diff"] = max(r["max_abs_diff"] for r in ran)
    row["rel_err"], row["worst_output"] = worst["rel_err"], worst["worst_output"]
    failed = {name: r["error"] for name, r in row["backends"].items() if "error" in r}
    if failed:
        name, message = next(iter(failed.items()))
        row.update(error=f"tfjs-{name}", error_message=f"tfjs-{name}: {message}")
    row["passed"] = not failed and row["rel_err"] <= tolerance
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
    browser: Sequence[str] = (),
) -> dict[str, Any]:
    """Rows for `selected` plus the summary (success rate, worst |Δ|, targets met). With `browser`
    backends, one Chromium serves every model; what it offered is the result's `browser`."""
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        raise ModelInputError(
            f"unknown TF.js backend(s) {unknown or backends}", fix=f"use one or more of {', '.join(BACKENDS)}"
        )
    if browser:
        browser_session.check_setup(browser)
    out_root = Path(out_root)
    rows = []
    with contextlib.ExitStack() as stack:
        session = stack.enter_context(browser_session.ChromiumSession()) if browser else None
        for entry in selected:
            print(f"[zoo] {entry.name} ({entry.style}) ...", file=sys.stderr, flush=True)
            row = run_entry(
                entry,
                out_root,
                backends,
                batch=batch,
                seed=seed,
                tolerance=tolerance,
                browser=session,
                browser_backends=browser,
            )
            rows.append(row)
            if on_row is not None:
                on_row(row)
        offered = dict(session.info) if session is not None else None
    names = [*backends, *(browser_session.backend_name(b) for b in browser)]
    result = {
        "rows": rows,
        "summary": summarize(rows, tolerance, names),
        "config": _config(backends, batch, seed),
    }
    result["config"]["browser"] = list(browser)
    if offered is not None:
        result["browser"] = offered
    return result


def _per_backend(rows: Sequence[dict[str, Any]], names: Sequence[str], tolerance: float) -> dict[str, Any]:
    """Per backend: how many models ran on it and how many of those were within the tolerance."""
    counts = {}
    for name in names:
        results = [r["backends"][name] for r in rows if name in (r.get("backends") or {})]
        ran = [r for r in results if "error" not in r]
        counts[name] = {"ran": len(ran), "passed": sum(r["rel_err"] <= tolerance for r in ran)}
    return counts


def summarize(
    rows: Sequence[dict[str, Any]], tolerance: float = TOLERANCE, backends: Sequence[str] = ()
) -> dict[str, Any]:
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
        "per_backend": _per_backend(rows, backends, tolerance),
    }


def _config(backends: Sequence[str], batch: int, seed: int) -> dict[str, Any]:
    return {"backends": list(backends), "batch": batch, "seed": seed, "quantization": "none"}
