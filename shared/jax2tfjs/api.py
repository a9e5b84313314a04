"""`to_tensorflowjs`: one entry point from a JAX/Flax model to a verified TF.js graph model.

Phases, one function each: restore (`sources.resolve`: the model and its params, prepared), trace
(`_trace`: make_jaxpr, symbolic batch), lower (`_lower`: jaxpr → tf.function, op check against
TF.js's op list), save (SavedModel), tfjs (the tensorflowjs converter with quantization), check
(`_savedmodel_diff`: SavedModel vs JAX on golden inputs), publish (`export.swap`). Everything is
written into a temporary folder beside `out_dir` and renamed into place at the end, so a failed run
never leaves a half export and never damages the previous one.

Non-finite parameters are refused right after restore, non-finite golden outputs before anything is
written (NonFiniteError): either would ship an export that computes garbage, with a golden.json no
JSON reader accepts. report.json seals the export: the sha256 and size of every file it ships
(`hashing.SEAL_KEY`), which verify and doctor check first.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jax2tfjs import atomic, compare, hashing, sources
from jax2tfjs.errors import InputSpecError, Jax2TfjsError, ModelInputError, NonFiniteError
from jax2tfjs.export import golden as golden_file
from jax2tfjs.export import out_dir as out_dir_rules
from jax2tfjs.export import savedmodel, swap, tfjs_convert
from jax2tfjs.keypaths import key_path
from jax2tfjs.lowering import tf_module
from jax2tfjs.prepare import input_spec as specs
from jax2tfjs.provenance import package_versions

GOLDEN_COUNT = 8
# Leaves named in a NonFiniteError; the count says how many more there are.
NAMED_LEAVES = 8
PACKAGES = ("jax", "jaxlib", "flax", "tensorflow", "tensorflowjs", "numpy")


@dataclass
class ConversionReport:
    model: str
    form: str
    quantization: str
    out_dir: str
    input_spec: dict[str, Any]
    labels: list[str] | None
    files: dict[str, int]
    total_bytes: int
    model_bytes: int  # what a browser downloads: model.json + weight shards
    weight_bytes: int
    tf_ops: list[str]
    tfjs_ops: dict[str, int]
    tfjs_compute_ops: int
    savedmodel_max_abs_diff: float
    phases_s: dict[str, float]
    warnings: list[str]
    autofixes: list[str] = field(default_factory=list)  # every change auto-fix made (params, input)
    # The seal (hashing.SEAL_KEY): sha256 and bytes of every file shipped (model.json, shards, golden.json).
    sealed: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: int = hashing.SEALED_FORMAT  # report.json's format: from 2 on, always sealed
    provenance: dict[str, Any] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _input_adapter(
    err: ModelInputError, resolved: sources.ResolvedModel, spec: jax.ShapeDtypeStruct, autofix: bool
) -> specs.InputAdapter | None:
    """After a failed trace: an adapter when a nearby input spec is the same values reshaped (auto-fix
    on), an InputSpecError when another spec fits, None when the input spec does not explain it."""
    cause = err.__cause__
    fits = specs.traces(resolved.apply, resolved.params)
    if cause is None or isinstance(cause, Jax2TfjsError) or specs.fits_safely(fits, spec):
        return None  # not a trace failure, or one the input's layout does not explain (e.g. the batch)
    why = f"tracing it failed with {type(cause).__name__}: {str(cause)[:200]}"
    return specs.resolve_misfit(spec, fits, why=why, autofix=autofix)


def _trace(
    resolved: sources.ResolvedModel, spec: jax.ShapeDtypeStruct, dynamic_batch: bool, autofix: bool
) -> Any:
    """The ClosedJaxpr. A trace that fails on the input spec but works on a nearby one is an input
    spec mismatch (J2T309); when that spec is the same values reshaped, auto-fix reshapes inside
    the export (the change goes to `resolved.autofixes`) and traces again."""
    try:
        return tf_module.trace(resolved.apply, resolved.params, spec, dynamic_batch)
    except ModelInputError as err:
        adapter = _input_adapter(err, resolved, spec, autofix)
        if adapter is None:
            raise
    resolved.apply = adapter.wrap(resolved.apply)
    resolved.autofixes.append(adapter.describe())
    return tf_module.trace(resolved.apply, resolved.params, spec, dynamic_batch)


def _golden_inputs(spec: jax.ShapeDtypeStruct, given: np.ndarray | None, dynamic_batch: bool) -> np.ndarray:
    """A few inputs for golden.json: GOLDEN_COUNT rows with a dynamic batch, exactly the spec's batch
    with a static one (the export takes no other). Floats are rounded to 6 decimals so the JSON stays
    small (JAX's outputs are computed from the rounded values, so the check stays exact); integers
    are drawn from [0, 8) (valid token ids and class indices of any table) and bools mostly True (a
    mask that keeps most positions), so neither is a constant that hides a wrong lowering."""
    rows = GOLDEN_COUNT if dynamic_batch or not spec.shape else spec.shape[0]
    shape = (rows, *spec.shape[1:]) if spec.shape else ()
    if given is not None:
        x = np.asarray(given, dtype=spec.dtype)
        x = x[:rows] if spec.shape else x
        if x.shape != shape and not dynamic_batch:
            raise InputSpecError(
                f"golden_inputs has shape {list(np.shape(given))}, but the export's input is static at {list(shape)}",
                fix=f"pass golden_inputs with exactly {rows} rows, or dynamic_batch=True",
            )
        return np.round(x, 6).astype(spec.dtype) if np.issubdtype(x.dtype, np.floating) else x
    rng = np.random.default_rng(0)
    dtype = np.dtype(spec.dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.8
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 8, size=shape).astype(dtype)
    return np.round(rng.random(shape), 6).astype(dtype)


class _Phases:
    def __init__(self, progress: bool):
        self.times: dict[str, float] = {}
        self.progress = progress

    def run(self, name: str, fn: Any) -> Any:
        started = time.perf_counter()
        if self.progress:
            print(f"[convert] {name} ...", flush=True)
        result = fn()
        self.times[name] = round(time.perf_counter() - started, 3)
        if self.progress:
            print(f"[convert] {name} done in {self.times[name]:.2f} s", flush=True)
        return result


def to_tensorflowjs(
    model: Any,
    params: Any = None,
    *,
    input_spec: Any = None,
    out_dir: str | Path,
    quantization: str | None = None,
    dynamic_batch: bool = True,
    apply_kwargs: dict | None = None,
    golden_inputs: np.ndarray | None = None,
    name: str | None = None,
    labels: list[str] | None = None,
    progress: bool = True,
    autofix: bool = True,
) -> ConversionReport:
    """Convert `model` to a TF.js graph model in `out_dir` (model.json, shards, golden.json,
    report.json) and return the report. See docs/api.md.

    `autofix` (on by default) repairs parameters that have exactly one reading the model accepts
    (wrapped or renamed keys, other frameworks' layouts, dtypes TF.js lacks) and lists each change in
    `report.autofixes`; off, each of those is an error saying what auto-fix would do."""
    quantization = _checked_quantization(quantization)
    out_dir = Path(out_dir)
    out_dir_rules.check_replaceable(out_dir)  # before any work: never after minutes of converting
    phases = _Phases(progress)
    resolved = phases.run(
        "restore",
        lambda: sources.resolve(model, params, apply_kwargs, input_spec=input_spec, autofix=autofix),
    )
    _refuse_non_finite_params(resolved)  # before the long phases: seconds, not minutes, to say so
    spec = resolved.input_spec
    closed = phases.run("trace", lambda: _trace(resolved, spec, dynamic_batch, autofix))
    if progress:
        for change in resolved.autofixes:
            print(f"[convert] autofix: {change}", flush=True)
    module = phases.run("lower", lambda: _lower(closed, resolved, spec, dynamic_batch))
    golden = _golden(resolved, spec, golden_inputs, dynamic_batch)
    metadata = _export_metadata(resolved, spec, dynamic_batch, quantization, name, labels)
    with swap.staging_beside(out_dir) as staging:
        saved_dir, export_dir = staging / "saved_model", staging / "tfjs"
        phases.run("save", lambda: savedmodel.save(module, saved_dir))
        phases.run("tfjs", lambda: tfjs_convert.convert(saved_dir, export_dir, quantization, metadata))
        check = phases.run("check", lambda: _savedmodel_diff(saved_dir, golden))
        _write_golden(export_dir, golden, check)
        report = _report(resolved, module, metadata, export_dir, out_dir, check.max_abs_diff, phases.times)
        atomic.write_json(export_dir / "report.json", report.to_dict())
        swap.replace_dir(export_dir, out_dir)
    return report


def _checked_quantization(quantization: str | None) -> str:
    quantization = quantization or "none"
    if quantization not in tfjs_convert.QUANTIZATIONS:
        raise ModelInputError(
            f"unknown quantization {quantization!r}",
            fix=f"use one of {', '.join(tfjs_convert.QUANTIZATIONS)}",
        )
    return quantization


def _lower(
    closed: Any, resolved: sources.ResolvedModel, spec: jax.ShapeDtypeStruct, dynamic_batch: bool
) -> tf_module.ExportModule:
    """The jaxpr as a TF module; every op it emits must exist in TF.js (MissingTfjsOpError names the
    line that made one that does not)."""
    module = tf_module.ExportModule(closed, resolved.params, spec, dynamic_batch)
    tfjs_convert.check_ops(module.op_types(), module.ctx.op_sources)
    return module


def _non_finite_leaves(params: Any) -> list[tuple[str, int, int]]:
    """(key path, non-finite values, values) of each floating leaf holding NaN or inf."""
    found = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        dtype = getattr(leaf, "dtype", None)
        if dtype is None or not jnp.issubdtype(dtype, jnp.inexact):
            continue  # integers and bools are always finite; keys and other leaves hold no weights
        values = np.asarray(leaf)
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            found.append((key_path(path), bad, int(values.size)))
    return found


def _refuse_non_finite_params(resolved: sources.ResolvedModel) -> None:
    bad = _non_finite_leaves(resolved.params)
    if not bad:
        return
    named = ", ".join(f"{name} ({count:,} of {size:,} values)" for name, count, size in bad[:NAMED_LEAVES])
    more = f", and {len(bad) - NAMED_LEAVES} more" if len(bad) > NAMED_LEAVES else ""
    checkpoint = resolved.provenance.get("checkpoint")
    fix = (
        "training diverged before this checkpoint: convert an earlier step (STEP=), or retrain with a lower "
        "learning rate (LR=)"
        if checkpoint
        else "find where the parameters became NaN or inf (a diverged training, a bad cast or load) and pass "
        "finite ones"
    )
    leaves = "leaf holds" if len(bad) == 1 else "leaves hold"
    raise NonFiniteError(f"{len(bad)} parameter {leaves} NaN or inf: {named}{more}", fix=fix, path=checkpoint)


@dataclass(frozen=True)
class _Golden:
    inputs: np.ndarray
    outputs: np.ndarray  # JAX's, as float32


def _golden(
    resolved: sources.ResolvedModel, spec: jax.ShapeDtypeStruct, given: np.ndarray | None, dynamic_batch: bool
) -> _Golden:
    """JAX's outputs on the golden inputs; NonFiniteError when they hold NaN or inf (the params are
    finite by now, so the model itself overflows on these inputs), before anything is written."""
    x = _golden_inputs(spec, given, dynamic_batch)
    outputs = np.asarray(jax.jit(resolved.apply)(resolved.params, x), dtype=np.float32)
    finite = np.isfinite(outputs)
    if not np.all(finite):
        bad = int(finite.size - np.count_nonzero(finite))
        rows = sorted({int(index[0]) for index in np.argwhere(~finite)}) if outputs.ndim else []
        raise NonFiniteError(
            f"the model's outputs on the golden inputs hold NaN or inf: {bad:,} of {outputs.size:,} values"
            + (f", for inputs {', '.join(map(str, rows))}" if rows else ""),
            fix="the parameters are finite, so the model overflows or divides by zero on these inputs (exp, "
            "log of 0, a division): make it stable (e.g. log_softmax), or pass golden_inputs it is meant for",
        )
    return _Golden(x, outputs)


def _export_metadata(
    resolved: sources.ResolvedModel,
    spec: jax.ShapeDtypeStruct,
    dynamic_batch: bool,
    quantization: str,
    name: str | None,
    labels: list[str] | None,
) -> dict[str, Any]:
    """What model.json's userDefinedMetadata.jax2tfjs records (the web page and verify read it)."""
    return {
        "model": name or resolved.name,
        "input": {
            "name": savedmodel.INPUT_NAME,
            "shape": [None if dynamic_batch else spec.shape[0], *spec.shape[1:]],
            "dtype": str(spec.dtype),
        },
        "labels": labels or resolved.labels,
        "quantization": quantization,
        "source": resolved.provenance,
        "autofixes": resolved.autofixes,
        "packages": package_versions(PACKAGES),
        "converter": "jax2tfjs (own jaxpr lowering; no jax2tf)",
    }


def _savedmodel_diff(saved_dir: Path, golden: _Golden) -> compare.Comparison:
    """The SavedModel against JAX on the golden inputs, under the shared rule (jax2tfjs.compare)."""
    return compare.compare(savedmodel.run_saved(saved_dir, golden.inputs), golden.outputs)


def _write_golden(export_dir: Path, golden: _Golden, check: compare.Comparison) -> None:
    golden_file.write(export_dir, golden.inputs, golden.outputs, savedmodel=check)


def _report(
    resolved: sources.ResolvedModel,
    module: tf_module.ExportModule,
    metadata: dict[str, Any],
    export_dir: Path,
    out_dir: Path,
    max_diff: float,
    phases_s: dict[str, float],
) -> ConversionReport:
    ops = tfjs_convert.graph_ops(export_dir / "model.json")
    files = {p.name: p.stat().st_size for p in sorted(export_dir.iterdir()) if p.is_file()}
    return ConversionReport(
        model=metadata["model"],
        form=resolved.form,
        quantization=metadata["quantization"],
        out_dir=str(out_dir),
        input_spec=metadata["input"],
        labels=metadata["labels"],
        files=files,
        total_bytes=sum(files.values()),
        model_bytes=tfjs_convert.download_bytes(files),
        weight_bytes=sum(size for file, size in files.items() if file.endswith(".bin")),
        tf_ops=module.op_types(),
        tfjs_ops=ops,
        tfjs_compute_ops=tfjs_convert.compute_op_count(ops),
        savedmodel_max_abs_diff=max_diff,
        phases_s=phases_s,
        warnings=sorted({*resolved.warnings, *module.ctx.warnings}),
        autofixes=resolved.autofixes,
        sealed=hashing.file_seal(export_dir, files),
        provenance=resolved.provenance,
        packages=metadata["packages"],
    )
