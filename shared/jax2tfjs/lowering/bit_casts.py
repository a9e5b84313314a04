"""Rules that read or build 32-bit patterns without 64-bit integers or a Bitcast op: bitcast_convert_type
(float32 <-> int32/uint32, int32 <-> uint32) and mulhi.

TF.js has no Bitcast, so a float32's bits are computed from its value: the sign (-0.0 by 1 / x), the
binary exponent by float_bits' binary search over exact powers of two, and the mantissa by an exact
scaling; the way back multiplies the 24-bit significand by an exact power of two. uint32 is held as
its int32 bit pattern (integer_bits.py), so int32 <-> uint32 is the identity.

NaN: every NaN reads as 0x7fc00000 (the canonical quiet NaN) and every NaN pattern builds a NaN:
payloads and the NaN sign are not kept (JAX keeps them). Denormals: exact in TF.js (cpu and wasm);
TensorFlow's CPU kernels flush them to zero (FTZ/DAZ), so in the SavedModel a denormal reads as ±0's
bits and denormal patterns build ±0 (why the parity cases below hold no denormals; the TF.js tests in
tests/convert_env/test_lowering_bit_casts.py check them). XLA's CPU arithmetic flushes them too
(measured: JAX's (x * 0 + 1) * denormal is ±0), so a model's denormals rarely survive to a bitcast.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.float_bits import _scale, binary_exponent
from jax2tfjs.lowering.integer_bits import (
    HALF,
    INT32_MIN,
    is_unsigned,
    shift_right,
    split_halves,
    to_dtype,
    unsigned_high,
    width,
)
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3
_MANTISSA = 1 << 23
_INF_BITS, _NAN_BITS = 0x7F800000, 0x7FC00000
# Bit patterns with edge meanings: ±0, 1.0, the smallest and largest normals, ±inf, NaNs (a
# signalling one, all ones, int32 max), int32 min (-0.0). No denormal patterns (TF flushes them).
_PATTERN_EDGES = [
    0,
    INT32_MIN,
    0x3F800000,
    -0x40800000,
    0x00800000,
    0x7F7FFFFF,
    -0x00800001,
    _INF_BITS,
    -0x00800000,
    _NAN_BITS,
    0x7F800001,
    -1,
    2**31 - 1,
    0x12345678,
]
_FLOAT_EDGES = [0.0, -0.0, 1.0, -1.5, 2.0**-126, -(2.0**-126), 3.4028235e38, -3.4028235e38, np.inf]
_FLOAT_EDGES += [-np.inf, np.nan, 0.1, -1e-30, 1e30, 2.0**-100]


def _ints(values, dtype=jnp.int32):
    """An int input replaced by `values` along its last axis, in `dtype` (edge cases in a Case)."""
    return lambda x: lax.convert_element_type(x * 0 + jnp.array(values, jnp.int32), dtype)


def _floats(values):
    """A float input replaced by `values` along its last axis. Multiplied by 1, not added to 0: +0
    plus -0.0 is +0, and the sign of zero is one of the bits under test."""
    return lambda x: (x * 0.0 + 1.0) * jnp.array(values, jnp.float32)


def _random_patterns(magnitude, sign):
    """int32 patterns whose exponent field is 1..254 (no denormal, inf or NaN), either sign."""
    return magnitude + _MANTISSA + sign * INT32_MIN


MAGNITUDES = Arg((B, 10), "int32", "int", high=2**31 - 2 * _MANTISSA)
SIGNS = Arg((B, 10), "int32", "int", high=2)


def _float_to_bits(x: tf.Tensor) -> tf.Tensor:
    """float32 → its int32 bit pattern: (biased exponent - 1) * 2**23 + |x| * 2**(23 - e), where the
    second term is the significand with its leading 1 (which carries into the exponent field); for
    denormals e is -126 and the first term 0. Both terms are whole numbers below 2**31."""
    finite = tf.math.is_finite(x)
    magnitude = tf.where(finite, tf.abs(x), 0.0)
    exponent = binary_exponent(magnitude)  # -126 for denormals and zero
    significand = tf.cast(_scale(magnitude, 23.0 - exponent), tf.int32)
    bits = tf.cast(exponent + 126.0, tf.int32) * _MANTISSA + significand
    bits = tf.where(finite, bits, tf.where(tf.equal(x, x), _INF_BITS, _NAN_BITS))
    # -0.0 is the one negative number not below 0: 1 / -0.0 is -inf. Not Sign (0 on TF.js wasm for
    # |x| <= 1e-7). The sign bit is added with int32 wraparound (bits < 2**31).
    negative = tf.logical_or(x < 0.0, tf.logical_and(tf.equal(x, 0.0), 1.0 / x < 0.0))
    return bits + tf.where(negative, INT32_MIN, 0)


def _bits_to_float(bits: tf.Tensor) -> tf.Tensor:
    """int32 bit pattern → float32: significand * 2**(exponent - 150) with the significand's hidden
    bit set for normals (exact in float32: below 2**24, scaled by a power of two in two steps)."""
    magnitude_bits = tf.where(bits < 0, bits + INT32_MIN, bits)  # the sign bit off, wrapping
    high, low = split_halves(magnitude_bits)  # high in 0..2**15-1: float32 division is exact on it
    biased = tf.math.floordiv(high, 128)
    fraction = (high - biased * 128) * HALF + low
    significand = fraction + tf.where(biased > 0, _MANTISSA, 0)
    exponent = tf.cast(tf.maximum(biased, 1), tf.float32) - 150.0
    value = _scale(tf.cast(significand, tf.float32), exponent)
    special = tf.where(tf.equal(fraction, 0), np.float32(np.inf), np.float32(np.nan))
    value = tf.where(tf.equal(biased, 255), special, value)
    return tf.where(bits < 0, tf.negative(value), value)


def _is_32_bit_int(dtype) -> bool:
    return np.dtype(dtype) in (np.dtype(np.int32), np.dtype(np.uint32))


@rule(
    "bitcast_convert_type",
    tf_ops=(
        "Abs",
        "AddV2",
        "Cast",
        "Equal",
        "FloorDiv",
        "Floor",
        "GatherV2",
        "GreaterEqual",
        "Greater",
        "IsFinite",
        "Less",
        "LogicalAnd",
        "LogicalOr",
        "Maximum",
        "Minimum",
        "Mul",
        "Neg",
        "RealDiv",
        "SelectV2",
        "Sub",
    ),
    limits=(
        "float32 <-> int32/uint32 and int32 <-> uint32 only (no other widths or dtypes); bits computed "
        "from the value (TF.js has no Bitcast), exact; every NaN reads 0x7fc00000 and NaN patterns build "
        "a plain NaN (payloads not kept); denormals exact in TF.js, flushed to ±0 in TF (FTZ)"
    ),
    cases=[
        Case(
            "bitcast_float_to_int_edges",
            lambda x: lax.bitcast_convert_type(_floats(_FLOAT_EDGES)(x), jnp.int32),
            [Arg((B, len(_FLOAT_EDGES)))],
        ),
        Case(
            "bitcast_float_to_uint32_edges",
            lambda x: lax.bitcast_convert_type(_floats(_FLOAT_EDGES)(x), jnp.uint32),
            [Arg((B, len(_FLOAT_EDGES)))],
        ),
        Case(
            "bitcast_float_to_int", lambda x: lax.bitcast_convert_type(x * 1e5, jnp.int32), [Arg((B, 4, 5))]
        ),
        Case(
            "bitcast_int_to_float_edges",
            lambda x: lax.bitcast_convert_type(_ints(_PATTERN_EDGES)(x), jnp.float32),
            [Arg((B, len(_PATTERN_EDGES)), "int32", "int")],
            atol=0,
            rtol=0,
        ),
        Case(
            "bitcast_uint32_to_float_edges",
            lambda x: lax.bitcast_convert_type(_ints(_PATTERN_EDGES, jnp.uint32)(x), jnp.float32),
            [Arg((B, len(_PATTERN_EDGES)), "int32", "int")],
            atol=0,
            rtol=0,
        ),
        Case(  # NaN patterns come back canonical, so the roundtrip leaves them out
            "bitcast_int_float_roundtrip",
            lambda m, s: lax.bitcast_convert_type(
                lax.bitcast_convert_type(_random_patterns(m, s), jnp.float32), jnp.int32
            ),
            [MAGNITUDES, SIGNS],
        ),
        Case(
            "bitcast_int_float_roundtrip_edges",
            lambda x: lax.bitcast_convert_type(
                lax.bitcast_convert_type(_ints([*_PATTERN_EDGES[:9], 0x12345678])(x), jnp.float32),
                jnp.int32,
            ),
            [Arg((B, 10), "int32", "int")],
        ),
        Case(
            "bitcast_int_uint32",
            lambda x: (
                lax.bitcast_convert_type(_ints(_PATTERN_EDGES)(x), jnp.uint32),
                lax.bitcast_convert_type(_ints(_PATTERN_EDGES, jnp.uint32)(x), jnp.int32),
            ),
            [Arg((B, len(_PATTERN_EDGES)), "int32", "int")],
        ),
    ],
)
def lower_bitcast_convert_type(ctx, eqn, x):
    source, target = np.dtype(eqn.invars[0].aval.dtype), np.dtype(eqn.params["new_dtype"])
    if source == target or (_is_32_bit_int(source) and _is_32_bit_int(target)):
        return x  # uint32 is held as its int32 bit pattern
    if source == np.float32 and _is_32_bit_int(target):
        return _float_to_bits(x)
    if _is_32_bit_int(source) and target == np.float32:
        return _bits_to_float(x)
    raise NotImplementedError(
        f"bitcast_convert_type from {source} to {target}: only float32 <-> int32/uint32 and int32 <-> "
        "uint32 are lowered (TF.js has no Bitcast op and computes in float32 and int32 only)"
    )


def _mulhi_32(a: tf.Tensor, b: tf.Tensor, unsigned: bool) -> tf.Tensor:
    """floor(a * b / 2**32) from 16-bit halves: a * b = ah*bh * 2**32 + (ah*bl + al*bh) * 2**16 + al*bl.
    Each partial product is exact modulo 2**32 (signed ones fit int32; unsigned ones read back
    unsigned), and is split into halves again so the carries into the high word are sums below 2**18.
    mulhi(x, x) multiplies a tensor by itself: measured (tfjs 4.22) to convert to Mul, not to Square
    (TF.js cpu's int32 Square is float32, exact only below 2**24); the *_square cases would catch it."""
    (a_high, a_low), (b_high, b_low) = split_halves(a), split_halves(b)
    if unsigned:
        a_high, b_high = unsigned_high(a_high), unsigned_high(b_high)

    def halves(product, unsigned_product):
        high, low = split_halves(product)
        return (unsigned_high(high) if unsigned_product else high), low

    carry_low, _ = halves(tf.multiply(a_low, b_low), True)  # al*bl is in 0..2**32-1
    cross_a_high, cross_a_low = halves(tf.multiply(a_high, b_low), unsigned)
    cross_b_high, cross_b_low = halves(tf.multiply(a_low, b_high), unsigned)
    middle = cross_a_low + cross_b_low + carry_low
    carry = tf.math.floordiv(middle, HALF)  # below 3 * 2**16: exact on every backend
    return tf.multiply(a_high, b_high) + cross_a_high + cross_b_high + carry


_MULHI_EDGES = [0, 1, -1, 2**31 - 1, INT32_MIN, 65535, 65536, -65536, 0x7FFF8001, -0x12345679]


def _mulhi_pairs(dtype):
    """Every pair of the edge values (as `dtype`), on the last axis."""
    left = [a for a in _MULHI_EDGES for _ in _MULHI_EDGES]
    right = [b for _ in _MULHI_EDGES for b in _MULHI_EDGES]
    return lambda x: lax.mulhi(_ints(left, dtype)(x), _ints(right, dtype)(x))


INTS = Arg((B, 10), "int32", "int", high=2**31 - 1)
PAIRS = Arg((B, len(_MULHI_EDGES) ** 2), "int32", "int")


@rule(
    "mulhi",
    tf_ops=(
        "AddV2",
        "Cast",
        "Floor",
        "FloorDiv",
        "FloorMod",
        "GreaterEqual",
        "Less",
        "Mul",
        "SelectV2",
        "Sub",
    ),
    limits=(
        "exact for int32 and uint32 (from 16-bit halves: TF.js has no 64-bit integers) and for 8/16-bit "
        "integers (their whole product fits int32)"
    ),
    cases=[
        Case("mulhi", lambda a, b: lax.mulhi(a - 2**30, b * 2 + INT32_MIN), [INTS, INTS]),
        Case("mulhi_square", lambda a: lax.mulhi(a * 2 + 1, a * 2 + 1), [INTS]),
        Case(
            "mulhi_uint32",
            lambda a, b: lax.mulhi(
                lax.convert_element_type(a * 2 + 1, jnp.uint32), lax.convert_element_type(b * 2, jnp.uint32)
            ),
            [INTS, INTS],
        ),
        Case(
            "mulhi_uint32_square",
            lambda a: lax.mulhi(*[lax.convert_element_type(a * 2 + 1, jnp.uint32)] * 2),
            [INTS],
        ),
        Case("mulhi_edges", _mulhi_pairs(jnp.int32), [PAIRS]),
        Case("mulhi_uint32_edges", _mulhi_pairs(jnp.uint32), [PAIRS]),
        Case(
            "mulhi_narrow",
            lambda x: tuple(_mulhi_pairs(dtype)(x) for dtype in (jnp.int8, jnp.uint8, jnp.int16, jnp.uint16)),
            [PAIRS],
        ),
    ],
)
def lower_mulhi(ctx, eqn, a, b):
    dtype = eqn.invars[0].aval.dtype
    bits, unsigned = width(dtype), is_unsigned(dtype)
    if np.dtype(dtype).itemsize * 8 > 32:
        raise NotImplementedError(f"{dtype} mulhi needs 128-bit products; TF.js computes in int32 only")
    if bits == 32:
        return _mulhi_32(a, b, unsigned)
    # 8/16-bit operands: the whole product fits int32 (a uint16 one as its wrapped pattern).
    return to_dtype(shift_right(tf.multiply(a, b), bits, logical=unsigned), dtype)
