"""Our own contraction fusion, run in place of grappler's `remap` inside the tensorflowjs converter.

Why not grappler's remapper: it rewrites differently per CPU. TensorFlow turns oneDNN on for CPUs
with AVX-512 VNNI/BF16 or AMX, and then the remapper also fuses `MatMul + BiasAdd + Tanh` into
`_FusedMatMul[BiasAdd, Tanh]` (and GELU, Swish, LayerNorm into `_Mkl*` ops), which no TF.js backend
runs ("tanh activation not yet supported for FusedConv2D in the wasm backend"). TensorFlow reads
`TF_ENABLE_ONEDNN_OPTS` once, when it is imported, so a library cannot switch oneDNN off for one
conversion. The converter therefore runs grappler without `remap` (tfjs_convert) and this pass fuses
only what every TF.js backend we claim implements; the result is the same on every machine.

Fused here: `MatMul` or NHWC `Conv2D` (float32), followed by a `BiasAdd` whose bias is a constant that
is rank 1 or squeezes to rank 1 (a rank > 1 bias fails on wasm: "FusedConv2D only supports rank-1
bias"), optionally followed by one activation of `FUSABLE_ACTIVATIONS`. Each intermediate result
must have no other consumer. The fused node takes the name of the last node it replaces, so its
consumers need no rewiring (grappler names its fused nodes the same way).

TensorFlow is imported inside the functions that read graphs, not at the top: tfjs_convert imports
this module with its tables, in processes that never read a graph (doctor on a checkpoint folder).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jax2tfjs.export.backend_limits import CLAIMED, LIMITS
from jax2tfjs.export.graph_edit import FLOAT32, GraphView, producer

CONTRACTIONS = {"MatMul": "_FusedMatMul", "Conv2D": "_FusedConv2D"}
# The activations every claimed backend fuses (backend_limits, measured on each): Tanh and GELU are
# not among them and stay separate ops. The legality pass re-checks the converted graph.
FUSABLE_ACTIVATIONS = tuple(
    sorted(frozenset.intersection(*(LIMITS[name].fused_activations for name in CLAIMED)) - {"Prelu"})
)  # Relu, Relu6, Elu, LeakyRelu, Sigmoid (Prelu is not a TF op that could follow a BiasAdd here)


def _rank1_bias(const: Any) -> np.ndarray | None:
    """The bias as a rank-1 array when it is one, or squeezes to one along its last axis."""
    from tensorflow.python.framework import tensor_util

    if const is None or const.op != "Const":
        return None
    value = tensor_util.MakeNdarray(const.attr["value"].tensor)
    if value.ndim == 0 or any(d != 1 for d in value.shape[:-1]):
        return None
    return value.reshape(value.shape[-1])


def _fused_node(contraction: Any, bias_add: Any, last: Any) -> Any:
    from tensorflow.core.framework import node_def_pb2

    fused = node_def_pb2.NodeDef()
    fused.CopyFrom(contraction)
    fused.name = last.name
    fused.op = CONTRACTIONS[contraction.op]
    del fused.input[:]
    data_inputs = [i for i in contraction.input if not i.startswith("^")]
    controls = [i for n in (contraction, bias_add, last) for i in n.input if i.startswith("^")]
    fused.input.extend([*data_inputs, bias_add.input[1], *dict.fromkeys(controls)])
    fused.attr["num_args"].i = 1
    fused.attr["fused_ops"].list.s[:] = [b"BiasAdd"] + ([last.op.encode()] if last is not bias_add else [])
    fused.attr["epsilon"].f = 0.0
    if last.op == "LeakyRelu":
        fused.attr["leakyrelu_alpha"].f = last.attr["alpha"].f
    return fused


def fuse_contractions(graph_def: Any, output_names: set[str] = frozenset()) -> Any:
    """Fuse contraction + bias (+ activation) in `graph_def`, in place; returns it."""
    from tensorflow.python.framework import tensor_util

    view = GraphView(graph_def, output_names)
    replaced: set[str] = set()
    fused_by_name: dict[str, Any] = {}
    for contraction in graph_def.node:
        if contraction.op not in CONTRACTIONS or contraction.attr["T"].type != FLOAT32:
            continue
        if contraction.op == "Conv2D" and contraction.attr["data_format"].s not in (b"", b"NHWC"):
            continue
        bias_add = view.only_reader(contraction.name)
        if bias_add is None or bias_add.op != "BiasAdd" or producer(bias_add.input[0]) != contraction.name:
            continue
        bias_const = view.nodes.get(producer(bias_add.input[1]))
        bias = _rank1_bias(bias_const)
        if bias is None:
            continue
        if len(bias_const.attr["value"].tensor.tensor_shape.dim) != 1:
            # A [1, 1, 1, C] bias (a broadcast add the converter made a BiasAdd): give the fused op
            # the rank-1 bias every backend needs, when no other node reads that constant.
            if len(view.readers.get(bias_const.name, [])) != 1:
                continue
            bias_const.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(bias))
        activation = view.only_reader(bias_add.name)
        last = activation if activation is not None and activation.op in FUSABLE_ACTIVATIONS else bias_add
        fused_by_name[last.name] = _fused_node(contraction, bias_add, last)
        replaced.update({contraction.name, bias_add.name, last.name})
    kept = [
        fused_by_name.get(node.name, node)
        for node in graph_def.node
        if node.name not in replaced or node.name in fused_by_name
    ]
    rebuilt = [type(node)() for node in kept]
    for new, old in zip(rebuilt, kept, strict=True):
        new.CopyFrom(old)
    del graph_def.node[:]
    graph_def.node.extend(rebuilt)
    return graph_def
