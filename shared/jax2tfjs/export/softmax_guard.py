"""A floor under masked softmax inputs, so that TF.js's webgl backend computes what JAX computes.

TF.js 4.22's webgl `Max` reduction starts from -1e20 (tfjs-backend-webgl's reduce shader), and its
Softmax and LogSoftmax subtract that max. A row whose every logit is below -1e20 — an attention row
masked entirely with `jnp.finfo(float32).min`, as BERT's padding tokens' rows are — then gets max
-1e20, every exp underflows to 0, and webgl's RealDiv turns 0/0 into 1: the softmax is all ones where
JAX gives 1/n (measured on bert_encoder_linen: 32 of 33 zoo models passed on webgl before this).

`Maximum(x, -1e20)` before the Softmax fixes it everywhere and changes nothing JAX would see: a
value below -1e20 contributes exp(<= -1e20 - max) = 0 either way when the row has one real logit,
and a row that is all masked stays all equal, so uniform. LogSoftmax is not guarded: the floor would
change its masked outputs themselves (about -1e20 - lse instead of JAX's -3.4e38), so a fully masked
LogSoftmax row stays wrong on webgl (documented in docs/api.md). (A row mixing masks of different sizes,
say -3e38 and -1e30, would differ; no model we know masks so.) The floor goes only where a constant
below -1e20 feeds the softmax input within a few ops (the mask's fill value), so unmasked heads keep
their op count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jax2tfjs.export.graph_edit import FLOAT32, GraphView, const_node, data_inputs, producer

FLOOR = np.float32(-1e20)
# How far back from a softmax input to look for the mask's constant (select → reshape → const).
SEARCH_DEPTH = 6
FLOOR_CONST = "jax2tfjs/softmax_floor"


def _masked_below_floor(view: GraphView, name: str) -> bool:
    """A finite float constant below FLOOR feeds `name` within SEARCH_DEPTH ops."""
    frontier, seen = [name], set()
    for _ in range(SEARCH_DEPTH):
        following = []
        for current in frontier:
            if current in seen:
                continue
            seen.add(current)
            value = view.const(current)
            if value is not None:
                if value.dtype.kind == "f" and value.size:
                    finite = value[np.isfinite(value)]
                    if finite.size and finite.min() < FLOOR:
                        return True
                continue
            node = view.nodes.get(current)
            if node is not None:
                following.extend(producer(i) for i in data_inputs(node))
        frontier = following
    return False


def guard_softmax(graph_def: Any, outputs: set[str] | frozenset[str] = frozenset()) -> Any:
    """Put `Maximum(x, FLOOR)` before every Softmax whose input a mask constant below the
    floor feeds; edits `graph_def` in place and returns it."""
    view = GraphView(graph_def, outputs)
    targets = [
        node
        for node in graph_def.node
        if node.op == "Softmax"
        and node.attr["T"].type == FLOAT32
        and _masked_below_floor(view, producer(node.input[0]))
    ]
    if not targets:
        return graph_def
    from tensorflow.core.framework import node_def_pb2

    if FLOOR_CONST not in view.nodes:
        graph_def.node.append(const_node(FLOOR_CONST, FLOOR))
    for node in targets:
        clamp = node_def_pb2.NodeDef(name=f"{node.name}/softmax_floor", op="Maximum")
        clamp.input.extend([node.input[0], FLOOR_CONST])
        clamp.attr["T"].type = FLOAT32
        graph_def.node.append(clamp)
        node.input[0] = clamp.name
    return graph_def
