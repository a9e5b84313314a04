"""Bitwise rules: and/or/xor/not, shifts, population_count, clz, on booleans and on integers.

TF.js's op list (4.22) has one bitwise op, BitwiseAnd, and its graph-model executor cannot run it
(integer_bits.py says why); there is no BitwiseOr, BitwiseXor, Invert, LeftShift, RightShift or
PopulationCount. So integers are computed exactly from their two 16-bit halves (integer_bits.py):
and/or/xor bit by bit on 0/1 floats, ~a = -1 - a, a << s = a * 2**s (wrapping), right shifts and
bit counts from the halves. Shift amounts outside 0..bits-1 give what XLA gives: 0, or the sign fill
for an arithmetic right shift. 64-bit types are refused (TF.js has no 64-bit integers).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.integer_bits import (
    INT32_MIN,
    bit_length,
    bitwise,
    is_unsigned,
    low_bits,
    population_count,
    power_of_two,
    shift_right,
    sign_extend,
    to_dtype,
    width,
)
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3
_INT_EDGES = [0, 1, -1, 7, -8, 2**31 - 1, -(2**31), 0x55555555, -0x55555556, 65535]


def _ints(values, dtype=jnp.int32):
    """An int input replaced by `values` along its last axis, in `dtype` (edge cases in a Case)."""
    return lambda x: lax.convert_element_type(x * 0 + jnp.array(values, jnp.int32), dtype)


BOOLS = Arg((B, 4), fill="bool")
INTS = Arg((B, 10), "int32", "int", high=2**31 - 1)
AMOUNTS = Arg((B, 10), "int32", "int", high=36)


@rule(
    "and",
    "or",
    "not",
    "xor",
    tf_ops=(
        "LogicalAnd",
        "LogicalOr",
        "LogicalNot",
        "NotEqual",
        "Sub",
        "AddV2",
        "Mul",
        "Cast",
        "Floor",
        "Less",
        "GreaterEqual",
        "SelectV2",
        "ExpandDims",
        "Sum",
    ),
    limits="booleans as logical ops; integers exactly, bit by bit on their 16-bit halves (TF.js's BitwiseAnd cannot run)",
    cases=[
        Case("and", lax.bitwise_and, [BOOLS, BOOLS]),
        Case("or", lax.bitwise_or, [BOOLS, BOOLS]),
        Case("not", lax.bitwise_not, [BOOLS]),
        Case("xor", lax.bitwise_xor, [BOOLS, BOOLS]),
        Case("and_int", lambda a, b: lax.bitwise_and(a - 2**30, b), [INTS, INTS]),
        Case("or_int", lambda a, b: lax.bitwise_or(a - 2**30, b), [INTS, INTS]),
        Case("xor_int", lambda a, b: lax.bitwise_xor(a - 2**30, b), [INTS, INTS]),
        Case("not_int", lambda a: lax.bitwise_not(_ints(_INT_EDGES)(a)), [INTS]),
        Case(
            "int_edges",
            lambda a, b: [
                f(_ints(_INT_EDGES)(a), _ints(_INT_EDGES[::-1])(b))
                for f in (lax.bitwise_and, lax.bitwise_or, lax.bitwise_xor)
            ],
            [INTS, INTS],
        ),
        Case(
            "narrow_ints",
            lambda a, b: [
                f(_ints([0, 1, 127, 200, 255, 3], dtype)(a), _ints([255, 2, 128, 100, 255, 5], dtype)(b))
                for dtype in (jnp.uint8, jnp.int8, jnp.uint16, jnp.uint32)
                for f in (lax.bitwise_and, lax.bitwise_or, lax.bitwise_xor, lambda x, _: lax.bitwise_not(x))
            ],
            [Arg((B, 6), "int32", "int"), Arg((B, 6), "int32", "int")],
        ),
    ],
)
def lower_bitwise(ctx, eqn, *args):
    name = eqn.primitive.name
    if eqn.outvars[0].aval.dtype == np.bool_:
        ops = {"and": tf.logical_and, "or": tf.logical_or, "not": tf.logical_not, "xor": tf.not_equal}
        return ops[name](*args)
    if name == "not":
        (x,) = args
        dtype = eqn.invars[0].aval.dtype
        # ~x: -1 - x on sign-extended or 32-bit values; all ones minus x for uint8/uint16.
        ones = (1 << width(dtype)) - 1 if is_unsigned(dtype) and width(dtype) < 32 else -1
        return ones - x
    combine = {
        "and": lambda a, b: a * b,
        "or": lambda a, b: a + b - a * b,
        "xor": lambda a, b: a + b - 2.0 * (a * b),
    }
    return bitwise(combine[name], *args)


def _shift_operands(eqn):
    dtype = eqn.invars[0].aval.dtype
    if np.dtype(dtype).itemsize > 4:
        raise NotImplementedError(f"{dtype} shifts need 64-bit integers, which TF.js lacks (int32 only)")
    return dtype, width(dtype)


def _in_range(amount, bits):
    """0 <= amount < bits (a uint32 amount >= 2**31 is negative here: out of range too)."""
    return tf.logical_and(amount >= 0, amount < bits)


SHIFT_CASES = [
    Case("shift_left", lambda a, s: lax.shift_left(a - 2**30, s), [INTS, AMOUNTS]),
    Case("shift_right_arithmetic", lambda a, s: lax.shift_right_arithmetic(a - 2**30, s), [INTS, AMOUNTS]),
    Case("shift_right_logical", lambda a, s: lax.shift_right_logical(a - 2**30, s), [INTS, AMOUNTS]),
    Case(
        "shift_edges",
        lambda a, s: [
            f(_ints(_INT_EDGES)(a), _ints([1, 31, 32, 31, 1, 1, 31, -1, 0, 16])(s))
            for f in (lax.shift_left, lax.shift_right_arithmetic, lax.shift_right_logical)
        ],
        [INTS, AMOUNTS],
    ),
    Case(
        "shift_narrow",
        lambda a, s: [
            f(_ints([1, 200, 255, 128, 127, 3], dtype)(a), _ints([1, 1, 7, 3, 8, 0], dtype)(s))
            for dtype in (jnp.uint8, jnp.int8, jnp.uint16, jnp.int16, jnp.uint32)
            for f in (lax.shift_left, lax.shift_right_arithmetic, lax.shift_right_logical)
        ],
        [Arg((B, 6), "int32", "int"), Arg((B, 6), "int32", "int")],
    ),
    Case(
        "shift_uint32_high_bits",
        lambda a, s: [
            f(_ints([-1, INT32_MIN, 2**31 - 1, -2], jnp.uint32)(a), _ints([1, 1, 31, 33], jnp.uint32)(s))
            for f in (lax.shift_left, lax.shift_right_arithmetic, lax.shift_right_logical)
        ],
        [Arg((B, 4), "int32", "int"), Arg((B, 4), "int32", "int")],
    ),
]


@rule(
    "shift_left",
    "shift_right_arithmetic",
    "shift_right_logical",
    tf_ops=(
        "GatherV2",
        "Maximum",
        "Minimum",
        "Mul",
        "FloorDiv",
        "FloorMod",
        "GreaterEqual",
        "Less",
        "LessEqual",
        "LogicalAnd",
        "SelectV2",
        "Sub",
        "AddV2",
        "Cast",
        "Floor",
    ),
    limits=(
        "exact (TF.js has no shift ops): x * 2**s, and right shifts from the 16-bit halves; amounts "
        "outside 0..bits-1 give 0 (or the sign fill, as XLA); no 64-bit types"
    ),
    cases=SHIFT_CASES,
)
def lower_shift(ctx, eqn, x, amount):
    dtype, bits = _shift_operands(eqn)
    valid = _in_range(amount, bits)
    name = eqn.primitive.name
    if name == "shift_left":
        return tf.where(valid, to_dtype(x * power_of_two(amount), dtype), 0)
    if name == "shift_right_arithmetic":
        # The top bit of the type is the sign, also for unsigned types (uint8 200 >> 1 is 228).
        signed = sign_extend(low_bits(x, bits), bits)
        fill = tf.where(signed < 0, -1, 0)
        return to_dtype(tf.where(valid, shift_right(signed, amount, logical=False), fill), dtype)
    # A logical shift of a narrow type starts from its unsigned value (below 2**16).
    return tf.where(valid, to_dtype(shift_right(low_bits(x, bits), amount, logical=True), dtype), 0)


BIT_COUNT_CASES = [
    Case("population_count", lambda a: lax.population_count(a - 2**30), [INTS]),
    Case("clz", lambda a: lax.clz(a - 2**30), [INTS]),
    Case("clz_small", lambda a: lax.clz(a), [Arg((B, 10), "int32", "int", high=70)]),
    Case(
        "bit_count_edges",
        lambda a: [lax.population_count(_ints(_INT_EDGES)(a)), lax.clz(_ints(_INT_EDGES)(a))],
        [INTS],
    ),
    Case(
        "bit_count_narrow",
        lambda a: [
            f(_ints([0, 1, -1, 127, 128, 255, -128, 2**16 - 1, -(2**31), 2**31 - 1], dtype)(a))
            for dtype in (jnp.uint8, jnp.int8, jnp.uint16, jnp.int16, jnp.uint32)
            for f in (lax.population_count, lax.clz)
        ],
        [INTS],
    ),
]


@rule(
    "population_count",
    "clz",
    tf_ops=(
        "Cast",
        "Mul",
        "Floor",
        "Sub",
        "AddV2",
        "Less",
        "Greater",
        "GreaterEqual",
        "SelectV2",
        "ExpandDims",
        "Sum",
        "ConcatV2",
        "FloorMod",
    ),
    limits="exact, from the 16-bit halves' bits (TF.js has no PopulationCount or Clz); no 64-bit types",
    cases=BIT_COUNT_CASES,
)
def lower_bit_count(ctx, eqn, x):
    _, bits = _shift_operands(eqn)
    value = low_bits(x, bits)  # narrow types by their unsigned value
    if eqn.primitive.name == "population_count":
        return population_count(value)
    return bits - bit_length(value)
