"""Rules that work on a float32's exponent and mantissa without reading its bits: reduce_precision
and nextafter.

TF.js has no Bitcast, so the binary exponent e (2**e <= |x| < 2**(e+1)) is found by a binary search
against exact powers of two from a constant table (8 compare-and-select steps), clamped to float32's
normal range [-126, 127]. Scaling by powers of two is then exact, and Round (half to even in TF and
TF.js) rounds the mantissa.

Denormals: TensorFlow's CPU kernels flush denormal inputs and results to zero (FTZ/DAZ); TF.js's
cpu (JavaScript doubles) and wasm (IEEE float32) backends keep them, as JAX does. So results that
are float32 denormals (|value| < 2**-126) match JAX in TF.js but read 0 in the SavedModel.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3
_MIN_EXPONENT, _MAX_EXPONENT = -149, 127  # float32's smallest denormal and largest power of two
_POWERS_OF_TWO = np.ldexp(np.float32(1.0), np.arange(_MIN_EXPONENT, _MAX_EXPONENT + 1)).astype(np.float32)


def power_of_two(exponent: tf.Tensor) -> tf.Tensor:
    """2**exponent, exactly, for a float tensor of whole numbers in [-149, 127] (a table lookup)."""
    index = tf.cast(exponent - _MIN_EXPONENT, tf.int32)
    return tf.gather(tf.constant(_POWERS_OF_TWO), index)


def binary_exponent(magnitude: tf.Tensor) -> tf.Tensor:
    """floor(log2(magnitude)) as a float, exact, clamped to [-126, 127] (denormals, zero and NaN get
    -126; +inf 127). A binary search over exact powers of two: no Log, whose TF.js wasm kernel is
    far off for tiny inputs (measured: 2**-100's exponent came out wrong by more than one)."""
    exponent = tf.where(magnitude >= 4.0, 2.0, -126.0)  # the first step: -126 + 128
    for step in (64.0, 32.0, 16.0, 8.0, 4.0, 2.0, 1.0):
        candidate = tf.minimum(exponent + step, 127.0)
        exponent = tf.where(magnitude >= power_of_two(candidate), candidate, exponent)
    return exponent


def _scale(x: tf.Tensor, exponent: tf.Tensor) -> tf.Tensor:
    """x * 2**exponent for |exponent| <= 254 in two exact steps (2**±127 alone may be a denormal,
    which TF's CPU kernels flush to zero)."""
    half = tf.floor(exponent * 0.5)
    return x * power_of_two(half) * power_of_two(exponent - half)


@rule(
    "reduce_precision",
    tf_ops=(
        "Abs",
        "IsFinite",
        "Less",
        "GreaterEqual",
        "SelectV2",
        "Mul",
        "Floor",
        "Minimum",
        "Sub",
        "Cast",
        "GatherV2",
        "AddV2",
        "Round",
        "Neg",
    ),
    limits=(
        "round to nearest even at `mantissa_bits`, then overflow to ±inf and flush below the smallest "
        "normal to ±0 at `exponent_bits`, as XLA does; exact in float32 (no bitcast: the exponent by a "
        "binary search over a table of powers of two); float32 denormal results read 0 in TF (FTZ), exact in TF.js"
    ),
    cases=[
        Case(
            "reduce_precision_bfloat16",
            lambda x: lax.reduce_precision(x * 100.0, exponent_bits=8, mantissa_bits=7),
            [Arg((B, 4, 5))],
            atol=0,
            rtol=0,
        ),
        Case(
            "reduce_precision_float16",
            lambda x: lax.reduce_precision(x * 1000.0, exponent_bits=5, mantissa_bits=10),
            [Arg((B, 4, 5))],
            atol=0,
            rtol=0,
        ),
        Case(  # -3.14159 → -3.140625 (JAX's own example); ties to even; overflow and underflow
            "reduce_precision_edges",
            lambda x: lax.reduce_precision(
                x * 0.0
                + jnp.array(
                    [-3.14159, 1.00390625, 1.01171875, -1.01171875, 65519.0, 65520.0, 6.1e-5, -6.1e-5, 1.0],
                    jnp.float32,
                ),
                exponent_bits=5,
                mantissa_bits=10,
            ),
            [Arg((B, 9))],
            atol=0,
            rtol=0,
        ),
        Case(
            "reduce_precision_bfloat16_edges",
            lambda x: lax.reduce_precision(
                x * 0.0
                + jnp.array(
                    [-3.14159, 1.00390625, 1.01171875, 3.3e38, 1e-37, -0.0, 0.0, 2.0**127], jnp.float32
                ),
                exponent_bits=8,
                mantissa_bits=7,
            ),
            [Arg((B, 8))],
            atol=0,
            rtol=0,
        ),
        Case(
            "reduce_precision_identity",
            lambda x: lax.reduce_precision(x, exponent_bits=8, mantissa_bits=23),
            [Arg((B, 4, 5))],
            atol=0,
            rtol=0,
        ),
    ],
)
def lower_reduce_precision(ctx, eqn, x):
    exponent_bits, mantissa_bits = eqn.params["exponent_bits"], eqn.params["mantissa_bits"]
    result = x
    if mantissa_bits < 23:
        exponent = binary_exponent(tf.abs(x))
        # x / 2**e has its leading bit at 1 (below 1 for denormals): Round keeps mantissa_bits more.
        mantissa = tf.round(_scale(x, -exponent) * float(2**mantissa_bits))
        result = _scale(mantissa * float(2.0**-mantissa_bits), exponent)
    if exponent_bits < 8:
        bias = 2 ** (exponent_bits - 1) - 1
        magnitude = tf.abs(result)
        overflow = magnitude >= float(2.0 ** (bias + 1))
        underflow = magnitude < float(2.0 ** (1 - bias))
        result = tf.where(overflow, x * np.float32(np.inf), tf.where(underflow, x * 0.0, result))
    if result is x:
        return x
    return tf.where(tf.math.is_finite(x), result, x)  # ±inf and NaN pass through


@rule(
    "nextafter",
    tf_ops=(
        "Abs",
        "Greater",
        "LogicalAnd",
        "LogicalOr",
        "SelectV2",
        "GreaterEqual",
        "Mul",
        "Maximum",
        "Minimum",
        "Sub",
        "Cast",
        "GatherV2",
        "AddV2",
        "Equal",
        "NotEqual",
        "Neg",
    ),
    limits=(
        "exact: x plus or minus one float32 spacing found from the binary exponent (no bitcast); "
        "steps into the denormal range are exact in TF.js but flushed to 0 in TF (FTZ)"
    ),
    cases=[
        Case("nextafter", lax.nextafter, [Arg((B, 4, 5)), Arg((B, 4, 5))], atol=0, rtol=0),
        Case(
            "nextafter_edges",
            lambda x, y: lax.nextafter(
                x * 0.0
                + jnp.array([1.0, 1.0, -1.0, 2.0**-100, 3.4028235e38, jnp.inf, -jnp.inf, 5.0, jnp.nan]),
                y * 0.0 + jnp.array([2.0, 0.0, -2.0, 1.0, jnp.inf, 0.0, 0.0, 5.0, 1.0]),
            ),
            [Arg((B, 9)), Arg((B, 9))],
            atol=0,
            rtol=0,
        ),
    ],
)
def lower_nextafter(ctx, eqn, x, y):
    magnitude = tf.abs(x)
    exponent = binary_exponent(magnitude)
    spacing = power_of_two(tf.maximum(exponent - 23.0, float(_MIN_EXPONENT)))
    # Toward zero from an exact power of two (above the denormals) the spacing halves.
    at_power = tf.logical_and(tf.equal(magnitude, power_of_two(exponent)), exponent > -126.0)
    away_from_zero = tf.equal(y > x, x > 0.0)
    step = tf.where(away_from_zero, spacing, -tf.where(at_power, spacing * 0.5, spacing))
    result = x + tf.where(x > 0.0, step, -step)  # not Sign: TF.js wasm's is 0 for |x| <= 1e-7
    # From ±0 the step is the smallest denormal, picked by Select (a Mul would be flushed in TF).
    smallest = np.float32(2.0**_MIN_EXPONENT)
    result = tf.where(tf.equal(x, 0.0), tf.where(y > 0.0, smallest, -smallest), result)
    result = tf.where(
        tf.equal(magnitude, np.inf),
        tf.where(x > 0.0, np.finfo(np.float32).max, -np.finfo(np.float32).max),
        result,
    )
    result = tf.where(tf.equal(x, y), y, result)
    unordered = tf.logical_or(tf.not_equal(x, x), tf.not_equal(y, y))
    return tf.where(unordered, x + y, result)
