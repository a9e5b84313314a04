"""SavedModel → TF.js graph model with the `tensorflowjs` converter, plus op checks and counts."""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

from jax2tfjs.errors import ExportError, MissingTfjsOpError
from jax2tfjs.export import fold_affine, fusion, legality, merge_matmuls, simplify, softmax_guard

QUANTIZATIONS: dict[str, dict[str, str] | None] = {
    "none": None,
    "float16": {"float16": "*"},
    "uint16": {"uint16": "*"},
    "uint8": {"uint8": "*"},
}
SHARD_BYTES = 4 * 1024 * 1024
# Graph plumbing that is not computation (and that TF.js handles or the converter strips).
NON_COMPUTE_OPS = {
    "Const",
    "Placeholder",
    "Identity",
    "NoOp",
    "ReadVariableOp",
    "VarHandleOp",
    "StatefulPartitionedCall",
    "PartitionedCall",
}


@contextlib.contextmanager
def _env_set(name: str, value: str):
    """`name` set to `value` inside the block, then put back as it was (unset stays unset): a library
    must not change its user's environment."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def _import_tensorflowjs():
    """tensorflowjs, imported without tensorflow_hub's pkg_resources deprecation notice and without
    tensorflow_decision_forests's welcome banner.

    tensorflow_decision_forests (pulled in by tensorflowjs) prints the banner on stdout and, when
    stdout is not a terminal file (pytest's capture, a notebook), imports IPython for it, which is not
    installed. It reads TFDF_DISABLE_WELCOME_MESSAGE once, when imported, so the variable is set for
    the import only. Imported on first use, not with this module: tensorflowjs pulls in TensorFlow,
    tf_keras, tensorflow_hub and tensorflow_decision_forests, which only a conversion or an op check
    needs; the module's tables (QUANTIZATIONS, NON_COMPUTE_OPS) are read without them."""
    with _env_set("TFDF_DISABLE_WELCOME_MESSAGE", "1"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import tensorflowjs
        from tensorflowjs.converters import tf_saved_model_conversion_v2  # noqa: F401
    return tensorflowjs


def tfjs_op_names() -> set[str]:
    """Every TF op TF.js implements, from tensorflowjs's own op_list/*.json."""
    tensorflowjs = _import_tensorflowjs()
    names: set[str] = set()
    for path in glob.glob(os.path.join(os.path.dirname(tensorflowjs.__file__), "op_list", "*.json")):
        with open(path) as fh:
            names.update(entry["tfOpName"] for entry in json.load(fh))
    return names


def check_ops(op_types: list[str], op_sources: dict[str, list[str]]) -> None:
    """Raise MissingTfjsOpError naming each op TF.js lacks and the primitive lines that made it.

    `op_types` are the outer graph's ops; the ops of a loop body live in its own function graph and
    reach us only through `op_sources` (the lowering records every op it emits, bodies included), so
    both are checked: a body op TF.js lacks would otherwise surface only when TF.js runs the loop."""
    emitted = list(op_types) + [op for op in op_sources if op not in op_types]
    missing = [op for op in emitted if op not in tfjs_op_names() and op not in NON_COMPUTE_OPS]
    if missing:
        where = "; ".join(f"{op} from {', '.join(op_sources.get(op, ['?'])[:3])}" for op in missing)
        raise MissingTfjsOpError(
            f"the lowered graph uses TF ops that TF.js lacks: {where}",
            fix="rewrite those lines with other operations, or fix the lowering rule that emits them",
        )


# TF marks some loop-frame nodes (a while loop's Merge) with `_has_manual_control_dependencies` in
# some processes and not in others (it depends on Python's hash seed: measured on the zoo's
# while_loop model, 2 of 3 seeds differ). TF.js ignores the attr; dropped so model.json is a pure
# function of the model (test_cpu_independence compares it byte for byte).
_UNSTABLE_ATTRS = ("_has_manual_control_dependencies",)


def _without_unstable_attrs(graph_def):
    for node in graph_def.node:
        for name in _UNSTABLE_ATTRS:
            if name in node.attr:
                del node.attr[name]
    return graph_def


@contextlib.contextmanager
def _grappler_with_our_fusion(conversion_module: Any):
    """Inside the tensorflowjs converter, grappler runs without `remap`, and `fusion` fuses in
    its place: grappler's remapper fuses per CPU (oneDNN), ours the same everywhere. The converter
    looks `_run_grappler` up on its module at each call, so swapping it there is enough; pinned to
    tensorflowjs 4.22, whose optimize_graph asks for `remap` in its second grappler run.

    A model with a loop (lowering/loops.py) reaches these passes as TF's v1 loop frame, not as a
    StatelessWhile with a function library: the converter freezes with lower_control_flow. Its
    Enter/Merge/Switch/NextIteration/Exit nodes sit between a loop body and the rest, so every
    pattern the passes match stops at a frame's edge; a Const a pass adds inside a frame is a weight,
    which TF.js reads from any frame. Measured: exports with a loop frame match JAX on cpu, wasm and
    webgl (tests/convert_env/test_lowering_control_flow.py)."""
    original = conversion_module._run_grappler

    def run_grappler(config, graph_def, graph, signature_def):
        optimizers = config.graph_options.rewrite_options.optimizers
        fuse = "remap" in optimizers
        optimizers[:] = [name for name in optimizers if name != "remap"]
        optimized = _without_unstable_attrs(original(config, graph_def, graph, signature_def))
        if not fuse:
            return optimized
        outputs = {out.name.split(":")[0] for out in signature_def.outputs.values()}
        # Folding BatchNorm into weights first leaves a plain bias for fusion to fuse.
        optimized = merge_matmuls.merge_matmuls(fold_affine.fold_affine(optimized, outputs), outputs)
        optimized = simplify.simplify(optimized, outputs)
        optimized = softmax_guard.guard_softmax(optimized, outputs)  # webgl's Max starts at -1e20
        return fusion.fuse_contractions(optimized, outputs)

    conversion_module._run_grappler = run_grappler
    try:
        yield
    finally:
        conversion_module._run_grappler = original


def convert(
    saved_model: Path,
    out_dir: Path,
    quantization: str,
    metadata: dict[str, Any],
    backends: tuple[str, ...] | None = None,
) -> legality.Legality:
    """Convert, then make the graph legal on `backends` (default: the claimed cpu, wasm, webgl):
    returns what the legality pass rewrote, for the report; raises BackendError when it cannot."""
    if quantization not in QUANTIZATIONS:
        raise ExportError(
            f"unknown quantization {quantization!r}", fix=f"use one of {', '.join(QUANTIZATIONS)}"
        )
    tf_saved_model_conversion_v2 = _import_tensorflowjs().converters.tf_saved_model_conversion_v2

    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), _grappler_with_our_fusion(tf_saved_model_conversion_v2):
            tf_saved_model_conversion_v2.convert_tf_saved_model(
                str(saved_model),
                str(out_dir),
                signature_def="serving_default",
                saved_model_tags="serve",
                quantization_dtype_map=QUANTIZATIONS[quantization],
                weight_shard_size_bytes=SHARD_BYTES,
                metadata={"jax2tfjs": metadata},
            )
    except ValueError as err:
        raise ExportError(
            f"the tensorflowjs converter refused the graph: {str(err)[:600]}",
            fix="see the op list in the message; report it if a jax2tfjs rule emitted the op",
        ) from err
    model_json = out_dir / "model.json"
    _canonical_model_json(model_json, metadata.get("signature"))
    return legality.make_legal(model_json, backends)


def _identity_index(tensor_name: str) -> int:
    """`Identity_3:0` → 3, `Identity:0` → 0: the position of a frozen function's output."""
    node = tensor_name.split(":")[0]
    suffix = node.rpartition("_")[2] if "_" in node else "0"
    return int(suffix) if suffix.isdigit() else -1


def _named_signature(content: dict[str, Any], signature: dict[str, Any], model_json: Path) -> None:
    """Key model.json's signature by our input and output names. The tensorflowjs converter (4.22,
    `_find_signature_def_name`) matches each tensor to a signature key by dtype and shape alone, so
    two outputs of one shape (a GRU cell's carry and output) or two inputs of one shape fall back to
    tensor names (`Identity_1:0`, `carry:0`), and TF.js could not feed or fetch them by name. Our
    inputs' placeholders carry our names; our outputs are the frozen function's `Identity`,
    `Identity_1`, … in the order TF flattens the output dict (sorted keys)."""
    found = content.get("signature") or {}
    # A reloaded SavedModel's placeholders are named after the inputs, lowercased (`inputIds` has
    # the placeholder `inputids:0`): matched ignoring case (prepare.signatures refuses names alike
    # but for case).
    placeholders = {info["name"].split(":")[0].lower(): info for info in (found.get("inputs") or {}).values()}
    want_in = sorted(t["name"] for t in signature["inputs"])
    inputs = {name: placeholders[name.lower()] for name in want_in if name.lower() in placeholders}
    outputs = sorted((found.get("outputs") or {}).values(), key=lambda info: _identity_index(info["name"]))
    want_out = sorted(t["name"] for t in signature["outputs"])
    if len(inputs) != len(want_in) or len(placeholders) != len(want_in) or len(outputs) != len(want_out):
        raise ExportError(
            f"the tensorflowjs converter wrote a signature with inputs {sorted(placeholders)} and {len(outputs)} "
            f"outputs; the model has inputs {want_in} and outputs {want_out}",
            fix="a bug in jax2tfjs's signature handling; please report it with this message",
            path=model_json.parent,
        )
    content["signature"] = {"inputs": inputs, "outputs": dict(zip(want_out, outputs, strict=True))}


def _canonical_model_json(model_json: Path, signature: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rewrite model.json with sorted keys (and, given our signature, its signature keyed by our
    names): the converter writes each node's attributes in protobuf map order, which differs between
    processes (measured: oneDNN on vs off, same graph), so the same model gave different bytes.
    TF.js reads keys by name; lists keep their order."""
    content = json.loads(model_json.read_text())
    if signature:
        _named_signature(content, signature, model_json)
    model_json.write_text(json.dumps(content, sort_keys=True))
    return content["modelTopology"]


def download_bytes(files: dict[str, int]) -> int:
    """What a browser downloads of a graph model: model.json plus its weight shards (file → size)."""
    return sum(size for name, size in files.items() if name == "model.json" or name.endswith(".bin"))


def graph_ops(model_json: Path) -> dict[str, int]:
    """Op type → count in the converted (optimised, fused) graph model."""
    topology = json.loads(model_json.read_text())["modelTopology"]
    counts: dict[str, int] = {}
    for node in topology.get("node", []):
        counts[node["op"]] = counts.get(node["op"], 0) + 1
    return dict(sorted(counts.items()))


def compute_op_count(ops: dict[str, int]) -> int:
    return sum(n for op, n in ops.items() if op not in NON_COMPUTE_OPS)
