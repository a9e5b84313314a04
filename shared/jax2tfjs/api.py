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
from jax2tfjs.errors import InputSpecError, Jax2TfjsError, ModelInputError, NonFiniteError, SignatureError
from jax2tfjs.export import golden as golden_file
from jax2tfjs.export import legality, savedmodel, swap, tfjs_convert
from jax2tfjs.export import out_dir as out_dir_rules
from jax2tfjs.keypaths import key_path
from jax2tfjs.lowering import tf_module
from jax2tfjs.lowering.context import exported_dtype
from jax2tfjs.prepare import input_spec as specs
from jax2tfjs.prepare import signatures
from jax2tfjs.provenance import package_versions
from jax2tfjs.signature import Signature
from jax2tfjs.signature import Tensor as SignatureTensor

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
    input_spec: dict[str, Any]  # the first input's {name, shape, dtype} (the only one of most models)
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
    # Equations evaluated in JAX at conversion because their inputs are all constants (lowering/folding.py).
    folded_equations: int = 0
    autofixes: list[str] = field(default_factory=list)  # every change auto-fix made (params, input)
    # Named inputs and outputs (jax2tfjs.signature): dims, dtypes, casts at the boundary.
    signature: dict[str, Any] = field(default_factory=dict)
    casts: list[str] = field(default_factory=list)
    # The seal (hashing.SEAL_KEY): sha256 and bytes of every file shipped (model.json, shards, golden.json).
    sealed: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: int = hashing.SEALED_FORMAT  # report.json's format: from 2 on, always sealed
    provenance: dict[str, Any] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)
    # The backend legality pass (export/legality.py): backends checked, rewrites made, verdicts.
    backends: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _input_adapter(
    err: ModelInputError, resolved: sources.ResolvedModel, autofix: bool
) -> specs.InputAdapter | None:
    """After a failed trace: an adapter when a nearby input spec is the same values reshaped (auto-fix
    on), an InputSpecError when another spec fits, None when the input spec does not explain it.
    Only one-input models are tried: with several, which input is wrong is anybody's guess."""
    cause = err.__cause__
    if not resolved.inputs.single:
        return None
    spec = resolved.inputs.specs[0]
    fits = specs.traces(resolved.apply, resolved.params)
    if cause is None or isinstance(cause, Jax2TfjsError) or specs.fits_safely(fits, spec):
        return None  # not a trace failure, or one the input's layout does not explain (e.g. the batch)
    why = f"tracing it failed with {type(cause).__name__}: {str(cause)[:200]}"
    return specs.resolve_misfit(spec, fits, why=why, autofix=autofix)


def _trace(resolved: sources.ResolvedModel, autofix: bool) -> tuple[Any, Any]:
    """(ClosedJaxpr, output shapes). A trace that fails on the input spec but works on a nearby one
    is an input spec mismatch (J2T309); when that spec is the same values reshaped, auto-fix
    reshapes inside the export (the change goes to `resolved.autofixes`) and traces again."""
    try:
        return tf_module.trace(resolved.apply, resolved.params, resolved.inputs)
    except ModelInputError as err:
        adapter = _input_adapter(err, resolved, autofix)
        if adapter is None:
            raise
    resolved.apply = adapter.wrap(resolved.apply)
    resolved.autofixes.append(adapter.describe())
    return tf_module.trace(resolved.apply, resolved.params, resolved.inputs)


def _golden_inputs(
    spec: jax.ShapeDtypeStruct,
    given: np.ndarray | None,
    dims: tuple[int | str, ...],
    sizes: dict[str, int],
    int_limit: int | None = None,
    name: str = "input",
) -> np.ndarray:
    """One input's golden values: each dim its static size, or its symbol's one size (`sizes`: the
    batch `b` is GOLDEN_COUNT rows, any other symbol its size in the spec, the same for every input
    that shares it), so a static export gets exactly its spec and a scalar one value. Floats are
    rounded to 6 decimals so the JSON stays small (JAX's outputs are computed from the rounded
    values, so the check stays exact); integers are drawn from [0, 8) (valid token ids and class
    indices of most tables; below `int_limit` when the model states a smaller one, as BERT's 2 token
    types) and bools mostly True (a mask that keeps most positions), so neither is a constant that
    hides a wrong lowering."""
    shape = tuple(sizes[d] if isinstance(d, str) else d for d in dims)
    if given is not None:
        x = np.asarray(given, dtype=spec.dtype)
        x = x[:GOLDEN_COUNT] if dims and dims[0] == signatures.BATCH else x
        if x.ndim != len(dims) or any(isinstance(d, int) and x.shape[i] != d for i, d in enumerate(dims)):
            takes = [d if isinstance(d, int) else "any" for d in dims]
            static_batch = bool(dims) and isinstance(dims[0], int)
            raise InputSpecError(
                f"golden_inputs for {name} has shape {list(np.shape(given))}, but the export takes {takes}",
                fix=f"pass golden_inputs of that shape{', or dynamic_batch=True' if static_batch else ''}",
            )
        return np.round(x, 6).astype(spec.dtype) if np.issubdtype(x.dtype, np.floating) else x
    rng = np.random.default_rng(0)
    dtype = np.dtype(spec.dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.8
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, min(8, int_limit or 8), size=shape).astype(dtype)
    return np.round(rng.random(shape), 6).astype(dtype)


