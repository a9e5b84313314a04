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
from jax._src.ad_util import add_jaxvals_p  # no public name: autodiff's own sum

from jax2tfjs.lowering.context import constant_value, hints, materialize
from jax2tfjs.lowering.integer_bits import (
    to_dtype,
    truncating_divide,
    truncating_remainder,
    uint32_to_float,
    unsigned_order,
)
from jax2tfjs.lowering.interpreter import raw_inputs
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3  # batch size of the parity cases (left dynamic in the TF signature)
X = Arg((B, 4, 5))
POS = Arg((B, 4, 5), fill="positive")
UNIT = Arg((B, 4, 5), fill="unit")


def wrap_narrow(eqn, value):
    """An integer result of an 8/16-bit type wrapped around as JAX's (int32 holds 200 + 100 = 300,
    JAX's uint8 gives 44; int8 abs(-128) is -128); other types unchanged."""
    dtype = eqn.outvars[0].aval.dtype
    if str(dtype) != "bfloat16" and np.issubdtype(dtype, np.integer) and np.dtype(dtype).itemsize < 4:
        return to_dtype(value, dtype)
    return value


# What wrap_narrow emits (integer_bits.to_dtype), declared by the rules that may wrap.
WRAP_OPS = ("Cast", "Floor", "Mul", "Sub", "Less", "GreaterEqual", "SelectV2", "AddV2", "FloorMod")
NARROW = Arg((B, 6), "int32", "int")


def _narrow_case(name, jax_fn, arity, signed_only=False):
    """`jax_fn` on uint8, int8, uint16 and int16 edge values (wraparound)."""
    values = {
        jnp.int8: [-128, 127, -1, 0, 100, -100],
        jnp.int16: [-32768, 32767, -1, 300, 200, -200],
        jnp.uint8: [0, 1, 200, 255, 128, 7],
        jnp.uint16: [0, 65535, 40000, 1, 300, 9],
    }
    if signed_only:
        values = {dtype: row for dtype, row in values.items() if jnp.issubdtype(dtype, jnp.signedinteger)}

    def fn(*args):
        outs = []
        for dtype, row in values.items():
            operands = [
                lax.convert_element_type(a * 0 + jnp.array(row[k:] + row[:k]), dtype)
                for k, a in enumerate(args)
            ]
            outs.append(jax_fn(*operands))
        return outs

    return Case(name, fn, [NARROW] * arity)


def _unary(tf_fn):
    def lower(ctx, eqn, x):
        return wrap_narrow(eqn, tf_fn(x))

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
    _cases = [Case(_name, _jax_fn, [_arg])]
    if _name in ("neg", "abs"):
        _cases.append(_narrow_case(f"{_name}_narrow_wraps", _jax_fn, 1, signed_only=_name == "abs"))
    _ops = (_op, *WRAP_OPS) if _name in ("neg", "abs") else (_op,)
    rule(_name, tf_ops=_ops, cases=_cases)(_unary(_tf_fn))


def exact_sign(x):
    """sign(x) from two selects, not Sign: TF.js wasm's Sign returns 0 for |x| <= 1e-7 (measured:
    sign(1e-8) = 0, so cbrt(1e-8) was 0). 0, -0 and NaN pass through as JAX's sign keeps them."""
    return tf.where(x > 0, tf.constant(1, x.dtype), tf.where(x < 0, tf.constant(-1, x.dtype), x))


