"""Integer representations in int32, and exact integer bit arithmetic from ops every TF.js backend
runs exactly. Shared by the bitwise rules and the integer division and conversion rules.

TF.js computes integers in int32 only, so every JAX integer type lives in an int32 tensor:
int8/int16 sign-extended, uint8/uint16 as their value (0..2**w-1), uint32 as its bit pattern
(values >= 2**31 read as negative int32s: the same bits). int32 add, sub and mul wrap modulo 2**32
in TF (x86), TF.js cpu (results stored into an Int32Array) and wasm, so they are exact on bit
patterns. (TF.js cpu multiplies two int32s in float64 first: a product beyond 2**53 loses its low
bits before the wrap; products by powers of two never do. Its int32 Square is float32: exact
below 2**24 only, and TF's optimizer turns Mul(x, x) into Square.)

Measured traps (tfjs 4.22), which is why nothing here uses them on large values:
- BitwiseAnd is in TF.js's op list, but its graph-model executor reads inputs named 'a' and 'b'
  while its op mapper names them 'x' and 'y': every converted BitwiseAnd fails with "Argument 'x'
  passed to 'bitwiseAnd' must be a Tensor ... got 'null'" (cpu and wasm).
- The wasm backend's integer FloorDiv (and FloorMod) divide in float32: exact only below 2**24
  (shift_right_arithmetic by FloorDiv was off by up to 42 near 2**31).
So a 32-bit pattern is split exactly into two 16-bit halves (`split_halves`: a float32 estimate
corrected by one step with integer arithmetic), and bit work happens on the halves, whose values
float32 and float32-based division hold exactly.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

INT32_MIN = -(2**31)
HALF = 1 << 16
# 2**k as int32 for k in 0..31 (2**31 wraps to INT32_MIN): exact scaling by lookup, no Pow.
_POWERS_OF_TWO = np.array([1 << k for k in range(31)] + [INT32_MIN], np.int32)
_BIT_SCALES = np.float32([2.0**-k for k in range(16)])  # bit k of a half: floor(h * 2**-k) mod 2
_BIT_VALUES = np.float32([2.0**k for k in range(16)])


def width(dtype) -> int:
    """Bits of a JAX integer dtype as held here (64-bit types are computed as 32-bit)."""
    return min(np.dtype(dtype).itemsize * 8, 32)


def is_unsigned(dtype) -> bool:
    return np.issubdtype(np.dtype(dtype), np.unsignedinteger)


def power_of_two(exponent: tf.Tensor | int) -> tf.Tensor | int:
    """2**exponent as int32 (a tensor exponent is clipped to 0..31; 2**31 is INT32_MIN)."""
    if isinstance(exponent, int):
        return int(_POWERS_OF_TWO[exponent])
    index = tf.minimum(tf.maximum(exponent, 0), 31)
    return tf.gather(tf.constant(_POWERS_OF_TWO), index)


def split_halves(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(high, low) with x = high * 2**16 + low exactly (int32 wraparound), high in [-2**15, 2**15),
    low in [0, 2**16). float32(x) is within 64 of x, so the estimate is at most one off."""
    high = tf.cast(tf.floor(tf.cast(x, tf.float32) * (1.0 / HALF)), tf.int32)
    low = x - high * HALF
    adjust = tf.where(low < 0, -1, tf.where(low >= HALF, 1, 0))
    return high + adjust, low - adjust * HALF


def unsigned_high(high: tf.Tensor) -> tf.Tensor:
    """A high half read as unsigned: 0..2**16-1."""
    return high + tf.where(high < 0, HALF, 0)


def half_bits(half: tf.Tensor) -> tf.Tensor:
    """The 16 bits of values in 0..2**16-1, as float32 0/1 along a new last axis (bit k at k)."""
    value = tf.expand_dims(tf.cast(half, tf.float32), -1)
    return tf.floor(value * _BIT_SCALES) - 2.0 * tf.floor(value * (_BIT_SCALES * 0.5))


def from_half_bits(bits: tf.Tensor) -> tf.Tensor:
    """half_bits' inverse: a sum of distinct powers of two below 2**16, exact in float32."""
    return tf.cast(tf.reduce_sum(bits * _BIT_VALUES, axis=-1), tf.int32)