def _symbol_sizes(inputs: signatures.Inputs) -> dict[str, int]:
    """One golden size per symbol: GOLDEN_COUNT for the batch, else the spec's size where it first
    appears (a (seq, seq) mask and (b, seq) ids must agree on seq)."""
    sizes = {signatures.BATCH: GOLDEN_COUNT}
    for spec, dims in zip(inputs.specs, inputs.dims, strict=True):
        for size, dim in zip(spec.shape, dims, strict=True):
            if isinstance(dim, str):
                sizes.setdefault(dim, int(size))
    return sizes


def _given_leaves(inputs: signatures.Inputs, given: Any) -> list[Any]:
    """golden_inputs as one array (or None) per input: the same pytree as input_spec."""
    if given is None:
        return [None] * len(inputs.specs)
    if inputs.single:
        return [given]
    try:
        return inputs.treedef.flatten_up_to(given)
    except (ValueError, TypeError) as err:
        raise SignatureError(
            f"golden_inputs does not have input_spec's structure ({inputs.describe()}): {str(err)[:200]}",
            fix="pass golden_inputs as the same tuple/dict as input_spec, one array per input",
        ) from None


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
    golden_inputs: Any = None,
    name: str | None = None,
    labels: list[str] | None = None,
    progress: bool = True,
    autofix: bool = True,
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    dynamic_axes: dict[str, Any] | None = None,
    dim_constraints: list[str] | None = None,
    backends: tuple[str, ...] | None = None,
) -> ConversionReport:
    """Convert `model` to a TF.js graph model in `out_dir` (model.json, shards, golden.json,
    report.json) and return the report. See docs/api.md.

    `autofix` (on by default) repairs parameters that have exactly one reading the model accepts
    (wrapped or renamed keys, other frameworks' layouts, dtypes TF.js lacks) and lists each change in
    `report.autofixes`; off, each of those is an error saying what auto-fix would do."""
    quantization = _checked_quantization(quantization)
    backends = legality.checked_backends(backends)
    out_dir = Path(out_dir)
    out_dir_rules.check_replaceable(out_dir)  # before any work: never after minutes of converting
    phases = _Phases(progress)
    resolved = phases.run(
        "restore",
        lambda: sources.resolve(
            model,
            params,
            apply_kwargs,
            input_spec=input_spec,
            autofix=autofix,
            input_names=input_names,
            dynamic_batch=dynamic_batch,
            dynamic_axes=dynamic_axes,
            dim_constraints=dim_constraints,
        ),
    )
    _refuse_non_finite_params(resolved)  # before the long phases: seconds, not minutes, to say so
    closed, out_shapes = phases.run("trace", lambda: _trace(resolved, autofix))
    if progress:
        for change in resolved.autofixes:
            print(f"[convert] autofix: {change}", flush=True)
    names = signatures.output_names(out_shapes, output_names)
    module = phases.run("lower", lambda: _lower(closed, resolved, names))
    signature = _signature(resolved.inputs, out_shapes, names)
    golden = _golden(resolved, names, golden_inputs)
    metadata = _export_metadata(resolved, signature, quantization, name, labels)
    with swap.staging_beside(out_dir) as staging:
        saved_dir, export_dir = staging / "saved_model", staging / "tfjs"
        phases.run("save", lambda: savedmodel.save(module, saved_dir))
        legal = phases.run(
            "tfjs", lambda: tfjs_convert.convert(saved_dir, export_dir, quantization, metadata, backends)
        )
        check = phases.run("check", lambda: _savedmodel_diff(saved_dir, golden))
        _write_golden(export_dir, golden, check)
        report = _report(resolved, module, metadata, export_dir, out_dir, check.max_abs_diff, phases.times)
        report.signature, report.casts = signature.to_dict(), signature.casts()
        report.backends = legal.to_dict()
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


def _lower(closed: Any, resolved: sources.ResolvedModel, output_names: list[str]) -> tf_module.ExportModule:
    """The jaxpr as a TF module; every op it emits must exist in TF.js (MissingTfjsOpError names the
    line that made one that does not)."""
    module = tf_module.ExportModule(closed, resolved.params, resolved.inputs, output_names)
    tfjs_convert.check_ops(module.op_types(), module.ctx.op_sources)
    if module.unused_params:
        resolved.warnings.append(
            f"{len(module.unused_params)} parameter arrays the model never reads are left out of the export "
            f"(e.g. {', '.join(module.unused_params[:3])})"
        )
    return module


def _dims(shape: Any) -> tuple[int | str, ...]:
    return tuple(int(d) if isinstance(d, int | np.integer) else str(d) for d in shape)


