"""Reductions: sum, max, min, prod, and, or, argmax, argmin, and the cumulative ops (cumsum, cumprod,
cummax, cummin, cumlogsumexp). top_k lives with sorting (sorting.py)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.context import is_static
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


# cummax, cummin and cumlogsumexp have no TF.js op: a log-step (Hillis-Steele) scan. Step s combines
# each element with the one s places before it (after it when reversed); after ceil(log2 n) steps
# element i has combined all of 0..i. max and min are idempotent, so the first s places combine with
# themselves (y[:s] ++ y[:n-s]: 2 StridedSlice + ConcatV2 + Maximum a step) and need no fill value;
# logaddexp is not, so its gap is padded with -inf (StridedSlice + PadV2 + 10 ops a step). n = 10:
# 4 steps, 16 or 48 ops. A masked [.., n, n] reduce would be 4 ops but n² memory.
# Measured on TF.js wasm (tfjs 4.22), hence the shapes of these lowerings:
# - Maximum/Minimum propagate NaN only from their first operand (max(1, NaN) is 1), so NaN is
#   handled apart: the scan runs on NaN-free values and a Cumsum of IsNan marks where JAX has NaN.
# - PadV2 passes its fill as a float: an int32 fill of 2**31-1 comes out as -2**31.
_SPECIALS_ARG = Arg((B, 4, 9), fill="int", high=7)
_INT_ARG = Arg((B, 4, 9), dtype="int32", fill="int", high=6)


def _with_specials(x):
    """Small ints 0..6 as floats → NaN, inf, -inf, -0.0 and ties, inside the traced case."""
    x = jnp.where(x == 0, jnp.nan, x)
    x = jnp.where(x == 1, jnp.inf, x)
    x = jnp.where(x == 2, -jnp.inf, x)
    return jnp.where(x == 3, -0.0, x)


def _no_nan_specials(x):
    return jnp.where(x == 0, 5.0, _with_specials(x))


def _int_extremes(x):
    info = jnp.iinfo(jnp.int32)
    return jnp.where(x == 0, info.min, jnp.where(x == 1, info.max, x))


def _logaddexp(a, b):
    """log(exp(a) + exp(b)) without overflow, as jnp.logaddexp: equal infinities (and NaN) make
    the difference NaN, where a + b is the answer (-inf, inf or NaN)."""
    delta = a - b
    stable = tf.maximum(a, b) + tf.math.log1p(tf.exp(-tf.abs(delta)))
    return tf.where(tf.math.is_nan(delta), a + b, stable)


def _along(y, axis: int, start: int, stop: int):
    index = [slice(None)] * len(y.shape)
    index[axis] = slice(start, stop)
    return y[tuple(index)]


def _shifted_by_padding(y, axis: int, n: int, step: int, reverse: bool, fill):
    """`y` moved `step` places along `axis` (towards the end, or the start when reversed), the
    vacated places filled with `fill`."""
    paddings = [[0, 0] for _ in y.shape]
    paddings[axis] = [0, step] if reverse else [step, 0]
    kept = _along(y, axis, step, n) if reverse else _along(y, axis, 0, n - step)
    return tf.pad(kept, paddings, constant_values=fill)


def _shifted_onto_itself(y, axis: int, n: int, step: int, reverse: bool):
    """`y` moved `step` places along `axis`, the vacated places keeping their own values: right for
    an idempotent combine, since after the earlier steps they already hold their whole prefix."""
    if reverse:
        return tf.concat([_along(y, axis, step, n), _along(y, axis, n - step, n)], axis)
    return tf.concat([_along(y, axis, 0, step), _along(y, axis, 0, n - step)], axis)


def _static_length(eqn) -> int:
    n = eqn.invars[0].aval.shape[eqn.params["axis"]]
    if not is_static(n):
        raise NotImplementedError(f"{eqn.primitive.name} along a dynamic axis (the batch) is not supported")
    return int(n)


def _idempotent_scan(combine):
    def lower(ctx, eqn, x):
        axis, reverse, n = eqn.params["axis"], eqn.params["reverse"], _static_length(eqn)
        nan = tf.math.is_nan(x) if x.dtype.is_floating else None
        y = x if nan is None else tf.where(nan, tf.constant(0, x.dtype), x)
        step = 1
        while step < n:
            y = combine(y, _shifted_onto_itself(y, axis, n, step, reverse))
            step *= 2
        if nan is None:
            return y
        seen_nan = tf.cumsum(tf.cast(nan, tf.float32), axis=axis, reverse=reverse) > 0
        return tf.where(seen_nan, tf.constant(np.nan, x.dtype), y)

    return lower


for _name, _combine, _op in (("cummax", tf.maximum, "Maximum"), ("cummin", tf.minimum, "Minimum")):
    _jax_fn = getattr(lax, _name)
    rule(
        _name,
        tf_ops=("StridedSlice", "ConcatV2", _op, "IsNan", "SelectV2", "Cast", "Cumsum", "Greater"),
        limits="a log-step scan (ceil(log2 n) steps of 4 ops); the axis must be static",
        cases=[
            Case(_name, lambda x, f=_jax_fn: f(x, axis=1), [X]),
            Case(f"{_name}_reverse", lambda x, f=_jax_fn: f(x, axis=2, reverse=True), [X]),
            Case(f"{_name}_specials", lambda x, f=_jax_fn: f(_with_specials(x), axis=2), [_SPECIALS_ARG]),
            Case(
                f"{_name}_specials_reverse",
                lambda x, f=_jax_fn: f(_with_specials(x), axis=2, reverse=True),
                [_SPECIALS_ARG],
            ),
            Case(
                f"{_name}_no_nan_reverse",
                lambda x, f=_jax_fn: f(_no_nan_specials(x), axis=1, reverse=True),
                [_SPECIALS_ARG],
            ),
            Case(f"{_name}_int32", lambda x, f=_jax_fn: f(_int_extremes(x), axis=2), [_INT_ARG]),
            Case(
                f"{_name}_int32_reverse",
                lambda x, f=_jax_fn: f(_int_extremes(x), axis=2, reverse=True),
                [_INT_ARG],
            ),
            Case(f"{_name}_length_one", lambda x, f=_jax_fn: f(x, axis=2), [Arg((B, 4, 1))]),
        ],
    )(_idempotent_scan(_combine))


@rule(
    "cumlogsumexp",
    tf_ops=(
        "StridedSlice",
        "PadV2",
        "Maximum",
        "Sub",
        "Abs",
        "Neg",
        "Exp",
        "Log1p",
        "AddV2",
        "IsNan",
        "SelectV2",
    ),
    limits="a log-step scan of logaddexp (ceil(log2 n) steps of 12 ops); the axis must be static",
    cases=[
        Case("cumlogsumexp", lambda x: lax.cumlogsumexp(x, axis=1), [X]),
        Case("cumlogsumexp_reverse", lambda x: lax.cumlogsumexp(x, axis=2, reverse=True), [X]),
        Case("cumlogsumexp_large", lambda x: lax.cumlogsumexp(x * 60.0, axis=2), [X]),
        Case(
            "cumlogsumexp_infinities",
            lambda x: lax.cumlogsumexp(_no_nan_specials(x), axis=2),
            [_SPECIALS_ARG],
        ),
        Case(
            "cumlogsumexp_nan_reverse",
            lambda x: lax.cumlogsumexp(_with_specials(x), axis=2, reverse=True),
            [_SPECIALS_ARG],
        ),
        Case("cumlogsumexp_length_one", lambda x: lax.cumlogsumexp(x, axis=2), [Arg((B, 4, 1))]),
    ],
)
def lower_cumlogsumexp(ctx, eqn, x):
    axis, reverse, n = eqn.params["axis"], eqn.params["reverse"], _static_length(eqn)
    step = 1
    while step < n:
        x = _logaddexp(x, _shifted_by_padding(x, axis, n, step, reverse, -np.inf))
        step *= 2
    return x