def bitwise(combine, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """A bitwise op on 32-bit patterns: `combine(bits_a, bits_b)` on 0/1 floats, half by half."""
    (a_high, a_low), (b_high, b_low) = split_halves(a), split_halves(b)
    high = from_half_bits(combine(half_bits(unsigned_high(a_high)), half_bits(unsigned_high(b_high))))
    low = from_half_bits(combine(half_bits(a_low), half_bits(b_low)))
    return high * HALF + low


def low_bits(x: tf.Tensor, bits: int) -> tf.Tensor:
    """x's low `bits` bits as a value in 0..2**bits-1 (x itself for 32 bits)."""
    if bits >= 32:
        return x
    _, low = split_halves(x)
    return low if bits == 16 else tf.math.floormod(low, 1 << bits)  # small values: exact everywhere


def sign_extend(x: tf.Tensor, bits: int) -> tf.Tensor:
    """A value in 0..2**bits-1 read as a signed `bits`-bit integer."""
    if bits >= 32:
        return x
    return x - tf.where(x >= (1 << (bits - 1)), 1 << bits, 0)


def to_dtype(x: tf.Tensor, dtype) -> tf.Tensor:
    """Any int32 bit pattern wrapped to `dtype`'s representation (narrow types wrap around)."""
    bits = width(dtype)
    if bits >= 32:
        return x
    kept = low_bits(x, bits)
    return kept if is_unsigned(dtype) else sign_extend(kept, bits)


def shift_right(x: tf.Tensor, amount: tf.Tensor | int, logical: bool) -> tf.Tensor:
    """floor(x / 2**amount) for a 32-bit pattern x (read unsigned when `logical`), amount in 0..31,
    from the halves: high * 2**(16 - s) + floor(low / 2**s) up to s = 16, floor(high / 2**(s - 16))
    beyond; every division is of a value below 2**16."""
    high, low = split_halves(x)
    if logical:
        high = unsigned_high(high)
    if isinstance(amount, int) and amount <= 16:
        return high * power_of_two(16 - amount) + tf.math.floordiv(low, power_of_two(amount))
    upto = tf.minimum(amount, 16)
    near = high * power_of_two(16 - upto) + tf.math.floordiv(low, power_of_two(upto))
    far = tf.math.floordiv(high, power_of_two(tf.maximum(amount - 16, 0)))
    return tf.where(amount <= 16, near, far)


def population_count(x: tf.Tensor) -> tf.Tensor:
    """Set bits of 32-bit patterns."""
    high, low = split_halves(x)
    bits = tf.concat([half_bits(unsigned_high(high)), half_bits(low)], axis=-1)
    return tf.cast(tf.reduce_sum(bits, axis=-1), tf.int32)


def _bit_length_16(half: tf.Tensor) -> tf.Tensor:
    """Bits needed for values in 0..2**16-1: how many of 1, 2, 4, ... 2**15 they reach."""
    reached = tf.cast(tf.expand_dims(tf.cast(half, tf.float32), -1) >= _BIT_VALUES, tf.int32)
    return tf.reduce_sum(reached, axis=-1)


def bit_length(x: tf.Tensor) -> tf.Tensor:
    """Bits needed for 32-bit patterns read unsigned (32 when the top bit is set)."""
    high, low = split_halves(x)
    high = unsigned_high(high)
    return tf.where(high > 0, 16 + _bit_length_16(high), _bit_length_16(low))


def _all_ones(dtype) -> int:
    """The all-ones value of `dtype` as held here: -1, or 2**w - 1 for uint8/uint16."""
    bits = width(dtype)
    return (1 << bits) - 1 if is_unsigned(dtype) and bits < 32 else -1


def _unsigned_less(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    return (x + INT32_MIN) < (y + INT32_MIN)


def unsigned_divide(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(x // y, x % y) for uint32 bit patterns, y != 0. A divisor >= 2**31 goes at most once; below,
    the quotient of x >> 1 (a nonnegative int32) doubled is at most one short of x // y."""
    safe = tf.where(tf.equal(y, 0), 1, y)
    halved, _ = floor_divide(shift_right(x, 1, logical=True), tf.where(safe < 0, 1, safe))
    quotient = tf.where(safe < 0, 0, halved * 2)
    remainder = x - quotient * safe
    short = tf.logical_not(_unsigned_less(remainder, safe))
    return quotient + tf.where(short, 1, 0), remainder - tf.where(short, safe, 0)


def floor_divide(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(floor(x / y), x - y * floor(x / y)) exactly for int32 x and y != 0, y != -1, without
    integer FloorDiv (inexact on wasm): a float32 quotient, corrected with the exact remainder
    (its error is below 2**-22 * |x| / |y| + 1), then by one step."""
    x_f, y_f = tf.cast(x, tf.float32), tf.cast(y, tf.float32)
    estimate = tf.minimum(tf.maximum(tf.floor(x_f / y_f), -(2.0**31)), 2147483520.0)
    quotient = tf.cast(estimate, tf.int32)
    remainder = x - quotient * y  # small, so exact despite the wraparound of the product
    step = tf.cast(tf.floor(tf.cast(remainder, tf.float32) / y_f), tf.int32)
    quotient, remainder = quotient + step, remainder - step * y
    below = tf.logical_and(tf.not_equal(remainder, 0), tf.not_equal(remainder < 0, y < 0))
    # |remainder| >= |y| with the same sign, without Abs (|INT32_MIN| wraps) and without a SelectV2
    # of booleans: with one here, TF.js wasm failed with "memory access out of bounds" (and every
    # later model in the Node process with it); with logical ops the same cases pass.
    above = tf.logical_or(tf.logical_and(y > 0, remainder >= y), tf.logical_and(y < 0, remainder <= y))
    fix = tf.where(below, -1, tf.where(above, 1, 0))
    return quotient + fix, remainder - fix * y


def _safe_divisor(y: tf.Tensor) -> tf.Tensor:
    """y with 0 and -1 replaced by 1 (the callers select XLA's results for those divisors): TF's
    integer division aborts on 0, and INT32_MIN / -1 overflows."""
    return tf.where(tf.logical_or(tf.equal(y, 0), tf.equal(y, -1)), 1, y)


def truncating_divide(x: tf.Tensor, y: tf.Tensor, dtype) -> tf.Tensor:
    """XLA's integer division: rounds toward zero; x / 0 is all ones; INT_MIN / -1 wraps to INT_MIN."""
    if np.dtype(dtype) == np.uint32:
        return tf.where(tf.equal(y, 0), -1, unsigned_divide(x, y)[0])
    safe = _safe_divisor(y)
    floored, remainder = floor_divide(x, safe)
    floored = floored + tf.where(
        tf.logical_and(tf.not_equal(remainder, 0), tf.not_equal(x < 0, safe < 0)), 1, 0
    )
    quotient = tf.where(tf.equal(y, -1), to_dtype(0 - x, dtype), floored)
    return tf.where(tf.equal(y, 0), _all_ones(dtype), quotient)


def truncating_remainder(x: tf.Tensor, y: tf.Tensor, dtype) -> tf.Tensor:
    """XLA's integer remainder: the sign of x; x % 0 is x; x % -1 is 0."""
    if np.dtype(dtype) == np.uint32:
        return tf.where(tf.equal(y, 0), x, unsigned_divide(x, y)[1])
    safe = _safe_divisor(y)
    _, floored = floor_divide(x, safe)
    wrong_sign = tf.logical_and(tf.not_equal(floored, 0), tf.not_equal(floored < 0, x < 0))
    return tf.where(tf.equal(y, 0), x, tf.where(wrong_sign, floored - safe, floored))


def unsigned_order(tf_fn, x: tf.Tensor, y: tf.Tensor, returns_operand: bool) -> tf.Tensor:
    """A comparison, min or max of uint32 bit patterns: adding 2**31 (wrapping) maps unsigned order
    onto int32 order; min/max take the bias back off."""
    result = tf_fn(x + INT32_MIN, y + INT32_MIN)
    return result - INT32_MIN if returns_operand else result


def uint32_to_float(bits: tf.Tensor) -> tf.Tensor:
    """uint32 bits → the nearest float32 of the unsigned value: two 16-bit halves, each exact in
    float32, summed once (a single rounding)."""
    high, low = split_halves(bits)
    return tf.cast(unsigned_high(high), tf.float32) * float(HALF) + tf.cast(low, tf.float32)
