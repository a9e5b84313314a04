"""Shorter TF.js graphs: rewrites of what JAX's jaxprs spell out op by op, run inside the tensorflowjs
converter after grappler and before our fusion (tfjs_convert). Each rewrite keeps the value of every
graph output; each is tested in tests/convert_env/test_graph_simplify.py and measured on the zoo.

- `drop_max_with_neg_inf`: `Maximum(x, -inf)` is x. jax.nn.softmax and logsumexp take their max with
  `initial=-inf`, which lowers to one.
- `keep_reduced_dims`: JAX reduces without keepdims and broadcasts back later (`x - mean[..., None]`),
  which lowers to a reduction, some elementwise ops on its result, then a Reshape (or ExpandDims)
  inserting the reduced axes as 1. When every path into that Reshape starts at reductions over exactly those axes
  (or scalar constants), the reductions keep their dims and the Reshape goes (LayerNorm: 2 per norm,
  softmax: 2).
- `mean_from_scaled_sum`: `Sum(x) * (1/n)` (grappler's form of `sum / n`) over n elements is `Mean`.
- `fold_negation_into_scale`: `Mul(Neg(x), c)` is `Mul(x, -c)` (exact GELU's erfc(-x / sqrt(2))).
- `shrink_sliced_axes`: `Squeeze(StridedSlice(x))` over axes cut to one element is one StridedSlice.
- `softmax`, `log_softmax`: `exp(x - max) / sum(exp(x - max))` over the last axis is one `Softmax`
  (TF.js subtracts the max itself); `(x - max) - log(sum(exp(x - max)))` is `LogSoftmax`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from jax2tfjs.export.graph_edit import (
    FLOAT32,
    GraphView,
    const_node,
    data_inputs,
    producer,
    static_shapes,
    tensor_shape,
)

REDUCTIONS = {"Sum", "Max", "Min", "Mean", "Prod"}
# Ops that apply per element (with broadcasting): their result keeps the shape of their inputs, so
# reduced axes kept as 1 flow through them unchanged.
ELEMENTWISE = {
    "Abs", "Cast", "Exp", "Log", "Neg", "Reciprocal", "Relu", "Rsqrt", "Sigmoid", "Sqrt", "Square",
    "Tanh", "Add", "AddV2", "Maximum", "Minimum", "Mul", "Pow", "RealDiv", "SquaredDifference", "Sub",
}  # fmt: skip


def _float32_nodes(graph_def: Any, op: str) -> list[Any]:
    return [node for node in graph_def.node if node.op == op and node.attr["T"].type == FLOAT32]


def _reduced_axes(view: GraphView, node: Any, rank: int) -> tuple[int, ...] | None:
    axes = view.const(data_inputs(node)[1])
    if axes is None:
        return None
    return tuple(sorted({int(a) % rank for a in np.atleast_1d(axes)}))


def drop_max_with_neg_inf(graph_def: Any, outputs: set[str]) -> bool:
    view = GraphView(graph_def, outputs)
    for node in graph_def.node:
        if node.op != "Maximum" or node.name in outputs:
            continue
        for const_at in (0, 1):
            value = view.const(data_inputs(node)[const_at])
            if value is not None and value.ndim == 0 and value == -np.inf:
                view.rewire(node.name, data_inputs(node)[1 - const_at])
                view.remove({node.name})
                return True
    return False


def _inserted_ones(before: list[int | None], after: list[int | None]) -> tuple[int, ...] | None:
    """Positions of `after` that are size-1 axes inserted into `before` (a Reshape that only expands
    dims), or None. At most one unknown dim on each side: two could have been swapped."""
    if len(after) <= len(before) or before.count(None) > 1:
        return None
    inserted, i = [], 0
    for position, dim in enumerate(after):
        if i < len(before) and dim == before[i]:
            i += 1
        elif dim == 1:
            inserted.append(position)
        else:
            return None
    return tuple(inserted) if i == len(before) and len(after) - len(before) == len(inserted) else None


def keep_reduced_dims(graph_def: Any, outputs: set[str]) -> bool:
    view = GraphView(graph_def, outputs)
    shapes = static_shapes(graph_def)
    expands = {}  # expanding Reshape → the axes it inserts
    for node in graph_def.node:
        before, after = tensor_shape(shapes, node.input[0]) if node.input else None, shapes.get(node.name)
        if before is None or after is None:
            continue
        if node.op == "Reshape" and view.const(data_inputs(node)[1]) is not None:
            axes = _inserted_ones(before, after)
            if axes:
                expands[node.name] = axes
        elif node.op == "ExpandDims":  # (b, seq) → (b, seq, 1) where a Reshape would need Pack
            axis = view.const(data_inputs(node)[1])
            if axis is not None and axis.size == 1:
                expands[node.name] = (int(axis.reshape(())) % len(after),)
    for name, axes in expands.items():
        region = _region(view, shapes, view.nodes[name], axes, expands)
        if region is None:
            continue
        reductions, reshapes = region
        for reduction in reductions:
            reduction.attr["keep_dims"].b = True
        for reshape in reshapes:
            view.rewire(reshape, producer(view.nodes[reshape].input[0]))
        view.remove(reshapes)
        return True
    return False


def _region(view, shapes, reshape, axes, expands) -> tuple[list[Any], set[str]] | None:
    """The reductions and expanding Reshapes to rewrite so that `reshape` is no longer needed, or None.

    Walks back from the Reshape's input through elementwise ops to reductions over exactly `axes` and
    to scalar constants; every node on the way must be read only inside the region or by a Reshape
    inserting the same axes (those go too)."""
    rank = len(shapes[reshape.name])
    reductions, inner, stack = {}, set(), [producer(reshape.input[0])]
    while stack:
        name = stack.pop()
        if name in reductions or name in inner:
            continue
        node = view.nodes.get(name)
        value = view.const(name)
        if value is not None:
            if value.size != 1 or value.ndim > rank - len(axes):
                return None
            continue
        if node is None or name in view.outputs:
            return None
        if node.op in REDUCTIONS and not node.attr["keep_dims"].b:
            source = tensor_shape(shapes, node.input[0])
            if source is None or len(source) != rank or _reduced_axes(view, node, rank) != axes:
                return None
            reductions[name] = node
        elif node.op in ELEMENTWISE:
            inner.add(name)
            stack.extend(producer(i) for i in data_inputs(node))
        else:
            return None
    if not reductions:  # nothing reduced: a Reshape of constants or elementwise values stays
        return None
    region = set(reductions) | inner
    reshapes = {reshape.name}
    for name in region:
        for reader in view.readers.get(name, []):
            if reader.name in region:
                continue
            if expands.get(reader.name) != axes:
                return None
            reshapes.add(reader.name)
    return list(reductions.values()), reshapes


def mean_from_scaled_sum(graph_def: Any, outputs: set[str]) -> bool:
    view = GraphView(graph_def, outputs)
    shapes = static_shapes(graph_def)
    for node in graph_def.node:
        if node.op not in ("Mul", "RealDiv") or node.attr["T"].type != FLOAT32:
            continue
        for sum_at in (0, 1) if node.op == "Mul" else (0,):
            total = view.input_node(node, sum_at)
            factor = view.const(data_inputs(node)[1 - sum_at])
            if total is None or total.op != "Sum" or factor is None or factor.ndim != 0:
                continue
            if view.only_reader(total.name) is not node:
                continue
            source = tensor_shape(shapes, total.input[0])
            axes = _reduced_axes(view, total, len(source)) if source else None
            if axes is None or any(source[a] is None for a in axes):
                continue
            count = math.prod(source[a] for a in axes)
            if count == 0:
                continue
            want = np.float32(1 / count) if node.op == "Mul" else np.float32(count)
            if factor.astype(np.float32) != want:
                continue
            # The Sum becomes a Mean under the Mul's name, which its readers already read.
            scaled, total_name = node.name, total.name
            total.op = "Mean"
            view.remove({scaled})
            next(n for n in graph_def.node if n.name == total_name).name = scaled
            return True
    return False


def _last_axis_reduction(view: GraphView, shapes, node: Any, op: str) -> Any:
    """`node` when it is `op` over the last axis only, keeping dims; else None."""
    if node is None or node.op != op or not node.attr["keep_dims"].b:
        return None
    source = tensor_shape(shapes, node.input[0])
    if source is None or _reduced_axes(view, node, len(source)) != (len(source) - 1,):
        return None
    return node


def _shifted_exp(view: GraphView, shapes, shifted: Any) -> Any:
    """`x` when `shifted` is Sub(x, Max(x, last axis)), else None."""
    if shifted is None or shifted.op != "Sub":
        return None
    x_name = data_inputs(shifted)[0]  # a tensor, `split:1` included: the softmax must read that one
    peak = _last_axis_reduction(view, shapes, view.input_node(shifted, 1), "Max")
    if (
        peak is None
        or _tensor(peak.input[0]) != _tensor(x_name)
        or view.only_reader(peak.name) is not shifted
    ):
        return None
    return x_name, peak


def _tensor(name: str) -> str:
    """`node` and `node:0` name one tensor."""
    return name[: -len(":0")] if name.endswith(":0") else name


def _replace(graph_def: Any, view: GraphView, last: Any, op: str, x_name: str, gone: set[str]) -> None:
    """`last` becomes `op(x)` under its own name (readers keep reading it); `gone` is removed."""
    dtype = last.attr["T"].type
    del last.input[:]
    last.input.append(x_name)
    last.op = op
    last.attr.clear()
    last.attr["T"].type = dtype
    view.remove(gone)


def softmax(graph_def: Any, outputs: set[str]) -> bool:
    view = GraphView(graph_def, outputs)
    shapes = static_shapes(graph_def)
    for node in _float32_nodes(graph_def, "RealDiv"):
        exp, total = view.input_node(node, 0), view.input_node(node, 1)
        total = _last_axis_reduction(view, shapes, total, "Sum")
        if exp is None or exp.op != "Exp" or total is None or producer(total.input[0]) != exp.name:
            continue
        if view.reader_names(exp.name) != {total.name, node.name} or exp.name in outputs:
            continue
        if view.only_reader(total.name) is not node:
            continue
        shifted = view.input_node(exp, 0)
        found = _shifted_exp(view, shapes, shifted)
        if found is None or view.only_reader(shifted.name) is not exp:
            continue
        x_name, peak = found
        _replace(graph_def, view, node, "Softmax", x_name, {exp.name, total.name, shifted.name, peak.name})
        return True
    return False


def log_softmax(graph_def: Any, outputs: set[str]) -> bool:
    view = GraphView(graph_def, outputs)
    shapes = static_shapes(graph_def)
    for node in _float32_nodes(graph_def, "Sub"):
        shifted, log = view.input_node(node, 0), view.input_node(node, 1)
        if log is None or log.op != "Log" or view.only_reader(log.name) is not node:
            continue
        total = _last_axis_reduction(view, shapes, view.input_node(log, 0), "Sum")
        if total is None or view.only_reader(total.name) is not log:
            continue
        exp = view.input_node(total, 0)
        if exp is None or exp.op != "Exp" or view.only_reader(exp.name) is not total:
            continue
        if shifted is None or producer(exp.input[0]) != shifted.name:
            continue
        found = _shifted_exp(view, shapes, shifted)
        if found is None or view.reader_names(shifted.name) != {exp.name, node.name}:
            continue
        if shifted.name in outputs:
            continue
        x_name, peak = found
        gone = {log.name, total.name, exp.name, shifted.name, peak.name}
        _replace(graph_def, view, node, "LogSoftmax", x_name, gone)
        return True
    return False


def fold_negation_into_scale(graph_def: Any, outputs: set[str]) -> bool:
    """`Mul(Neg(x), c)` is `Mul(x, -c)` for a constant c (jax.nn.gelu's erfc(-x / sqrt(2)))."""
    view = GraphView(graph_def, outputs)
    for node in _float32_nodes(graph_def, "Mul"):
        for neg_at in (0, 1):
            neg = view.input_node(node, neg_at)
            const_name = data_inputs(node)[1 - neg_at]
            value = view.const(const_name)
            if neg is None or neg.op != "Neg" or value is None or view.only_reader(neg.name) is not node:
                continue
            if view.reader_names(producer(const_name)) != {node.name}:
                continue
            view.nodes[producer(const_name)].CopyFrom(const_node(producer(const_name), -value))
            node.input[neg_at] = neg.input[0]
            view.remove({neg.name})
            return True
    return False


def shrink_sliced_axes(graph_def: Any, outputs: set[str]) -> bool:
    """`Squeeze(StridedSlice(x))` dropping axes the slice cut to one element is one StridedSlice
    with those axes in its shrink_axis_mask (`x[:, 0]`, `pairs[:, 1]`)."""
    view = GraphView(graph_def, outputs)
    for squeeze in graph_def.node:
        sliced = view.input_node(squeeze, 0) if squeeze.op == "Squeeze" else None
        if sliced is None or sliced.op != "StridedSlice" or view.only_reader(sliced.name) is not squeeze:
            continue
        attrs = sliced.attr
        if attrs["ellipsis_mask"].i or attrs["new_axis_mask"].i or attrs["shrink_axis_mask"].i:
            continue
        begin, end, strides = (view.const(name) for name in data_inputs(sliced)[1:4])
        axes = [int(a) for a in squeeze.attr["squeeze_dims"].list.i]
        if begin is None or end is None or strides is None or not axes or min(axes) < 0:
            continue
        one_element = all(
            a < len(begin)
            and not (attrs["begin_mask"].i >> a) & 1
            and not (attrs["end_mask"].i >> a) & 1
            and strides[a] == 1
            and end[a] - begin[a] == 1
            and begin[a] >= 0
            for a in axes
        )
        if not one_element:
            continue
        attrs["shrink_axis_mask"].i = sum(1 << a for a in axes)
        # The slice takes the Squeeze's name, which its readers already read (the Squeeze was the
        # slice's only reader).
        squeeze_name, sliced_name = squeeze.name, sliced.name
        view.remove({squeeze_name})
        next(n for n in graph_def.node if n.name == sliced_name).name = squeeze_name
        return True
    return False


REWRITES: tuple[Callable[[Any, set[str]], bool], ...] = (
    drop_max_with_neg_inf,
    fold_negation_into_scale,
    keep_reduced_dims,
    mean_from_scaled_sum,
    softmax,
    log_softmax,
    shrink_sliced_axes,
)


def simplify(graph_def: Any, outputs: set[str] | frozenset[str] = frozenset()) -> Any:
    """Apply every rewrite until none applies (each applies once per call, then the graph is re-read);
    edits `graph_def` in place and returns it."""
    outputs = set(outputs)
    for rewrite in REWRITES:
        while rewrite(graph_def, outputs):
            pass
    return graph_def
