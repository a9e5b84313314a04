"""`x @ W1 + h @ W2 (+ b)` → `concat(x, h) @ [W1; W2] (+ b)`: one MatMul for a recurrent cell's gate.

An LSTM or GRU gate adds the input's projection to the carry's (flax's `nn.LSTMCell`: `dense_i(x) +
dense_h(h)`), which lowers to two MatMuls and an add per gate, none of which TF.js fuses. With the
two inputs concatenated once (shared by every gate reading the same pair) and the weights stacked (a
constant), each gate is one MatMul + bias, which our fusion then fuses with a Sigmoid: flax's LSTM
cell goes from 21 TF.js ops to 12.

Merged: an `Add`/`AddV2`/`BiasAdd` of two float32 `MatMul`s (no transposes) of constant weights with
the same output width, each MatMul read only by that add, possibly with a constant `BiasAdd` on one of
them, with two different left operands. The bias moves after the merged MatMul.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jax2tfjs.export.graph_edit import FLOAT32, GraphView, const_node, data_inputs, producer, static_shapes

ADDS = ("Add", "AddV2", "BiasAdd")


def _projection(view: GraphView, name: str, add: Any):
    """(matmul, weight value, bias name or None) when `name` is MatMul(a, W) or BiasAdd(MatMul(a, W),
    b) with constant W and b, read only by `add`; else None."""
    node = view.nodes.get(name)
    bias = None
    if node is not None and node.op == "BiasAdd" and view.only_reader(node.name) is add:
        bias = data_inputs(node)[1]
        if view.const(bias) is None:
            return None
        node, add = view.input_node(node, 0), node
    if node is None or node.op != "MatMul" or node.attr["T"].type != FLOAT32:
        return None
    if node.attr["transpose_a"].b or node.attr["transpose_b"].b or view.only_reader(node.name) is not add:
        return None
    weight_name = producer(data_inputs(node)[1])
    weight = view.const(weight_name)
    if weight is None or weight.ndim != 2 or view.reader_names(weight_name) != {node.name}:
        return None
    return node, weight, bias


def merge_matmuls(graph_def: Any, outputs: set[str] | frozenset[str] = frozenset()) -> Any:
    """Merge every such pair in `graph_def`, in place; returns it."""
    concats: dict[tuple[str, str], str] = {}
    while _merge_one(graph_def, set(outputs), concats):
        pass
    return graph_def


def _merge_one(graph_def: Any, outputs: set[str], concats: dict[tuple[str, str], str]) -> bool:
    from tensorflow.core.framework import node_def_pb2

    view = GraphView(graph_def, outputs)
    shapes = static_shapes(graph_def)
    for add in graph_def.node:
        if add.op not in ADDS or add.attr["T"].type != FLOAT32 or len(data_inputs(add)) != 2:
            continue
        left, right = (_projection(view, producer(name), add) for name in data_inputs(add))
        if left is None or right is None or (left[2] and right[2]):
            continue
        (mat_a, w_a, bias_a), (mat_b, w_b, bias_b) = left, right
        a, b = producer(data_inputs(mat_a)[0]), producer(data_inputs(mat_b)[0])
        if a == b or w_a.shape[1] != w_b.shape[1] or data_inputs(mat_a)[0] != a or data_inputs(mat_b)[0] != b:
            continue
        # Concatenating needs equal batch dims: JAX's add takes equal shapes, and these are its
        # operands unless a broadcast left one at size 1, which the static shapes show.
        if shapes.get(mat_a.name) is None or shapes.get(mat_a.name) != shapes.get(mat_b.name):
            continue
        pair = (a, b)
        if pair not in concats:  # one ConcatV2 per (x, h) pair, shared by the gates
            concat = node_def_pb2.NodeDef(name=f"{add.name}/merged_inputs", op="ConcatV2")
            axis = const_node(f"{add.name}/merged_inputs/axis", np.int32(-1))
            concat.input.extend([a, b, axis.name])
            concat.attr["T"].type = FLOAT32
            concat.attr["N"].i = 2
            concat.attr["Tidx"].type = 3  # DT_INT32
            graph_def.node.extend([axis, concat])
            concats[pair] = concat.name
        weight = const_node(
            f"{add.name}/merged_weight", np.concatenate([w_a, w_b], axis=0).astype(np.float32)
        )
        matmul = node_def_pb2.NodeDef(name=f"{add.name}/merged", op="MatMul")
        matmul.input.extend([concats[pair], weight.name])
        matmul.attr["T"].type = FLOAT32
        matmul.attr["transpose_a"].b = False
        matmul.attr["transpose_b"].b = False
        bias = bias_a or bias_b
        # The add keeps its name (its readers read it): a BiasAdd of the merged MatMul, or an
        # Identity of it when there is no bias.
        gone = {mat_a.name, mat_b.name} | {
            view.input_node(add, i).name for i in (0, 1) if view.input_node(add, i).op == "BiasAdd"
        }
        old_weights = {producer(data_inputs(mat_a)[1]), producer(data_inputs(mat_b)[1])}
        graph_def.node.append(weight)
        if bias is None:  # the merged MatMul takes the add's name, which its readers read
            matmul.name = add.name
            gone.add(add.name)
        else:  # the add becomes the bias after the merged MatMul, under its own name
            del add.input[:]
            dtype = add.attr["T"].type
            add.attr.clear()
            add.attr["T"].type = dtype
            add.op = "BiasAdd"
            add.attr["data_format"].s = b"NHWC"
            add.input.extend([matmul.name, bias])
        view.remove(gone | old_weights)
        graph_def.node.append(matmul)
        return True
    return False