@rule(
    "sign",
    tf_ops=("Greater", "Less", "SelectV2", "NotEqual"),
    limits="two selects, not TF's Sign (TF.js wasm's Sign returns 0 for |x| <= 1e-7)",
    cases=[
        Case("sign", lax.sign, [X]),
        Case("sign_tiny", lambda x: lax.sign(x * 1e-9), [X]),
        Case("sign_int", lambda x: lax.sign(x - 5), [Arg((B, 4), "int32", "int")]),
        Case(
            "sign_uint32",
            lambda x: lax.sign(lax.convert_element_type(x * 0 + jnp.array([0, 1, -1, -(2**31)]), jnp.uint32)),
            [Arg((B, 4), "int32", "int")],
        ),
    ],
)
def lower_sign(ctx, eqn, x):
    if eqn.invars[0].aval.dtype == np.uint32:  # bit patterns >= 2**31 are negative int32s
        return tf.where(tf.not_equal(x, 0), 1, 0)
    return exact_sign(x)


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
    tf_ops=("Greater", "Less", "SelectV2", "Abs", "Pow", "Mul"),
    limits="TF has no Cbrt op: sign(x) * |x| ** (1/3)",
    cases=[
        Case("cbrt", lax.cbrt, [X], rtol=1e-5),
        Case("cbrt_tiny", lambda x: lax.cbrt(x * 1e-8), [X], rtol=1e-5),
    ],
)
def lower_cbrt(ctx, eqn, x):
    return exact_sign(x) * tf.pow(tf.abs(x), tf.constant(1.0 / 3.0, x.dtype))


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
    tf_ops=(
        "Round",
        "Greater",
        "Less",
        "SelectV2",
        "Abs",
        "Floor",
        "Sub",
        "GreaterEqual",
        "Cast",
        "Mul",
        "AddV2",
    ),
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
    return exact_sign(x) * (whole + tf.cast(magnitude - whole >= 0.5, x.dtype))


@rule(
    "integer_pow",
    tf_ops=("Square", "Mul", "Reciprocal", *WRAP_OPS),
    limits="exponents as repeated multiplication; negative exponents take a reciprocal",
    cases=[
        Case("integer_pow_2", lambda x: lax.integer_pow(x, 2), [X]),
        Case("integer_pow_3", lambda x: lax.integer_pow(x, 3), [X]),
        Case("integer_pow_-2", lambda x: lax.integer_pow(x, -2), [POS], rtol=1e-4),
        _narrow_case("integer_pow_narrow_wraps", lambda x: lax.integer_pow(x, 3), 1),
        Case("gelu_tanh", lambda x: jax.nn.gelu(x, approximate=True), [X]),
    ],
)
def lower_integer_pow(ctx, eqn, x):
    y = eqn.params["y"]
    if y == 0:
        return tf.ones_like(x)
    power = abs(y)
    if x.dtype.is_integer:
        # TF.js cpu computes an int32 Square in float32 (46341**2 came out 25 off), and TF's optimizer
        # turns Mul(x, x) into Square: 8/16-bit values are multiplied by a wrapped copy (another
        # node) and wrapped after every step, so each product stays below 2**32, exact in the
        # float64 of TF.js cpu's Mul. int32 products are exact there only below 2**53.
        result = wrap_narrow(eqn, x)
        for _ in range(power - 1):
            result = wrap_narrow(eqn, result * x)
        return result
    result = tf.square(x) if power % 2 == 0 and power >= 2 else x
    done = 2 if result is not x else 1
    while done < power:
        result = result * x
        done += 1
    return tf.math.reciprocal(result) if y < 0 else wrap_narrow(eqn, result)


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
        x, y = broadcast_operands(eqn, x, y)
        if eqn.primitive.name in _ORDERED and eqn.invars[0].aval.dtype == np.uint32:
            return unsigned_order(tf_fn, x, y, returns_operand=eqn.primitive.name in ("min", "max"))
        return wrap_narrow(eqn, tf_fn(x, y))

    return lower


# Ordered comparisons, min and max of uint32 (held as int32 bit patterns) need the sign bit flipped.
_ORDERED = ("lt", "le", "gt", "ge", "min", "max")
_UINT32_EDGES = [0, 1, 2**31 - 1, 2**31, 2**32 - 1, 7]


def _uint32_order_case(name, jax_fn):
    def fn(a, b):
        edges = jnp.array(_UINT32_EDGES, jnp.uint32)
        return jax_fn(a.astype(jnp.uint32) * 0 + edges, a.astype(jnp.uint32) * 0 + edges[::-1])

    return Case(f"{name}_uint32", fn, [Arg((B, 6), "int32", "int"), Arg((B, 6), "int32", "int")])


