"""Reading and editing a frozen GraphDef in place: producers, readers, constants, static shapes.

The graph passes that run inside the tensorflowjs converter (simplify, fold_affine, fusion) read the
graph through a `GraphView` and edit its NodeDefs directly. A view is a snapshot: after a rewrite
that adds, removes or rewires nodes, make a new one (graphs here have hundreds of nodes, so that is
cheap). TensorFlow is imported inside the functions: tfjs_convert imports the passes in processes
that never read a graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FLOAT32 = 1  # DataType.DT_FLOAT


def producer(name: str) -> str:
    """The node behind an input name: `node:1`, `node` or a control input `^node`."""
    return name.lstrip("^").split(":")[0]


def data_inputs(node: Any) -> list[str]:
    return [name for name in node.input if not name.startswith("^")]


class GraphView:
    """Nodes by name, the nodes reading each node, and the graph's outputs (never rewritten away)."""

    def __init__(self, graph_def: Any, outputs: set[str] | frozenset[str] = frozenset()):
        self.graph_def = graph_def
        self.outputs = set(outputs)
        self.nodes = {node.name: node for node in graph_def.node}
        self.readers: dict[str, list[Any]] = {}
        for node in graph_def.node:
            for name in node.input:
                self.readers.setdefault(producer(name), []).append(node)

    def input_node(self, node: Any, index: int) -> Any:
        return self.nodes.get(producer(data_inputs(node)[index]))

    def only_reader(self, name: str) -> Any:
        """The single node reading `name` (its output 0), or None when several do or it is an output."""
        found = self.readers.get(name, [])
        if len(found) != 1 or name in self.outputs or data_inputs(found[0]).count(name) > 1:
            return None
        return found[0]

    def reader_names(self, name: str) -> set[str]:
        return {node.name for node in self.readers.get(name, [])}

    def const(self, name: str) -> np.ndarray | None:
        """The value of a Const node, or None when `name` is not one."""
        from tensorflow.python.framework import tensor_util

        node = self.nodes.get(producer(name))
        if node is None or node.op != "Const":
            return None
        return tensor_util.MakeNdarray(node.attr["value"].tensor)

    def rewire(self, old: str, new: str) -> None:
        """Every reader of `old` (output 0) reads `new` instead; a control input on `old` waits for
        `new`'s node instead."""
        for node in self.readers.get(old, []):
            for i, name in enumerate(node.input):
                if name in (old, f"{old}:0"):
                    node.input[i] = new
                elif name == f"^{old}":
                    node.input[i] = f"^{producer(new)}"

    def remove(self, names: set[str]) -> None:
        kept = [node for node in self.graph_def.node if node.name not in names]
        rebuilt = [type(node)() for node in kept]
        for new, old in zip(rebuilt, kept, strict=True):
            new.CopyFrom(old)
        del self.graph_def.node[:]
        self.graph_def.node.extend(rebuilt)


def const_node(name: str, value: np.ndarray) -> Any:
    """A new Const NodeDef holding `value`."""
    from tensorflow.core.framework import node_def_pb2
    from tensorflow.python.framework import tensor_util

    node = node_def_pb2.NodeDef(name=name, op="Const")
    tensor = tensor_util.make_tensor_proto(value)
    node.attr["value"].tensor.CopyFrom(tensor)
    node.attr["dtype"].type = tensor.dtype
    return node


def static_shapes(graph_def: Any) -> dict[str, list[int | None]]:
    """Tensor → its static shape as TF infers it (None for an unknown dim): output 0 under the node's
    name, output k under `name:k` (read them with tensor_shape); outputs of unknown rank are left out. Empty when the graph does not import (then shape-dependent
    rewrites do nothing)."""
    import tensorflow as tf

    # Grappler writes an add of two [b, n] tensors as a BiasAdd (a recurrent cell's gates), whose
    # shape function wants a rank-1 bias and would fail the whole import: read those as AddV2, which
    # has the same output shape.
    readable = type(graph_def)()
    readable.CopyFrom(graph_def)
    for node in readable.node:
        if node.op == "BiasAdd":
            node.op = "AddV2"
            node.attr.pop("data_format", None)
    graph = tf.Graph()
    try:
        with graph.as_default():
            tf.graph_util.import_graph_def(readable, name="")
    except (ValueError, TypeError, tf.errors.OpError):
        return {}
    shapes: dict[str, list[int | None]] = {}
    for op in graph.get_operations():
        for index, output in enumerate(op.outputs):
            if output.shape.rank is not None:
                shapes[op.name if index == 0 else f"{op.name}:{index}"] = output.shape.as_list()
    return shapes


def tensor_shape(shapes: dict[str, list[int | None]], name: str) -> list[int | None] | None:
    """The static shape of the tensor an input names (`node`, `node:0`, `node:2`), from static_shapes."""
    node, _, index = name.lstrip("^").partition(":")
    return shapes.get(node if index in ("", "0") else f"{node}:{index}")
