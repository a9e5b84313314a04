"""The generic `reduce` (a jaxpr body, one or more operands) and `reduce_xor`.

`lax.reduce` with a computation JAX does not map to reduce_sum/_max/… arrives as `reduce` with its
body. Recognised bodies (reduction_bodies): one monoid per output, reduced with Sum/Prod/Max/Min/
All/Any; and the (value, index) pair that keeps the larger (smaller) value and on a tie the smaller
(larger) index: argmax-like user code. The pair is computed exactly whatever the index operand holds:
m = max(values), then the least index among the positions equal to m (Max, Equal, SelectV2, Min).

Init values: XLA requires an identity and applies any other an unspecified number of times: on
jax 0.10.2's CPU backend `lax.reduce(ones(n), 3., add)` gave 1 for n = 1, 5 for n = 2, 42 for n = 33
and 1099 for n = 1000. So a non-identity init is refused for add, mul and xor, whose results depend on
that count, and combined once for max, min, and, or and the pair selection, whose results do not.

xor: booleans are the parity of the count of trues (Cast, Sum, FloorMod). int32 is exact bit by
bit: x * 2**(31 - k) wraps bit k into the sign (int32 multiplication wraps in TF, and on TF.js cpu
and wasm: measured), Less reads it, each bit's parity over the axes is counted and the odd bits summed
back. Pitfalls measured on TF.js 4.22: it has no BitwiseXor; its graph executor reads BitwiseAnd's
inputs under names its own op mapping does not give them ('a'/'b' vs 'x'/'y'), so a graph model
with BitwiseAnd fails ("'x' passed to 'bitwiseAnd' must be a Tensor ... got 'null'"); wasm computes
int32 FloorDiv in float32 (floorDiv(2147483647, 1) gives -2147483648).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.context import constant_value, materialize
from jax2tfjs.lowering.interpreter import raw_inputs
from jax2tfjs.lowering.reduction_bodies import (
    Monoid,
    PairSelection,
    body_text,
    monoids_of,
    pair_selection_of,
)
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3
X = Arg((B, 4, 5))
XOR_OPS = ("Cast", "Sum", "FloorMod", "ExpandDims", "Less", "NotEqual", "Mul")
_BITS = np.asarray([*(1 << k for k in range(31)), -(2**31)], np.int32)  # bit 31 is the sign
_SHIFTS = np.asarray([-(2**31), *(1 << (31 - k) for k in range(1, 32))], np.int32)  # 2**31 wraps to -2**31


def xor_reduce(x: tf.Tensor, axes: list[int]) -> tf.Tensor:
    """The xor of `x` (bool or int32) over `axes`, exactly."""
    if x.dtype == tf.bool:
        trues = tf.reduce_sum(tf.cast(x, tf.int32), axis=axes)
        return tf.not_equal(tf.math.floormod(trues, 2), 0)
    if x.dtype != tf.int32:
        raise NotImplementedError(f"xor over {x.dtype.name} values is not supported (bool and int32 are)")
    # Bit k moved to the sign by a wrapping multiply by 2**(31 - k), then read with Less.
    bits = tf.cast(tf.less(tf.expand_dims(x, -1) * _SHIFTS, 0), tf.int32)
    odd = tf.math.floormod(tf.reduce_sum(bits, axis=axes), 2)
    # Distinct powers of two and -2**31 at most once each: the sum cannot overflow int32.
    return tf.reduce_sum(odd * _BITS, axis=-1)


def _reduce_monoid(monoid: Monoid, x: tf.Tensor, axes: list[int]) -> tf.Tensor:
    if monoid.name == "xor":
        return xor_reduce(x, axes)
    return monoid.reduce(x, axis=axes)


def _is_identity(init, monoid: Monoid, dtype: tf.DType) -> bool:
    value = constant_value(init)
    return value is not None and np.array_equal(value, monoid.identity_value(dtype))


def _reduce_monoids(monoids, operands, inits, axes):
    outputs = []
    for monoid, operand, init in zip(monoids, operands, inits, strict=True):
        x = materialize(operand)
        y = _reduce_monoid(monoid, x, axes)
        if not _is_identity(init, monoid, x.dtype):
            if not monoid.idempotent:
                raise NotImplementedError(
                    f"a reduce by {monoid.name} with an init value other than its identity: XLA applies "
                    "it an unspecified number of times (jax 0.10.2 CPU: ones(1000) summed from init 3 "
                    "gives 1099), so no export can match; reduce from the identity and add the init after"
                )
            y = monoid.combine(y, materialize(init))
        outputs.append(y)
    return outputs


def _select_pair(selection: PairSelection, operands, inits, axes):
    """(value, index) of the selection over `axes`, the init pair taking part once."""
    values = materialize(operands[selection.value_at])
    indices = materialize(operands[1 - selection.value_at])
    init_value = materialize(inits[selection.value_at])
    init_index = materialize(inits[1 - selection.value_at])
    best = (tf.reduce_max if selection.largest else tf.reduce_min)(values, axis=axes)
    best = (tf.maximum if selection.largest else tf.minimum)(best, init_value)
    at_best = tf.equal(values, _keep(best, axes))
    limits = indices.dtype.max if selection.first_index else indices.dtype.min
    pick = tf.reduce_min if selection.first_index else tf.reduce_max
    index = pick(tf.where(at_best, indices, tf.constant(limits, indices.dtype)), axis=axes)
    tie_init = (tf.minimum if selection.first_index else tf.maximum)(index, init_index)
    index = tf.where(tf.equal(best, init_value), tie_init, index)
    return [best, index] if selection.value_at == 0 else [index, best]


def _keep(reduced, axes):
    """`reduced` with size-1 axes put back at `axes` (keepdims), by ExpandDims one axis at a time."""
    for axis in sorted(axes):
        reduced = tf.expand_dims(reduced, axis)
    return reduced


def _argmax_pair(x, first_index=True, largest=True):
    """lax.reduce over (x, iota) with an argmax-like body, as user code writes it."""
    idx = lax.broadcasted_iota(np.int32, x.shape, 1)
    better = lax.gt if largest else lax.lt

    def body(a, b):
        (av, ai), (bv, bi) = a, b
        tie = (ai < bi) if first_index else (ai > bi)
        keep = better(av, bv) | ((av == bv) & tie)
        return lax.select(keep, av, bv), lax.select(keep, ai, bi)

    init = -np.inf if largest else np.inf
    return lax.reduce((x, idx), (np.float32(init), np.int32(0)), body, (1,))


@rule(
    "reduce",
    tf_ops=(
        "Sum",
        "Prod",
        "Max",
        "Min",
        "All",
        "Any",
        "Maximum",
        "Minimum",
        "Equal",
        "SelectV2",
        *XOR_OPS,
    ),
    limits=(
        "bodies where each output is one add, mul, max, min, and, or or xor of its accumulator and element, "
        "or a (value, index) argmax/argmin pair; a non-identity init is refused for add, mul and xor (XLA "
        "applies it an unspecified number of times). NaN values in a pair selection are not matched"
    ),
    cases=[
        Case(
            "product",
            lambda x: lax.reduce(x, np.float32(1.0), lambda a, b: a * b, (1,)),
            [Arg((B, 4, 5), fill="unit")],
        ),
        Case(
            "max_reversed_operands", lambda x: lax.reduce(x, -np.inf, lambda a, b: lax.max(b, a), (1, 2)), [X]
        ),
        Case(  # a floor of 0.0: max is idempotent, so the init counts however often XLA applies it
            "max_with_floor",
            lambda x: lax.reduce(x, np.float32(0.0), lambda a, b: lax.max(a, b), (2,)),
            [X],
        ),
        Case(
            "min_int",
            lambda x: lax.reduce(x, np.int32(2**31 - 1), lambda a, b: lax.min(a, b), (0,)),
            [Arg((B, 4), "int32", "int")],
        ),
        Case(
            "any_all_pair",
            lambda x: lax.reduce(
                (x > 0, x > -1), (False, True), lambda a, b: (a[0] | b[0], a[1] & b[1]), (1,)
            ),
            [X],
        ),
        Case("argmax_pair", lambda x: _argmax_pair(x), [Arg((B, 6, 2), "float32", "int", high=4)]),
        Case(
            "argmin_last_index",
            lambda x: _argmax_pair(x, first_index=False, largest=False),
            [Arg((B, 6, 2), "float32", "int", high=4)],
        ),
        Case("xor_bool", lambda x: lax.reduce(x > 0, False, lambda a, b: a ^ b, (0, 2)), [X]),
        Case(
            "xor_int",
            lambda x: lax.reduce(x - 20, np.int32(0), lambda a, b: a ^ b, (1,)),
            [Arg((B, 5), "int32", "int", high=40)],
        ),
    ],
)
@raw_inputs
def lower_reduce(ctx, eqn, *values):
    count = len(eqn.outvars)
    operands, inits = values[:count], values[count:]
    axes = list(eqn.params["dimensions"])
    closed = eqn.params["jaxpr"]
    monoids = monoids_of(closed.jaxpr, count)
    if monoids is not None:
        return _reduce_monoids(monoids, operands, inits, axes)
    if count == 2 and (selection := pair_selection_of(closed)) is not None:
        return _select_pair(selection, operands, inits, axes)
    raise NotImplementedError(
        "reduce bodies must combine each accumulator with its element by one add, mul, max, min, and, or "
        f"or xor, or select an argmax/argmin (value, index) pair; this one computes: {body_text(closed.jaxpr)}"
    )


@rule(
    "reduce_xor",
    tf_ops=XOR_OPS,
    limits="bool and int32 (exact, bit by bit); TF.js has no BitwiseXor",
    cases=[
        Case("xor_bool", lambda x: jnp.logical_xor.reduce(x > 0, axis=1), [X]),
        Case("xor_bool_all_axes", lambda x: jnp.logical_xor.reduce(x > 0.3, axis=(1, 2)), [X]),
        Case(
            "xor_int",
            lambda x: jnp.bitwise_xor.reduce(x * 7919 - 3000, axis=1),
            [Arg((B, 6), "int32", "int", high=10**6)],
        ),
        Case(  # the sign bit and int32's extremes
            "xor_int_extremes",
            lambda x: jnp.bitwise_xor.reduce(
                jnp.where(x == 0, np.int32(-(2**31)), jnp.where(x == 1, np.int32(2**31 - 1), x - 3)), axis=1
            ),
            [Arg((B, 4), "int32", "int", high=4)],
        ),
    ],
)
def lower_reduce_xor(ctx, eqn, x):
    return xor_reduce(x, list(eqn.params["axes"]))