_BINARY = {
    "sub": (tf.subtract, "Sub", lax.sub),
    "mul": (tf.multiply, "Mul", lax.mul),
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
    _ops: tuple[str, ...] = (_op,)
    if _name in _ORDERED:
        _cases.append(_uint32_order_case(_name, _jax_fn))
        _ops = (_op, "AddV2")
    if _name in ("sub", "mul"):
        _cases.append(_narrow_case(f"{_name}_narrow_wraps", _jax_fn, 2))
        _ops = (_op, *WRAP_OPS)
    rule(_name, tf_ops=_ops, cases=_cases)(_binary(_tf_fn))


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
    tf_ops=("AddV2", "BiasAdd", *WRAP_OPS),
    limits="x + broadcast(rank-1 bias) over the last axis becomes BiasAdd; 8/16-bit ints wrap around",
    cases=[
        Case("add", lax.add, [X, X]),
        _narrow_case("add_narrow_wraps", lax.add, 2),
        Case("add_bias_2d", lambda x, b: x + b, [Arg((B, 6)), Arg((6,), batched=False)]),
        Case("add_bias_4d", lambda x, b: x + b, [Arg((B, 4, 4, 3)), Arg((3,), batched=False)]),
        Case(  # an int8 bias on the BiasAdd path still wraps: 99 + 103 is -54
            "add_bias_int8_wraps",
            lambda x: x.astype(jnp.int8) + jnp.arange(100, 104, dtype=jnp.int8),
            [Arg((B, 4), "int32", "int", high=100)],
        ),
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
            return wrap_narrow(eqn, tf.nn.bias_add(other_tensor, vector))  # int8 + int8 bias wraps too
    return wrap_narrow(eqn, tf.add(*broadcast_operands(eqn, x, y)))


@rule(
    "max",
    tf_ops=("Maximum", "Relu", "IsNan", "SelectV2", "AddV2", "Sub"),
    limits="max(x, 0) becomes Relu, which TF.js fuses into the preceding Conv2D/MatMul; a NaN in either "
    "operand gives NaN on every backend (wasm's Maximum keeps only the first one's)",
    cases=[
        Case("max", lax.max, [X, X]),
        Case("max_nan_second", lambda a, b: lax.max(a, jnp.where(b > 0.5, jnp.nan, b)), [X, X]),
        Case("max_constant_first", lambda x: lax.max(0.25, jnp.where(x > 0.5, jnp.nan, x)), [X]),
        Case("relu", lambda x: jnp.maximum(x, 0.0), [X]),
        _uint32_order_case("max", lax.max),
    ],
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
    return _extremum(tf.maximum, eqn, x, y)


def _nan_free_constant(value) -> bool:
    found = constant_value(value)
    return found is not None and not np.isnan(found).any()


def _extremum(tf_fn, eqn, x, y):
    """max or min as JAX computes them: a NaN in either operand gives NaN. TF.js wasm's Maximum and
    Minimum pass a NaN on only from their FIRST operand (measured on 4.22: max(1, NaN) is 1 there),
    so a NaN-free constant operand goes second (free: relu-like and clamp-like maxima), and where
    both operands are computed a NaN in the second is selected explicitly (IsNan + SelectV2)."""
    if eqn.invars[0].aval.dtype == np.uint32:
        return unsigned_order(tf_fn, *broadcast_operands(eqn, x, y), returns_operand=True)
    a, b = broadcast_operands(eqn, x, y)
    if not jnp.issubdtype(eqn.outvars[0].aval.dtype, jnp.floating) or _nan_free_constant(y):
        return tf_fn(a, b)
    if _nan_free_constant(x):
        return tf_fn(b, a)
    return tf.where(tf.math.is_nan(b), b, tf_fn(a, b))  # SelectV2 broadcasts b


@rule(
    "min",
    tf_ops=("Minimum", "IsNan", "SelectV2", "AddV2", "Sub"),
    limits="a NaN in either operand gives NaN on every backend (wasm's Minimum keeps only the first one's)",
    cases=[
        Case("min", lax.min, [X, X]),
        Case("min_nan_second", lambda a, b: lax.min(a, jnp.where(b > 0.5, jnp.nan, b)), [X, X]),
        Case("min_constant_first", lambda x: lax.min(0.25, jnp.where(x > 0.5, jnp.nan, x)), [X]),
        _uint32_order_case("min", lax.min),
    ],
)
@raw_inputs
def lower_min(ctx, eqn, x, y):
    return _extremum(tf.minimum, eqn, x, y)


_INT_NUMERATORS = [
    7,
    -7,
    7,
    -7,
    5,
    -(2**31),
    -(2**31),
    2**31 - 1,
    0,
    -5,
    2**31 - 1,
    -(2**31) + 1,
    2000000001,
    16777217,
]
_INT_DIVISORS = [2, 2, -2, -2, 0, -1, 1, 0, 3, -1, 3, 7, -65536, 1]


_UINT32_NUMERATORS = [2**32 - 1, 2**31, 2**31 + 5, 7, 0, 4000000000, 123456789, 2**32 - 1, 2**31 - 1, 9]
_UINT32_DIVISORS = [1, 2**31, 3, 2**32 - 1, 5, 0, 2**31 + 1, 65536, 2**31, 2]


def _uint32_division_case(name, jax_fn):
    def fn(a, b):
        numerators = jnp.array(_UINT32_NUMERATORS, jnp.uint32)
        divisors = jnp.array(_UINT32_DIVISORS, jnp.uint32)
        return jax_fn(a.astype(jnp.uint32) * 0 + numerators, b.astype(jnp.uint32) * 0 + divisors)

    return Case(name, fn, [Arg((B, 10), "int32", "int"), Arg((B, 10), "int32", "int")])


def _int_division_case(name, jax_fn):
    def fn(a, b):
        numerators = [jnp.array(_INT_NUMERATORS, jnp.int32)]
        divisors = [jnp.array(_INT_DIVISORS, jnp.int32)]
        for dtype in (jnp.int8, jnp.uint8, jnp.uint16):
            numerators.append(
                jnp.array([-128, 127, 200, 255, 65535, 3, 0, 100, 7, 9, -7, 50, 99, 1]).astype(dtype)
            )
            divisors.append(jnp.array([-1, 0, 7, 2, 3, -1, 0, 9, 255, 100, 2, -3, 7, 1]).astype(dtype))
        return [
            jax_fn(a.astype(n.dtype) * 0 + n, b.astype(d.dtype) * 0 + d)
            for n, d in zip(numerators, divisors, strict=True)
        ]

    return Case(name, fn, [Arg((B, 14), "int32", "int"), Arg((B, 14), "int32", "int")])


@rule(
    "div",
    tf_ops=(
        "RealDiv",
        "FloorDiv",
        "Equal",
        "LogicalOr",
        "SelectV2",
        "Mul",
        "Sub",
        "NotEqual",
        "Less",
        "LogicalAnd",
        "AddV2",
        "GreaterEqual",
        "Greater",
        "LessEqual",
        "Cast",
        "Floor",
        "Maximum",
        "Minimum",
        "FloorMod",
        "LogicalNot",
    ),
    limits=(
        "window_sum / window_size becomes the window sum's AvgPool (charged to reduce_window_sum); "
        "integers divide toward zero as XLA (x / 0 all ones, INT_MIN / -1 = INT_MIN), exactly: a float32 "
        "quotient corrected with integer remainders (wasm's integer FloorDiv is float32); uint32 "
        "(held as int32 bits) by halving the dividend"
    ),
    cases=[
        Case("div", lax.div, [X, POS]),
        Case(
            "div_int",
            lambda a, b: lax.div(a - 5, b + 1),
            [Arg((B, 4), "int32", "int"), Arg((B, 4), "int32", "int")],
        ),
        _int_division_case("div_int_edges", lax.div),
        _uint32_division_case("div_uint32", lax.div),
    ],
)
@raw_inputs
def lower_div(ctx, eqn, x, y):
    window = hints(x).window_sum
    divisor = constant_value(y)
    if window is not None and divisor is not None and divisor.size == 1 and float(divisor) == window.count:
        return window.average()
    dtype = eqn.outvars[0].aval.dtype
    if np.issubdtype(dtype, np.integer):
        return truncating_divide(*broadcast_operands(eqn, x, y), dtype)
    return tf.math.truediv(*broadcast_operands(eqn, x, y))


@rule(
    "rem",
    tf_ops=(
        "FloorMod",
        "NotEqual",
        "Less",
        "LogicalAnd",
        "SelectV2",
        "Sub",
        "Equal",
        "LogicalOr",
        "Cast",
        "Floor",
        "RealDiv",
        "Mul",
        "AddV2",
        "Maximum",
        "Minimum",
        "Greater",
        "LessEqual",
        "GreaterEqual",
        "LogicalNot",
        "FloorDiv",
    ),
    limits=(
        "C-style remainder (sign of the dividend): float FloorMod; integers exactly from a corrected "
        "float32 quotient (wasm's integer FloorMod is float32); integer x % 0 is x as in XLA; "
        "uint32 (held as int32 bits) exactly too"
    ),
    cases=[
        Case("rem", lax.rem, [X, POS], rtol=1e-4, atol=1e-4),
        Case(
            "rem_int",
            lambda a, b: lax.rem(a - 5, b + 1),
            [Arg((B, 4), "int32", "int"), Arg((B, 4), "int32", "int")],
        ),
        _int_division_case("rem_int_edges", lax.rem),
        _uint32_division_case("rem_uint32", lax.rem),
    ],
)
def lower_rem(ctx, eqn, x, y):
    dtype = eqn.outvars[0].aval.dtype
    if np.issubdtype(dtype, np.integer):
        return truncating_remainder(x, y, dtype)
    floored = tf.math.floormod(x, y)
    wrong_sign = tf.logical_and(tf.not_equal(floored, 0), tf.not_equal(floored < 0, x < 0))
    return tf.where(wrong_sign, floored - y, floored)


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
    tf_ops=("Maximum", "Minimum", "AddV2", "Sub"),
    limits="uint32 (held as int32 bits) compared unsigned",
    cases=[
        Case("clamp", lambda x: lax.clamp(-0.5, x, 0.5), [X]),
        Case(
            "clamp_uint32",
            lambda x: lax.clamp(
                jnp.uint32(5),
                lax.convert_element_type(x * 0 + jnp.array([0, 7, -1, -(2**31), 2**31 - 1]), jnp.uint32),
                jnp.uint32(2**31 + 7),
            ),
            [Arg((B, 5), "int32", "int")],
        ),
    ],
)
def lower_clamp(ctx, eqn, low, x, high):
    if eqn.invars[1].aval.dtype == np.uint32:
        raised = unsigned_order(tf.maximum, x, low, returns_operand=True)
        return unsigned_order(tf.minimum, raised, high, returns_operand=True)
    return tf.minimum(tf.maximum(x, low), high)


_FLOAT_EDGES = [
    jnp.nan,
    jnp.inf,
    -jnp.inf,
    3e9,
    -3e9,
    2147483520.0,
    2.0**31,
    4e9,
    5e9,
    -1.0,
    255.9,
    -0.5,
    7.9,
]
_UINT32_BITS = [0, 1, 2**31 - 1, -(2**31), -1, 16777217, -(2**31) + 128, -(2**31) + 384]


@rule(
    "convert_element_type",
    tf_ops=(
        "Cast",
        "Sub",
        "FloorMod",
        "AddV2",
        "Equal",
        "SelectV2",
        "Maximum",
        "Minimum",
        "GreaterEqual",
        "Floor",
        "Less",
        "Mul",
    ),
    limits=(
        "float64/float16/bfloat16 become float32 and int64 int32, with a warning in the report; "
        "8/16-bit ints are computed in int32 with their wraparound; float → int saturates and maps "
        "NaN to 0 as XLA; uint32 (held as int32 bits) converts to float exactly"
    ),
    cases=[
        Case("to_int32", lambda x: lax.convert_element_type(lax.floor(x * 3.0), jnp.int32), [X]),
        Case(
            "to_float32",
            lambda x: lax.convert_element_type(x, jnp.float32) * 0.5,
            [Arg((B, 4), "int32", "int")],
        ),
        Case("bool_to_float", lambda x: (x > 0).astype(jnp.float32), [X]),
        Case("float_to_uint8", lambda x: lax.convert_element_type(x * 300.0, jnp.uint8), [X]),
        Case("float_to_int8", lambda x: lax.convert_element_type(x * 300.0, jnp.int8), [X]),
        Case(
            "float_edges_to_ints",
            lambda x: [
                lax.convert_element_type(x * 0.0 + jnp.array(_FLOAT_EDGES, jnp.float32), dtype)
                for dtype in (jnp.int32, jnp.uint32, jnp.int8, jnp.uint8, jnp.int16, jnp.uint16)
            ],
            [Arg((B, len(_FLOAT_EDGES)))],
        ),
        Case(
            "uint32_to_float",
            lambda x: lax.convert_element_type(
                lax.convert_element_type(x * 0 + jnp.array(_UINT32_BITS, jnp.int32), jnp.uint32), jnp.float32
            ),
            [Arg((B, len(_UINT32_BITS)), "int32", "int")],
            atol=0,
            rtol=0,
        ),
        Case(
            "int_to_uint8_wraps", lambda x: (x * 100 - 300).astype(jnp.uint8), [Arg((B, 4), "int32", "int")]
        ),
        Case("int_to_int16_wraps", lambda x: (x * 9000).astype(jnp.int16), [Arg((B, 4), "int32", "int")]),
    ],
)
def lower_convert_element_type(ctx, eqn, x):
    source, new_dtype = (_np_dtype(d) for d in (eqn.invars[0].aval.dtype, eqn.params["new_dtype"]))
    target = ctx.tf_dtype(eqn.params["new_dtype"])
    if _is_float(source) and new_dtype is not None and np.issubdtype(new_dtype, np.integer):
        return _float_to_int(x, new_dtype)
    if source == np.uint32 and target.is_floating:
        return uint32_to_float(x)
    if new_dtype is not None and new_dtype.name in NARROW_INTS:
        return _to_narrow_int(x, new_dtype)
    return x if x.dtype == target else tf.cast(x, target)


NARROW_INTS = ("int8", "int16", "uint8", "uint16")


def _np_dtype(dtype):
    return None if str(dtype) == "bfloat16" else np.dtype(dtype)


def _is_float(dtype) -> bool:
    return dtype is None or np.issubdtype(dtype, np.floating)


def _to_narrow_int(x, dtype):
    """JAX's integer casts to 8/16-bit ints, computed in int32: wrap around."""
    info = np.iinfo(dtype)
    x = tf.cast(x, tf.int32) if x.dtype != tf.int32 else x
    span = int(info.max) - int(info.min) + 1
    return tf.math.floormod(x - int(info.min), span) + int(info.min)


def _float_to_int(x, dtype):
    """XLA's float → int: truncate toward zero, saturate at the type's bounds, NaN → 0 (measured
    under jit; numpy's astype wraps instead). TF's and TF.js's Cast of out-of-range floats differ
    (INT_MIN in TF, wraparound on TF.js cpu), so values are clamped before the Cast."""
    x = tf.where(tf.equal(x, x), x, 0.0)
    if np.dtype(dtype).itemsize < 4:
        info = np.iinfo(dtype)
        return tf.cast(tf.minimum(tf.maximum(x, float(info.min)), float(info.max)), tf.int32)
    if np.dtype(dtype) == np.uint32:
        # [2**31, 2**32) as the same bits in int32: x - 2**32 is exact in float32 there.
        clamped = tf.minimum(tf.maximum(x, 0.0), 4294967040.0)  # the largest float32 below 2**32
        bits = tf.cast(tf.where(clamped >= 2.0**31, clamped - 2.0**32, clamped), tf.int32)
        return tf.where(x >= 2.0**32, -1, bits)
    # int32 (and int64, computed as int32): 2147483520 is the largest float32 below 2**31.
    clamped = tf.cast(tf.minimum(tf.maximum(x, -(2.0**31)), 2147483520.0), tf.int32)
    return tf.where(x >= 2.0**31, 2**31 - 1, clamped)


@rule(
    "copy",
    "optimization_barrier",
    "stop_gradient",
    "device_put",
    tf_ops=(),
    limits="identity at inference time (device_put: one device, any number of operands)",
    cases=[
        Case("device_put", lambda x, y: jax.device_put((x * 2.0, y + 1)), [X, Arg((B, 4), "int32", "int")]),
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
    "add_any",
    tf_ops=("AddV2",),
    limits="the sum JAX's autodiff emits (add_jaxvals); an add",
    cases=[Case("add_any", lambda x, y: add_jaxvals_p.bind(x, y) * 2.0, [X, X])],
)
def lower_add_any(ctx, eqn, x, y):
    return tf.add(x, y)
