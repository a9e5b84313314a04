"""eq_to, le_to, lt_to: comparisons in IEEE total order, as JAX's sort comparators use them
(`jnp.searchsorted`, hence `jnp.interp`, `jnp.digitize`, `jnp.histogram`).

Total order on floats: -NaN < -inf < … < -0.0 < +0.0 < … < +inf < +NaN, and a NaN equals itself.
TF.js cannot see a NaN's sign (no bitcast), so every NaN is taken as +NaN, the largest value (what
jax2tfjs's sort and top_k do too). -0.0 is told from +0.0 by the sign of 1/x (Reciprocal; wasm's
Sign op is 0 for tiny values, so it is not used). Integers and booleans compare as usual.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3


def _specials(x):
    """Small ints 0..6 as floats → NaN, inf, -inf, -0.0, 0.0 and two ordinary values."""
    table = jnp.array([jnp.nan, jnp.inf, -jnp.inf, -0.0, 0.0, 1.5, -2.0], jnp.float32)
    return table[x]


SPECIALS = Arg((B, 9), "int32", "int", high=7)


def _total_order_parts(x, y):
    """(x < y, x == y) in total order, every NaN the largest value."""
    x_nan, y_nan = tf.math.is_nan(x), tf.math.is_nan(y)
    x_neg_zero = tf.logical_and(tf.equal(x, 0.0), tf.less(tf.math.reciprocal(x), 0.0))
    y_neg_zero = tf.logical_and(tf.equal(y, 0.0), tf.less(tf.math.reciprocal(y), 0.0))
    same = tf.equal(x, y)
    zero_order = tf.logical_and(same, tf.logical_and(x_neg_zero, tf.logical_not(y_neg_zero)))
    numbers_less = tf.logical_or(tf.less(x, y), zero_order)
    # Logical ops only: a SelectV2 of bool scalars crashed TF.js wasm (memory access out of bounds).
    less = tf.logical_and(tf.logical_not(x_nan), tf.logical_or(y_nan, numbers_less))
    equal = tf.logical_or(
        tf.logical_and(x_nan, y_nan), tf.logical_and(same, tf.equal(x_neg_zero, y_neg_zero))
    )
    return less, equal


def _compare(kind):
    def lower(ctx, eqn, x, y):
        if not np.issubdtype(eqn.invars[0].aval.dtype, np.floating):
            return {"eq_to": tf.equal, "lt_to": tf.less, "le_to": tf.less_equal}[kind](x, y)
        less, equal = _total_order_parts(x, y)
        return {"eq_to": equal, "lt_to": less, "le_to": tf.logical_or(less, equal)}[kind]

    return lower


_TF_OPS = ("IsNan", "Equal", "Less", "Reciprocal", "LogicalAnd", "LogicalNot", "LogicalOr")
_PRIMITIVES = {"eq_to": lax.eq_to_p, "lt_to": lax.lt_to_p, "le_to": lax.le_to_p}


def _bind(kind):
    return lambda a, b: _PRIMITIVES[kind].bind(a, b)


# What users call: searchsorted (le_to inside a scan) and interp (lt_to).
_USES = {
    "le_to": [Case("searchsorted", lambda v: jnp.searchsorted(jnp.linspace(-2.0, 2.0, 9), v), [Arg((B, 5))])],
    "lt_to": [
        Case(
            "interp", lambda v: jnp.interp(v, jnp.linspace(-2.0, 2.0, 5), jnp.arange(5.0) ** 2), [Arg((B, 5))]
        )
    ],
    "eq_to": [],
}

for _kind in ("eq_to", "lt_to", "le_to"):
    rule(
        _kind,
        tf_ops=(*_TF_OPS, "LessEqual") if _kind == "le_to" else _TF_OPS,
        limits="IEEE total order (-0.0 < +0.0, NaN equal to itself); every NaN ranks largest "
        "(TF.js cannot see a NaN's sign)",
        cases=[
            Case(_kind, lambda a, b, k=_kind: _bind(k)(_specials(a), _specials(b)), [SPECIALS, SPECIALS]),
            Case(
                f"{_kind}_int",
                lambda a, b, k=_kind: _bind(k)(a, b),
                [Arg((B, 5), "int32", "int", high=4)] * 2,
            ),
            *_USES[_kind],
        ],
    )(_compare(_kind))
