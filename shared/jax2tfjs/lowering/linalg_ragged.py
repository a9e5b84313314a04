"""ragged_dot_general in lax.ragged_dot's form: a grouped matmul, as mixture-of-experts layers use.

lhs (m, k) holds consecutive row groups of sizes group_sizes (g,) (data, summing to at most m); group
i is multiplied by rhs[i] (k, n). With g static, each group is one dense matmul of all rows by
rhs[i], and SelectV2 keeps the rows inside group i's [start, end): exact (no row mixes groups;
rows past the last group stay 0, as in JAX). It costs g full matmuls instead of one: fine for the
handful of experts a TF.js model holds, which is why g is bounded.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.registry import Arg, Case, rule

# g dense matmuls over every row: past 64 groups the graph and the wasted work grow without end.
MAX_GROUPS = 64
_STANDARD = ((((1,), (1,)), ((), ())), (0,), (0,))


def _sizes_to(m: int):
    """group_sizes from random ints: the groups fill at most m rows (the rest stay 0 in JAX too)."""

    def sizes(raw):
        return jnp.minimum(raw, m // raw.shape[0])

    return sizes


def _ragged(m):
    return lambda a, b, g: lax.ragged_dot(a, b, _sizes_to(m)(g))


@rule(
    "ragged_dot_general",
    tf_ops=(
        "StridedSlice",
        "AddV2",
        "Range",
        "GreaterEqual",
        "Less",
        "LogicalAnd",
        "MatMul",
        "SelectV2",
        "Shape",
    ),
    limits=(
        f"lax.ragged_dot's form only (lhs (m, k) ragged along m, rhs (g, k, n)), float operands, "
        f"g <= {MAX_GROUPS} groups (one masked matmul each), no group_offset"
    ),
    cases=[
        Case(
            "ragged_dot",
            _ragged(8),
            [
                Arg((8, 4), batched=False),
                Arg((3, 4, 5), batched=False),
                Arg((3,), "int32", "int", high=4, batched=False),
            ],
            batched=False,
        ),
        Case(  # the rows are the dynamic batch (tokens); group 0 holds 0 or 1 rows (batch 1 runs too)
            "ragged_dot_dynamic_rows",
            lambda a, b, g: lax.ragged_dot(a, b, g * jnp.array([1, 0], jnp.int32)),
            [Arg((6, 4)), Arg((2, 4, 3), batched=False), Arg((2,), "int32", "int", high=2, batched=False)],
        ),
        Case(  # empty groups and one group holding every row
            "ragged_dot_empty_groups",
            lambda a, b, g: lax.ragged_dot(a, b, g * 0 + jnp.array([0, 5, 0], jnp.int32)),
            [
                Arg((5, 2), batched=False),
                Arg((3, 2, 4), batched=False),
                Arg((3,), "int32", "int", batched=False),
            ],
            batched=False,
        ),
    ],
)
def lower_ragged_dot_general(ctx, eqn, lhs, rhs, group_sizes):
    params = eqn.params
    numbers = params["ragged_dot_dimension_numbers"]
    form = (
        numbers.dot_dimension_numbers,
        tuple(numbers.lhs_ragged_dimensions),
        tuple(numbers.rhs_group_dimensions),
    )
    lhs_aval, rhs_aval = eqn.invars[0].aval, eqn.invars[1].aval
    if (
        form != _STANDARD
        or lhs_aval.ndim != 2
        or rhs_aval.ndim != 3
        or params.get("group_offset") is not None
    ):
        raise NotImplementedError(
            "only lax.ragged_dot's form of ragged_dot_general is supported: lhs (m, k) ragged along m, "
            f"rhs (g, k, n) grouped along 0, no group_offset; got {numbers}"
        )
    if not all(np.issubdtype(a.dtype, np.floating) for a in (lhs_aval, rhs_aval)):
        raise NotImplementedError("ragged_dot_general on integer operands (TF.js wasm has no int32 MatMul)")
    groups = int(rhs_aval.shape[0])
    if groups > MAX_GROUPS:
        raise NotImplementedError(
            f"ragged_dot_general with {groups} groups: bounded at {MAX_GROUPS} (one matmul each)"
        )
    rows = tf.range(ctx.dim(lhs_aval.shape[0]))[:, None]  # (m, 1)
    out = None
    end = None
    for i in range(groups):
        start = end
        end = group_sizes[i : i + 1] if start is None else start + group_sizes[i : i + 1]
        inside = (
            tf.less(rows, end)
            if start is None
            else tf.logical_and(tf.greater_equal(rows, start), tf.less(rows, end))
        )
        product = tf.matmul(lhs, rhs[i])
        out = tf.where(inside, product, 0.0 if out is None else out)
    return out
