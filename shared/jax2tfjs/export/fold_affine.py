"""Fold per-channel affine ops after a contraction into its weights: BatchNorm in inference mode.

Flax's BatchNorm (use_running_average) after a Conv or Dense lowers to `(conv(x, W) - mean) * scale +
beta` (grappler has already folded rsqrt(var + eps) * gamma into `scale`): three ops after the
contraction, none of which TF.js fuses. Since `conv(x, W) * s = conv(x, W * s)` per output channel,
the whole chain becomes `conv(x, W * s) + b` with `b = (beta - mean * s)` — a contraction and a
rank-1 BiasAdd, which our fusion then fuses with a following activation (one `_FusedConv2D`).

Folded: `Conv2D` (NHWC) and `MatMul` (not transpose_a) of float32 whose weight is a constant read by
nothing else, followed by a chain of `Add`/`AddV2`/`BiasAdd`/`Sub`/`Mul`/`RealDiv` with constants
that are per output channel (all axes but the last of size 1) or scalars, each step read by nothing
but the next. Numerics: the products are rounded differently (W * s once instead of each output
times s), within float32 rounding of the unfused graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jax2tfjs.export.graph_edit import FLOAT32, GraphView, const_node, data_inputs, producer

ADDS = {"Add", "AddV2", "BiasAdd"}


def _channel_vector(value: np.ndarray | None, channels: int, rank: int) -> np.ndarray | None:
    """A constant as a per-channel vector of length `channels`, when it broadcasts as one."""
    if value is None or value.dtype != np.float32 or value.ndim > rank:
        return None
    if value.ndim and (any(d != 1 for d in value.shape[:-1]) or value.shape[-1] not in (1, channels)):
        return None
    return np.broadcast_to(value.reshape(-1), (channels,)).astype(np.float32)


def _channels(view: GraphView, contraction: Any) -> tuple[np.ndarray, int, int] | None:
    """(weight, output-channel axis of the weight, output rank) when `contraction` can be folded."""
    if contraction.attr["T"].type != FLOAT32:
        return None
    weight_name = producer(data_inputs(contraction)[1])
    weight = view.const(weight_name)
    if weight is None or view.reader_names(weight_name) != {contraction.name}:
        return None
    if contraction.op == "Conv2D" and contraction.attr["data_format"].s in (b"", b"NHWC"):
        return weight, 3, 4
    if contraction.op == "MatMul" and not contraction.attr["transpose_a"].b:
        return weight, 0 if contraction.attr["transpose_b"].b else 1, 2
    return None


def _chain(view: GraphView, contraction: Any, channels: int, rank: int):
    """The affine steps after `contraction`: (nodes, scale, shift) with chain(y) = y * scale + shift."""
    scale, shift = np.ones(channels, np.float32), np.zeros(channels, np.float32)
    nodes, current = [], contraction
    while True:
        step = view.only_reader(current.name)
        if step is None or step.op not in ADDS | {"Sub", "Mul", "RealDiv"}:
            break
        inputs = [producer(i) for i in data_inputs(step)]
        if len(inputs) != 2 or inputs.count(current.name) != 1:
            break
        at = inputs.index(current.name)
        value = _channel_vector(view.const(inputs[1 - at]), channels, rank)
        if value is None:
            break
        if step.op in ADDS:
            shift = shift + value
        elif step.op == "Sub":
            scale, shift = (scale, shift - value) if at == 0 else (-scale, value - shift)
        elif step.op == "Mul":
            scale, shift = scale * value, shift * value
        elif at == 0 and np.all(value != 0):  # RealDiv(y, c); c / y is not affine, y / 0 is inf
            scale, shift = scale / value, shift / value
        else:
            break
        nodes.append(step)
        current = step
    return nodes, scale, shift


def fold_affine(graph_def: Any, outputs: set[str] | frozenset[str] = frozenset()) -> Any:
    """Fold every foldable chain in `graph_def`, in place; returns it."""
    while _fold_one(graph_def, set(outputs)):
        pass
    return graph_def


def _fold_one(graph_def: Any, outputs: set[str]) -> bool:
    view = GraphView(graph_def, outputs)
    for contraction in graph_def.node:
        if contraction.op not in ("Conv2D", "MatMul"):
            continue
        found = _channels(view, contraction)
        if found is None:
            continue
        weight, axis, rank = found
        nodes, scale, shift = _chain(view, contraction, weight.shape[axis], rank)
        # One BiasAdd alone is already what fusion wants; fold only chains that scale or add twice.
        if not nodes or (len(nodes) == 1 and nodes[0].op in ADDS):
            continue
        shape = [1] * weight.ndim
        shape[axis] = -1
        folded = (weight * scale.reshape(shape)).astype(np.float32)
        weight_node = view.nodes[producer(data_inputs(contraction)[1])]
        weight_node.CopyFrom(const_node(weight_node.name, folded))
        last = nodes[-1]
        bias = const_node(f"{last.name}/folded_bias", shift)
        dtype = last.attr["T"].type
        last.op = "BiasAdd"
        last.attr.clear()
        last.attr["T"].type = dtype
        last.attr["data_format"].s = b"NHWC"
        controls = [i for n in nodes for i in n.input if i.startswith("^")]
        del last.input[:]
        last.input.extend([contraction.name, bias.name, *dict.fromkeys(controls)])
        graph_def.node.append(bias)
        view.remove({n.name for n in nodes[:-1]})
        return True
    return False
