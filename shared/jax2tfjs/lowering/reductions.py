"""Reductions: sum, max, min, prod, and, or, argmax, argmin, cumulative sums, top_k."""

from __future__ import annotations

import jax.numpy as jnp
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3
X = Arg((B, 4, 5))
UNIT_ARG = Arg((B, 4, 5), fill="unit")  # products of values in (-1, 1) stay in range

_REDUCE = {
    "reduce_sum": (tf.reduce_sum, "Sum", lambda x: jnp.sum(x, axis=(1, 2))),
    "reduce_max": (tf.reduce_max, "Max", lambda x: jnp.max(x, axis=2)),
    "reduce_min": (tf.reduce_min, "Min", lambda x: jnp.min(x, axis=1)),
    "reduce_prod": (tf.reduce_prod, "Prod", lambda x: jnp.prod(x, axis=2)),
    "reduce_and": (tf.reduce_all, "All", lambda x: jnp.all(x > 0, axis=2)),
    "reduce_or": (tf.reduce_any, "Any", lambda x: jnp.any(x > 0, axis=2)),
}


def _reduce(tf_fn):
    def lower(ctx, eqn, x):
        return tf_fn(x, axis=list(eqn.params["axes"]))

    return lower


for _name, (_tf_fn, _op, _jax_fn) in _REDUCE.items():
    rule(_name, tf_ops=(_op,), cases=[Case(_name, _jax_fn, [X])])(_reduce(_tf_fn))


@rule(
    "argmax",
    "argmin",
    tf_ops=("ArgMax", "ArgMin"),
    limits="one axis; int32 indices",
    cases=[
        Case("argmax", lambda x: jnp.argmax(x, axis=-1), [X]),
        Case("argmin", lambda x: jnp.argmin(x, axis=1), [X]),
    ],
)
def lower_argminmax(ctx, eqn, x):
    (axis,) = eqn.params["axes"]
    fn = tf.argmax if eqn.primitive.name == "argmax" else tf.argmin
    return fn(x, axis=axis, output_type=ctx.tf_dtype(eqn.params["index_dtype"]))


def _cumulative(tf_fn):
    def lower(ctx, eqn, x):
        return tf_fn(x, axis=eqn.params["axis"], reverse=eqn.params["reverse"])

    return lower


# JAX's cumulative primitives with a TF.js op each (Cumsum, Cumprod: kernels on cpu, wasm and webgl);
# products run on values in (-1, 1) so they stay in range.
_CUMULATIVE = {"cumsum": (tf.cumsum, "Cumsum", X), "cumprod": (tf.math.cumprod, "Cumprod", UNIT_ARG)}
for _name, (_tf_fn, _op, _arg) in _CUMULATIVE.items():
    _jax_fn = getattr(lax, _name)
    rule(
        _name,
        tf_ops=(_op,),
        cases=[
            Case(_name, lambda x, f=_jax_fn: f(x, axis=1), [_arg]),
            Case(f"{_name}_reverse", lambda x, f=_jax_fn: f(x, axis=2, reverse=True), [_arg]),
        ],
    )(_cumulative(_tf_fn))


@rule(
    "top_k",
    tf_ops=("TopKV2",),
    limits="along the last axis, as lax.top_k",
    cases=[
        Case("top_k", lambda x: lax.top_k(x, 3)[0], [X]),
        Case("top_k_idx", lambda x: lax.top_k(x, 2)[1], [X]),
    ],
)
def lower_top_k(ctx, eqn, x):
    values, indices = tf.math.top_k(x, k=eqn.params["k"], sorted=True)
    return [values, indices]