def _signature(inputs: signatures.Inputs, out_shapes: Any, names: list[str]) -> Signature:
    """The export's named inputs and outputs, with the dtypes TF.js sees and the model's own."""

    def tensor(name: str, dims: tuple, dtype: Any) -> SignatureTensor:
        exported = np.dtype(exported_dtype(dtype)).name
        own = "bfloat16" if str(dtype) == "bfloat16" else np.dtype(dtype).name
        return SignatureTensor(name, dims, exported, own if own != exported else None)

    return Signature(
        inputs=tuple(
            tensor(name, dims, spec.dtype)
            for name, dims, spec in zip(inputs.names, inputs.dims, inputs.specs, strict=True)
        ),
        outputs=tuple(
            tensor(name, _dims(out.shape), out.dtype)
            for name, out in zip(names, jax.tree.leaves(out_shapes), strict=True)
        ),
    )


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
    inputs: dict[str, np.ndarray]  # by input name, as the export takes them (float32, int32, bool)
    outputs: dict[str, np.ndarray]  # JAX's, by output name, in the dtypes the export returns


def _golden(resolved: sources.ResolvedModel, output_names: list[str], given: Any) -> _Golden:
    """JAX's outputs on the golden inputs; NonFiniteError when they hold NaN or inf (the params are
    finite by now, so the model itself overflows on these inputs), before anything is written."""
    inputs = resolved.inputs
    sizes = _symbol_sizes(inputs)
    leaves = [
        _golden_inputs(spec, leaf, dims, sizes, resolved.int_limits.get(name), name)
        for spec, dims, leaf, name in zip(
            inputs.specs, inputs.dims, _given_leaves(inputs, given), inputs.names, strict=True
        )
    ]
    try:
        raw = jax.tree.leaves(jax.jit(resolved.apply)(resolved.params, inputs.tree(leaves)))
    except Exception as err:  # the model traced on symbols but fails on these sizes
        shapes = ", ".join(f"{name} {list(x.shape)}" for name, x in zip(inputs.names, leaves, strict=True))
        raise ModelInputError(
            f"running the model on the golden inputs ({shapes}) failed: {type(err).__name__}: {str(err)[:300]}",
            fix="pass golden_inputs the model accepts (the same structure as input_spec), or state each input's "
            "dims with dynamic_axes (a symbol shared by inputs takes one size)",
        ) from err
    outputs = {
        name: np.asarray(y).astype(exported_dtype(y.dtype)) for name, y in zip(output_names, raw, strict=True)
    }
    for name, y in outputs.items():
        finite = np.isfinite(y) if y.dtype.kind == "f" else np.ones(y.shape, bool)
        if np.all(finite):
            continue
        bad = int(finite.size - np.count_nonzero(finite))
        rows = sorted({int(index[0]) for index in np.argwhere(~finite)}) if y.ndim else []
        which = f"output {name}" if len(outputs) > 1 else "the model's outputs"
        raise NonFiniteError(
            f"{which} on the golden inputs hold NaN or inf: {bad:,} of {y.size:,} values"
            + (f", for inputs {', '.join(map(str, rows))}" if rows else ""),
            fix="the parameters are finite, so the model overflows or divides by zero on these inputs (exp, "
            "log of 0, a division): make it stable (e.g. log_softmax), or pass golden_inputs it is meant for",
        )
    exported = {
        name: np.asarray(x).astype(exported_dtype(spec.dtype))
        for name, x, spec in zip(inputs.names, leaves, inputs.specs, strict=True)
    }
    return _Golden(exported, outputs)


def _export_metadata(
    resolved: sources.ResolvedModel,
    signature: Signature,
    quantization: str,
    name: str | None,
    labels: list[str] | None,
) -> dict[str, Any]:
    """What model.json's userDefinedMetadata.jax2tfjs records (the web page and verify read it).
    `input` is the first input's, as exports before signatures recorded it."""
    first = signature.inputs[0]
    return {
        "model": name or resolved.name,
        "input": {"name": first.name, "shape": first.shape, "dtype": first.jax_dtype or first.dtype},
        "signature": signature.to_dict(),
        "casts": signature.casts(),
        "labels": labels or resolved.labels,
        "quantization": quantization,
        "source": resolved.provenance,
        "autofixes": resolved.autofixes,
        "packages": package_versions(PACKAGES),
        "converter": "jax2tfjs (own jaxpr lowering; no jax2tf)",
    }


def _savedmodel_diff(saved_dir: Path, golden: _Golden) -> compare.Comparison:
    """The SavedModel against JAX on the golden inputs, output by output, under the shared rule
    (jax2tfjs.compare)."""
    return compare.compare_named(savedmodel.run_saved(saved_dir, golden.inputs), golden.outputs)


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
        folded_equations=module.ctx.folded_equations,
        autofixes=resolved.autofixes,
        sealed=hashing.file_seal(export_dir, files),
        provenance=resolved.provenance,
        packages=metadata["packages"],
    )
