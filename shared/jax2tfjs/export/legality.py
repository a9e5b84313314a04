"""Backend legality: after the tensorflowjs converter, make model.json run on every target backend
(export/backend_limits.py says what each runs), or refuse with a BackendError naming the backend,
the node and the op.

Rewrites, each keeping the name of the node consumers read, so they and the signature still resolve:
- a fused activation some target lacks (`_FusedMatMul[BiasAdd, Tanh]`, what grappler's oneDNN
  remapper makes on AVX-512 machines) becomes the fused op with its bias only (renamed
  `<name>/fused`) followed by the activation as its own node under the old name;
- a fused op's constant bias of shape [1, …, 1, C], on a backend that needs rank 1, is declared [C]
  in the weights manifest (the same bytes, row-major) when only fused biases read that constant;
- on wasm, `Cast` to bool (wrong values there) becomes `NotEqual(x, ZerosLike(x))`.
Refused: graph ops a target has no kernel for, dtypes a target's kernel refuses, fused-op forms
TF.js misreads (it reads `fused_ops` as one bias then one activation), and rewrites needed inside a
control-flow function body (their inputs are spelled `node:arg:index`; not handled).

model.json is read and written as plain JSON (no TensorFlow needed), keys sorted as
tfjs_convert writes it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jax2tfjs.errors import BackendError
from jax2tfjs.export.backend_limits import CLAIMED, FUSED_OPS, LIMITS, BackendLimits

# Fused activations the pass can split off: each is a TF.js graph op every backend has a kernel for.
# GeluExact / GeluApproximate (oneDNN's) are not: no single TF.js op computes them.
UNFUSABLE = ("Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid", "Tanh", "Prelu")
# Activation → (the fused op's attribute, the separate op's attribute); Prelu's alpha is an input.
_ACTIVATION_ATTRS = {"LeakyRelu": ("leakyrelu_alpha", "alpha")}
# Refusals named in one error; the count says how many more there are.
NAMED_REFUSALS = 8


@dataclass
class Legality:
    """What the pass did, for report.json: the backends checked, those only named (unverified), the
    rewrites made (one line each) and, per backend, its verdict."""

    backends: list[str]
    unverified: list[str] = field(default_factory=list)
    rewrites: list[str] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backends": self.backends,
            "unverified": self.unverified,
            "rewrites": self.rewrites,
            "verdicts": self.verdicts,
        }


def fused_ops_of(node: dict[str, Any]) -> list[str]:
    """The `fused_ops` attribute of a model.json node, decoded (model.json stores strings base64)."""
    listed = node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])
    return [base64.b64decode(op).decode() for op in listed]


def _encoded(names: list[str]) -> list[str]:
    return [base64.b64encode(name.encode()).decode() for name in names]


def checked_backends(backends: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """The target backends, validated; None means the claimed ones (cpu, wasm, webgl)."""
    chosen = tuple(CLAIMED if backends is None else backends)
    unknown = [name for name in chosen if name not in LIMITS]
    if unknown or not chosen:
        raise BackendError(
            f"unknown TF.js backend(s) {unknown or '(none given)'}",
            fix=f"name one or more of {', '.join(LIMITS)} (default: {', '.join(CLAIMED)})",
        )
    return chosen


@dataclass
class _Pass:
    content: dict[str, Any]
    targets: list[BackendLimits]
    legality: Legality
    refusals: list[str] = field(default_factory=list)

    @property
    def nodes(self) -> list[dict[str, Any]]:
        return self.content["modelTopology"]["node"]

    def weight_specs(self) -> dict[str, dict[str, Any]]:
        return {spec["name"]: spec for group in self.content["weightsManifest"] for spec in group["weights"]}

    def refuse(self, backends: list[str], node: dict[str, Any], why: str) -> None:
        self.refusals.append(f"{'/'.join(backends)}: node {node['name']!r} ({node['op']}) {why}")

    def lacking(self, test) -> list[str]:
        return [limits.name for limits in self.targets if test(limits)]


def make_legal(model_json: Path, backends: tuple[str, ...] | list[str] | None = None) -> Legality:
    """Rewrite `model_json` in place into the form every backend of `backends` runs; raise
    BackendError listing what no rewrite fixes. Returns what was done, for the report."""
    chosen = checked_backends(backends)
    content = json.loads(model_json.read_text())
    verified = [LIMITS[name] for name in chosen if LIMITS[name].verified]
    legality = Legality(
        backends=list(chosen), unverified=[name for name in chosen if not LIMITS[name].verified]
    )
    run = _Pass(content, verified, legality)
    for node in list(run.nodes):
        _check_node(run, node, in_function=None)
    for function in content["modelTopology"].get("library", {}).get("function", []):
        for node in function.get("nodeDef", []):
            _check_node(run, node, in_function=function.get("signature", {}).get("name", "?"))
    if run.refusals:
        named = "; ".join(run.refusals[:NAMED_REFUSALS])
        more = len(run.refusals) - NAMED_REFUSALS
        raise BackendError(
            f"the converted graph has ops TF.js backends cannot run: {named}"
            + (f"; and {more} more" if more > 0 else ""),
            fix=(
                "convert with backends=(...) leaving those backends out (the export then must not run "
                "there), or rewrite the model lines that make those ops (docs/coverage.md)"
            ),
            path=model_json,
        )
    if legality.rewrites:
        model_json.write_text(json.dumps(content, sort_keys=True))
    for name in chosen:
        legality.verdicts[name] = (
            "legal: ops, fused activations, bias ranks and dtypes checked against backend_limits"
            if LIMITS[name].verified
            else "unverified: no limits measured for this backend, nothing checked"
        )
    return legality


def _check_node(run: _Pass, node: dict[str, Any], in_function: str | None) -> None:
    op = node["op"]
    lacking = run.lacking(lambda limits: op in limits.missing_ops)
    if lacking:
        kernel = LIMITS[lacking[0]].missing_ops[op]
        run.refuse(lacking, node, f"needs the kernel {kernel!r}, which that backend does not register")
    for limits in run.targets:
        for limit in limits.dtype_limits:
            if op in limit.ops and node.get("attr", {}).get(limit.attr, {}).get("type") == limit.dtype:
                # The one limit with wrong values, a cast to bool, has a rewrite; the rest are refused.
                if limit.effect == "wrong" and op == "Cast" and in_function is None:
                    _cast_to_bool_as_not_equal(run, node, limits.name)
                else:
                    run.refuse([limits.name], node, f"on {limit.dtype}: {limit.message}")
    if op in FUSED_OPS:
        _check_fused(run, node, in_function)


def _check_fused(run: _Pass, node: dict[str, Any], in_function: str | None) -> None:
    fused = fused_ops_of(node)
    if fused and (fused[0] != "BiasAdd" or len(fused) > 2) and run.targets:
        # TF.js reads fused_ops[0] as the bias and [1] as the activation: [Relu] alone would drop the
        # relu, [BiasAdd, Add, Relu] the add; FusedBatchNorm it refuses.
        every = [limits.name for limits in run.targets]
        run.refuse(
            every, node, f"fuses {'+'.join(fused)}; TF.js runs a fused op as one bias then one activation"
        )
        return
    activation = fused[1] if len(fused) == 2 else None
    lacking = run.lacking(
        lambda limits: activation is not None and activation not in limits.fused_activations
    )
    if lacking and in_function is None:
        _unfuse_activation(run, node, activation, lacking)
    elif lacking:
        run.refuse(lacking, node, f"fuses {activation}, inside function {in_function} (not rewritten there)")
    if fused and in_function is None:
        _rank1_bias(run, node)


def _unfuse_activation(run: _Pass, node: dict[str, Any], activation: str, lacking: list[str]) -> None:
    """`name: Fused[BiasAdd, Act](x, w, b[, alpha])` → `name/fused: Fused[BiasAdd](x, w, b)` and
    `name: Act(name/fused[, alpha])`: consumers keep reading `name`."""
    if activation not in UNFUSABLE:
        run.refuse(lacking, node, f"fuses {activation}, which no single TF.js op computes to split it into")
        return
    names = {other["name"] for other in run.nodes}
    fused_name = f"{node['name']}/fused"
    while fused_name in names:
        fused_name += "_"
    data = [name for name in node["input"] if not name.startswith("^")]
    controls = [name for name in node["input"] if name.startswith("^")]
    attr = node["attr"]
    separate: dict[str, Any] = {"name": node["name"], "op": activation, "input": [fused_name]}
    separate["attr"] = {"T": attr.get("T", {"type": "DT_FLOAT"})}
    if activation == "Prelu":
        separate["input"].append(data[3])
        data = data[:3]
    if activation in _ACTIVATION_ATTRS:
        fused_attr, own_attr = _ACTIVATION_ATTRS[activation]
        separate["attr"][own_attr] = {"f": attr.get(fused_attr, {}).get("f", 0.2)}
    if "device" in node:
        separate["device"] = node["device"]
    node["name"] = fused_name
    node["input"] = [*data, *controls]
    attr["fused_ops"] = {"list": {"s": _encoded(["BiasAdd"])}}
    attr["num_args"] = {"i": "1"}
    run.nodes.insert(run.nodes.index(node) + 1, separate)
    run.legality.rewrites.append(
        f"{separate['name']}: {node['op']}[BiasAdd, {activation}] split into {node['op']}[BiasAdd] + "
        f"{activation} (fused {activation} fails on {', '.join(lacking)})"
    )


def _rank1_bias(run: _Pass, node: dict[str, Any]) -> None:
    """Declare a [1, …, 1, C] constant bias as [C] when a target needs rank 1 for this fused op. A
    computed bias is not checked: model.json does not say its rank (our fusion fuses constants only)."""
    lacking = run.lacking(lambda limits: node["op"] in limits.rank1_bias)
    data = [name for name in node["input"] if not name.startswith("^")]
    bias_name = data[2].split(":")[0] if len(data) > 2 else None
    spec = run.weight_specs().get(bias_name)
    if not lacking or spec is None or len(spec["shape"]) <= 1:
        return
    shape = spec["shape"]
    readers = [
        other for other in run.nodes if any(i.split(":")[0] == bias_name for i in other.get("input", []))
    ]
    fused_readers = all(
        other["op"] in FUSED_OPS and len(other["input"]) > 2 and other["input"][2].split(":")[0] == bias_name
        for other in readers
    )
    if any(size != 1 for size in shape[:-1]) or not fused_readers:
        run.refuse(lacking, node, f"has a bias of shape {shape}; that backend needs a rank-1 bias")
        return
    spec["shape"] = [shape[-1]]
    const = next(other for other in run.nodes if other["name"] == bias_name)
    tensor = const.get("attr", {}).get("value", {}).get("tensor", {})
    if "tensorShape" in tensor:
        tensor["tensorShape"] = {"dim": [{"size": str(shape[-1])}]}
    run.legality.rewrites.append(
        f"{bias_name}: bias of {node['name']} ({node['op']}) declared [{shape[-1]}], was {shape} "
        f"(rank > 1 fails on {', '.join(lacking)})"
    )


def _cast_to_bool_as_not_equal(run: _Pass, node: dict[str, Any], backend: str) -> None:
    """`name: Cast(x → bool)` → `name/zeros: ZerosLike(x)`, `name: NotEqual(x, name/zeros)`: the
    same truth values (NaN → true, as TF's cast), on every backend."""
    if node["op"] != "Cast":  # already rewritten for another backend of the same limit
        return
    x = node["input"][0]
    source = node["attr"].get("SrcT", {"type": "DT_FLOAT"})
    zeros = {"name": f"{node['name']}/zeros", "op": "ZerosLike", "input": [x], "attr": {"T": source}}
    node["op"] = "NotEqual"
    node["input"] = [x, zeros["name"], *node["input"][1:]]
    node["attr"] = {"T": source, "incompatible_shape_error": {"b": True}}
    run.nodes.insert(run.nodes.index(node), zeros)
    run.legality.rewrites.append(
        f"{node['name']}: Cast to bool became NotEqual(x, 0) ({backend}: a cast to bool there gives wrong values)"
    )
