"""Elementwise rules: arithmetic, transcendental, comparison, logic, select, casts.

lax binary ops broadcast size-1 dims of equal-rank operands (jnp inserts those reshapes), which TF's
broadcasting matches. Two patterns make graphs that TF.js fuses: `x + reshape(bias)` becomes BiasAdd
with the rank-1 bias (the tfjs converter fuses Conv2D/MatMul + BiasAdd + Relu, and the wasm backend
only accepts rank-1 fused biases), and `max(x, 0)` becomes Relu.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.context import constant_value, hints, materialize
from jax2tfjs.lowering.interpreter import raw_inputs
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3  # batch size of the parity cases (left dynamic in the TF signature)
X = Arg((B, 4, 5))
POS = Arg((B, 4, 5), fill="positive")
UNIT = Arg((B, 4, 5), fill="unit")


def _unary(tf_fn):
    def lower(ctx, eqn, x):
        return tf_fn(x)

    return lower


_UNARY = {
    "neg": (tf.negative, "Neg", X, lax.neg),
    "abs": (tf.abs, "Abs", X, lax.abs),
    "exp": (tf.exp, "Exp", UNIT, lax.exp),
    "log": (tf.math.log, "Log", POS, lax.log),
    "log1p": (tf.math.log1p, "Log1p", POS, lax.log1p),
    "expm1": (tf.math.expm1, "Expm1", UNIT, lax.expm1),
    "tanh": (tf.tanh, "Tanh", X, lax.tanh),
    "logistic": (tf.sigmoid, "Sigmoid", X, lax.logistic),
    "sqrt": (tf.sqrt, "Sqrt", POS, lax.sqrt),
    "rsqrt": (tf.math.rsqrt, "Rsqrt", POS, lax.rsqrt),
    "erf": (tf.math.erf, "Erf", X, lax.erf),
    "sign": (tf.sign, "Sign", X, lax.sign),
    "floor": (tf.floor, "Floor", X, lax.floor),
    "ceil": (tf.math.ceil, "Ceil", X, lax.ceil),
    "sin": (tf.sin, "Sin", X, lax.sin),
    "cos": (tf.cos, "Cos", X, lax.cos),
    "tan": (tf.tan, "Tan", UNIT, lax.tan),
    "square": (tf.square, "Square", X, lax.square),
    "is_finite": (tf.math.is_finite, "IsFinite", X, lax.is_finite),
    # Inverse and hyperbolic trigonometry: one TF.js op each, kernels on cpu, wasm and webgl.
    "asin": (tf.asin, "Asin", UNIT, lax.asin),
    "acos": (tf.acos, "Acos", UNIT, lax.acos),
    "atan": (tf.atan, "Atan", X, lax.atan),
    "sinh": (tf.sinh, "Sinh", X, lax.sinh),
    "cosh": (tf.cosh, "Cosh", X, lax.cosh),
    "asinh": (tf.asinh, "Asinh", X, lax.asinh),
    "atanh": (tf.atanh, "Atanh", UNIT, lax.atanh),
}
for _name, (_tf_fn, _op, _arg, _jax_fn) in _UNARY.items():
    rule(_name, tf_ops=(_op,), cases=[Case(_name, _jax_fn, [_arg])])(_unary(_tf_fn))


@rule(
    "acosh",
    tf_ops=("Acosh",),
    cases=[Case("acosh", lambda x: lax.acosh(x + 1.0), [POS])],  # defined for x >= 1
)
def lower_acosh(ctx, eqn, x):
    return tf.acosh(x)


@rule(
    "exp2",
    tf_ops=("Pow",),
    limits="TF has no Exp2 op: Pow(2, x)",
    cases=[Case("exp2", lax.exp2, [X])],
)
def lower_exp2(ctx, eqn, x):
    return tf.pow(tf.constant(2.0, x.dtype), x)


@rule(
    "cbrt",
    tf_ops=("Sign", "Abs", "Pow", "Mul"),
    limits="TF has no Cbrt op: sign(x) * |x| ** (1/3)",
    cases=[Case("cbrt", lax.cbrt, [X], rtol=1e-5)],
)
def lower_cbrt(ctx, eqn, x):
    return tf.sign(x) * tf.pow(tf.abs(x), tf.constant(1.0 / 3.0, x.dtype))


@rule(
    "erfc",
    tf_ops=("Erf", "Sub"),
    limits="TF.js has no Erfc: emitted as 1 - Erf(x) (exact GELU lowers to erfc); loses relative precision for x > 3",
    cases=[
        Case("erfc", lax.erfc, [UNIT]),
        Case("gelu_exact", lambda x: jax.nn.gelu(x, approximate=False), [X]),
    ],
)
def lower_erfc(ctx, eqn, x):
    return 1.0 - tf.math.erf(x)


@rule(
    "round",
    tf_ops=("Round", "Sign", "Abs", "Floor", "Sub", "GreaterEqual", "Cast", "Mul", "AddV2"),
    limits="half-to-even maps to Round; jax's default (away from zero) is sign(x) * floor(|x| + 0.5)",
    cases=[
        Case("round_away", lambda x: lax.round(x * 2.0), [X]),
        Case(
            "round_float32_edges",
            lambda x: lax.round(x * 0.0 + jnp.array([0.49999997, 8388609.0, -2.5, 1.5], jnp.float32)),
            [Arg((B, 4))],
        ),
        Case("round_even", lambda x: lax.round(x * 2.0, lax.RoundingMethod.TO_NEAREST_EVEN), [X]),
    ],
)
def lower_round(ctx, eqn, x):
    if eqn.params["rounding_method"] == lax.RoundingMethod.TO_NEAREST_EVEN:
        return tf.round(x)
    # Not floor(|x| + 0.5): that sum rounds in float32 (0.49999997 -> 1, odd values >= 2**23 -> +1).
    magnitude = tf.abs(x)
    whole = tf.floor(magnitude)
    return tf.sign(x) * (whole + tf.cast(magnitude - whole >= 0.5, x.dtype))


@rule(
    "integer_pow",
    tf_ops=("Square", "Mul", "Reciprocal"),
    limits="exponents as repeated multiplication; negative exponents take a reciprocal",
    cases=[
        Case("integer_pow_2", lambda x: lax.integer_pow(x, 2), [X]),
        Case("integer_pow_3", lambda x: lax.integer_pow(x, 3), [X]),
        Case("integer_pow_-2", lambda x: lax.integer_pow(x, -2), [POS], rtol=1e-4),
        Case("gelu_tanh", lambda x: jax.nn.gelu(x, approximate=True), [X]),
    ],
)
def lower_integer_pow(ctx, eqn, x):
    y = eqn.params["y"]
    if y == 0:
        return tf.ones_like(x)
    power = abs(y)
    result = tf.square(x) if power % 2 == 0 and power >= 2 else x
    done = 2 if result is not x else 1
    while done < power:
        result = result * x
        done += 1
    return tf.math.reciprocal(result) if y < 0 else result


def broadcast_operands(eqn, *values):
    """Plain tensors for an elementwise op. Deferred broadcasts may stay in their rank-equal size-1
    form (TF and TF.js broadcast implicitly) when one operand, the anchor, is materialised with the
    output's shape, so the result's shape is unchanged and no BroadcastTo (nor the Shape/Pack ops
    a dynamic batch needs) is emitted. The anchor is an operand that is not a broadcast if there
    is one."""
    out_shape = tuple(eqn.outvars[0].aval.shape)
    full = [i for i, var in enumerate(eqn.invars) if tuple(var.aval.shape) == out_shape]
    if not full:
        return [materialize(v) for v in values]
    anchor = next((i for i in full if hints(values[i]).broadcastable is None), full[0])
    return [
        materialize(v) if i == anchor or hints(v).broadcastable is None else hints(v).broadcastable()
        for i, v in enumerate(values)
    ]


def _binary(tf_fn):
    @raw_inputs
    def lower(ctx, eqn, x, y):
        return tf_fn(*broadcast_operands(eqn, x, y))

    return lower


_BINARY = {
    "sub": (tf.subtract, "Sub", lax.sub),
    "mul": (tf.multiply, "Mul", lax.mul),
    "min": (tf.minimum, "Minimum", lax.min),
    "pow": (tf.pow, "Pow", None),
    "atan2": (tf.math.atan2, "Atan2", lax.atan2),
    "eq": (tf.equal, "Equal", lax.eq),
    "ne": (tf.not_equal, "NotEqual", lax.ne),
    "lt": (tf.less, "Less", lax.lt),
    "le": (tf.less_equal, "LessEqual", lax.le),
    "gt": (tf.greater, "Greater", lax.gt),
    "ge": (tf.greater_equal, "GreaterEqual", lax.ge),
}
for _name, (_tf_fn, _op, _jax_fn) in _BINARY.items():
    _cases = [Case(_name, _jax_fn, [X, X])] if _jax_fn is not None else []
    if _name == "pow":
        _cases = [Case("pow", lax.pow, [POS, X], rtol=1e-4)]
    if _name == "eq":
        _cases.append(Case("eq_rounded", lambda a, b: lax.eq(lax.round(a), lax.round(b)), [X, X]))
    rule(_name, tf_ops=(_op,), cases=_cases)(_binary(_tf_fn))


def _bias_vector(value, other):
    """The rank-1 bias behind `value` if adding it to `other` is a BiasAdd over the last axis."""
    vector = hints(value).bias_vector
    if vector is None or other.shape.rank is None or other.shape.rank < 2:
        return None
    if other.shape[-1] is not None and other.shape[-1] == vector.shape[0]:
        return vector
    return None


@rule(
    "add",
    tf_ops=("AddV2", "BiasAdd"),
    limits="x + broadcast(rank-1 bias) over the last axis becomes BiasAdd",
    cases=[
        Case("add", lax.add, [X, X]),
        Case("add_bias_2d", lambda x, b: x + b, [Arg((B, 6)), Arg((6,), batched=False)]),
        Case("add_bias_4d", lambda x, b: x + b, [Arg((B, 4, 4, 3)), Arg((3,), batched=False)]),
    ],
)
@raw_inputs
def lower_add(ctx, eqn, x, y):
    for value, other in ((y, x), (x, y)):
        other_tensor = materialize(other)
        vector = _bias_vector(value, other_tensor)
        if vector is not None and list(eqn.outvars[0].aval.shape) == list(
            eqn.invars[0 if other is x else 1].aval.shape
        ):
            return tf.nn.bias_add(other_tensor, vector)
    return tf.add(*broadcast_operands(eqn, x, y))


@rule(
    "max",
    tf_ops=("Maximum", "Relu"),
    limits="max(x, 0) becomes Relu, which TF.js fuses into the preceding Conv2D/MatMul",
    cases=[Case("max", lax.max, [X, X]), Case("relu", lambda x: jnp.maximum(x, 0.0), [X])],
)
@raw_inputs
def lower_max(ctx, eqn, x, y):
    for value, other in ((y, x), (x, y)):
        zero = constant_value(value)
        if (
            zero is not None
            and zero.size == 1
            and float(zero) == 0.0
            and eqn.outvars[0].aval.dtype == np.float32
        ):
            return tf.nn.relu(materialize(other))
    return tf.maximum(*broadcast_operands(eqn, x, y))


@rule(
    "div",
    tf_ops=("RealDiv",),
    limits="float only; window_sum / window_size becomes the window sum's AvgPool (charged to reduce_window_sum)",
    cases=[Case("div", lax.div, [X, POS])],
)
@raw_inputs
def lower_div(ctx, eqn, x, y):
    window = hints(x).window_sum
    divisor = constant_value(y)
    if window is not None and divisor is not None and divisor.size == 1 and float(divisor) == window.count:
        return window.average()
    if not np.issubdtype(eqn.outvars[0].aval.dtype, np.floating):
        raise NotImplementedError("integer division (C-style truncation) has no TF.js op; divide floats")
    return tf.math.truediv(*broadcast_operands(eqn, x, y))


@rule(
    "rem",
    tf_ops=("FloorMod", "NotEqual", "Less", "LogicalAnd", "SelectV2", "Sub"),
    limits="C-style remainder (sign of the dividend) built from FloorMod",
    cases=[
        Case("rem", lax.rem, [X, POS], rtol=1e-4, atol=1e-4),
        Case(
            "rem_int",
            lambda a, b: lax.rem(a - 5, b + 1),
            [Arg((B, 4), "int32", "int"), Arg((B, 4), "int32", "int")],
        ),
    ],
)
def lower_rem(ctx, eqn, x, y):
    floored = tf.math.floormod(x, y)
    wrong_sign = tf.logical_and(tf.not_equal(floored, 0), tf.not_equal(floored < 0, x < 0))
    return tf.where(wrong_sign, floored - y, floored)


@rule(
    "and",
    "or",
    "not",
    "xor",
    tf_ops=("LogicalAnd", "LogicalOr", "LogicalNot", "NotEqual"),
    limits="booleans only (TF.js has no bitwise ops on integers)",
    cases=[
        Case("and", lax.bitwise_and, [Arg((B, 4), fill="bool"), Arg((B, 4), fill="bool")]),
        Case("or", lax.bitwise_or, [Arg((B, 4), fill="bool"), Arg((B, 4), fill="bool")]),
        Case("not", lax.bitwise_not, [Arg((B, 4), fill="bool")]),
        Case("xor", lax.bitwise_xor, [Arg((B, 4), fill="bool"), Arg((B, 4), fill="bool")]),
    ],
)
def lower_logical(ctx, eqn, *args):
    if eqn.outvars[0].aval.dtype != np.bool_:
        raise NotImplementedError("bitwise ops on integers have no TF.js op; use booleans")
    ops = {"and": tf.logical_and, "or": tf.logical_or, "not": tf.logical_not, "xor": tf.not_equal}
    return ops[eqn.primitive.name](*args)


@rule(
    "select_n",
    tf_ops=("SelectV2", "Equal"),
    limits=(
        "a boolean predicate, or an int32 one with any number of cases (nested selects); broadcast "
        "masks and fill values stay small (SelectV2 broadcasts)"
    ),
    cases=[
        Case(
            "select_n",
            lambda p, a, b: lax.select_n(p, a, b),
            [Arg((B, 4), fill="bool"), Arg((B, 4)), Arg((B, 4))],
        ),
        Case("where", lambda x, a: jnp.where(x > 0, x, a), [Arg((B, 4)), Arg((B, 4))]),
        Case(
            "where_masked_fill",
            lambda x, m: jnp.where(m[:, None, :], x, -1e9),
            [Arg((B, 3, 4)), Arg((B, 4), fill="bool")],
        ),
        Case(
            "where_all_broadcast",
            lambda a, m: jnp.where(m[:, :, None], a[:, None, :], 0.5),
            [Arg((B, 4)), Arg((B, 3), fill="bool")],
        ),
        Case(
            "select_n_int",
            lambda p, a, b, c: lax.select_n(p, a, b, c),
            [Arg((B, 4), "int32", "int", high=3), Arg((B, 4)), Arg((B, 4)), Arg((B, 4))],
        ),
    ],
)
@raw_inputs
def lower_select_n(ctx, eqn, *values):
    # SelectV2 broadcasts (in TF.js too): a mask or a fill value broadcast to the scores' shape,
    # as in attention's jnp.where(mask, scores, -big), stays small.
    predicate, *cases = broadcast_operands(eqn, *values)
    if predicate.dtype == tf.bool:
        return tf.where(predicate, cases[1], cases[0]) if len(cases) == 2 else cases[0]
    result = cases[-1]
    for index in range(len(cases) - 2, -1, -1):
        result = tf.where(tf.equal(predicate, index), cases[index], result)
    return result


@rule(
    "clamp",
    tf_ops=("Maximum", "Minimum"),
    cases=[Case("clamp", lambda x: lax.clamp(-0.5, x, 0.5), [X])],
)
def lower_clamp(ctx, eqn, low, x, high):
    return tf.minimum(tf.maximum(x, low), high)


@rule(
    "convert_element_type",
    tf_ops=("Cast", "Sub", "FloorMod", "AddV2"),
    limits=(
        "float64/float16/bfloat16 become float32 and int64 int32, with a warning in the report; "
        "8/16-bit ints are computed in int32 with their wraparound"
    ),
    cases=[
        Case("to_int32", lambda x: lax.convert_element_type(lax.floor(x * 3.0), jnp.int32), [X]),
        Case(
            "to_float32",
            lambda x: lax.convert_element_type(x, jnp.float32) * 0.5,
            [Arg((B, 4), "int32", "int")],
        ),
        Case("bool_to_float", lambda x: (x > 0).astype(jnp.float32), [X]),
        Case("float_to_uint8", lambda x: (x * 300.0).astype(jnp.uint8), [X]),
        Case("float_to_int8", lambda x: (x * 300.0).astype(jnp.int8), [X]),
        Case(
            "int_to_uint8_wraps", lambda x: (x * 100 - 300).astype(jnp.uint8), [Arg((B, 4), "int32", "int")]
        ),
        Case("int_to_int16_wraps", lambda x: (x * 9000).astype(jnp.int16), [Arg((B, 4), "int32", "int")]),
    ],
)
def lower_convert_element_type(ctx, eqn, x):
    new_dtype = np.dtype(eqn.params["new_dtype"]) if str(eqn.params["new_dtype"]) != "bfloat16" else None
    target = ctx.tf_dtype(eqn.params["new_dtype"])
    if new_dtype is not None and new_dtype.name in NARROW_INTS:
        return _to_narrow_int(x, new_dtype)
    return x if x.dtype == target else tf.cast(x, target)


NARROW_INTS = ("int8", "int16", "uint8", "uint16")


def _to_narrow_int(x, dtype):
    """JAX's casts to 8/16-bit ints, computed in int32: truncate toward zero, then wrap around, as
    XLA's CPU code does at run time. (Out-of-range floats are implementation-defined; constant
    folding may saturate instead.)"""
    info = np.iinfo(dtype)
    x = tf.cast(x, tf.int32)
    span = int(info.max) - int(info.min) + 1
    return tf.math.floormod(x - int(info.min), span) + int(info.min)


@rule(
    "copy",
    "optimization_barrier",
    "stop_gradient",
    tf_ops=(),
    limits="identity at inference time",
    cases=[
        Case("stop_gradient", lambda x: jax.nn.softmax(x), [X]),
        Case("copy", lambda x: jnp.copy(x) * 2.0, [X]),
        Case("optimization_barrier", lambda x: lax.optimization_barrier(x) * 2.0, [X]),
    ],
)
@raw_inputs
def lower_identity(ctx, eqn, *xs):
    # Pass deferred values through untouched, so hints survive (softmax's stop_gradient sits
    # between a broadcast and the sub that would take it without a BroadcastTo).
    return xs if eqn.primitive.multiple_results else xs[0]


@rule(
    "reduce_precision",
    tf_ops=(),
    limits="identity: TF.js computes in float32 anyway",
    cases=[
        Case("reduce_precision", lambda x: lax.reduce_precision(x, exponent_bits=8, mantissa_bits=23), [X])
    ],
)
def lower_reduce_precision(ctx, eqn, x):
    return x
