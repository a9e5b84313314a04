"""Special functions TF.js has no op for: erf_inv, lgamma, digamma, bessel_i0e/i1e, in float32 TF ops.

TF.js's op list (4.22) has Erf but no Erfinv, Lgamma or Digamma, so each is an explicit float32
approximation built from ops every backend runs (Log, Sqrt, Sin, Tan, Round, Mul, AddV2, SelectV2):
- erf_inv: two polynomials of degree 9 in w = -log((1 - x)(1 + x)), one for w < 5 and one in
  sqrt(w) for the tails (the shape of M. Giles's single-precision erfinv); the coefficients were
  fitted here (relative least squares refined toward minimax against scipy's float64 erfinv,
  max relative fit error 1.2e-8, below float32's 6e-8 rounding). ±1 → ±inf, |x| > 1 → NaN.
- lgamma and digamma: x < 0.5 is reflected (log(pi / |sin(pi x)|) - lgamma(1 - x), and
  digamma(1 - x) - pi / tan(pi x)). lgamma below 8 moves to [2, 3) by the recurrence, where a
  polynomial fitted here gives t * P(t) (exact zeros at 1 and 2); digamma below 8 is shifted up by 8.
  At 8 and above, Stirling's / the asymptotic series (truncation error below 3e-10). Poles give what JAX gives:
  lgamma +inf at 0 and the negative integers, digamma NaN there; lgamma(±inf) = inf.
- bessel_i0e/i1e: the power series of I0/I1 (nested, so no coefficient underflows) times e^-|x| up
  to |x| = 12, the asymptotic series in 1/|x| (8 terms) beyond; both below 1e-8 relative in float64.
Measured max errors against JAX are in tests/convert_env/test_lowering_math.py's docstring.
Not Sin or Sign: TF.js wasm's Sin is off by ~2e-7 absolute and its Sign is 0 for |x| <= 1e-7.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3

# erf_inv(x) = x * P(t): t = w - 2.5 where w < 5, t = sqrt(w) - 3 beyond (highest power first).
_ERFINV_CENTRAL = (
    -8.792129165e-09, 2.323003824e-08, 4.66184702e-07, -3.462675616e-06, -4.963408289e-06,
    0.0002183443396, -0.001252741784, -0.004177386674, 0.2466402861, 1.501409359,
)  # fmt: skip
_ERFINV_TAIL = (
    0.0001101164464, -0.0003043576378, -4.872979557e-05, 0.001478653427, -0.003601598351,
    0.005689402436, -0.007636402112, 0.009445008295, 1.001674913, 2.832976806,
)  # fmt: skip
# lgamma(2 + t) = t * P(t) on [0, 1] (fitted here, relative fit error 2e-10): no cancellation near
# the roots at 1 and 2, where the recurrence from Stirling's series would lose ~1e-6 absolute.
_LGAMMA_2_TO_3 = (
    -4.1765700637e-05, 0.00028199390199, -0.0010083494163, 0.0027965517859, -0.0073564107185,
    0.020575648773, -0.067351841076, 0.32246701768, 0.42278433519,
)  # fmt: skip
_SHIFT = 8  # lgamma/digamma's series run at arguments >= this


def _polynomial(coefficients, t):
    result = coefficients[0] * t + coefficients[1]
    for c in coefficients[2:]:
        result = result * t + c
    return result


def _edge_values(values):
    """A float32 input replaced by `values` along its last axis (edge cases in a Case's random arg)."""
    return lambda x: x * 0.0 + jnp.array(values, jnp.float32)


def _classes(y):
    """y's finite values (0 elsewhere) and which entries are +inf, -inf, NaN: a parity case's tolerance
    scales with the largest output, so an inf must not sit among the floats it compares."""
    finite = jnp.isfinite(y)
    return jnp.where(finite, y, 0.0), y == jnp.inf, y == -jnp.inf, jnp.isnan(y)


@rule(
    "erf_inv",
    tf_ops=("Sub", "AddV2", "Mul", "Log", "Neg", "Less", "Sqrt", "Maximum", "SelectV2", "Abs", "Equal"),
    limits="float32 polynomials fitted here (TF.js has no Erfinv); within a few float32 ulps on (-1, 1)",
    cases=[
        Case("erf_inv", lax.erf_inv, [Arg((B, 4, 5), fill="unit")], rtol=1e-6, atol=1e-6),
        Case(
            "erf_inv_tails",
            lambda x: lax.erf_inv(x * 0.0 + jnp.array([0.99, 0.9999, -0.999999, 1 - 2**-24, 1e-30, -0.5])),
            [Arg((B, 6))],
            rtol=2e-6,
            atol=1e-6,
        ),
        Case(
            "erf_inv_edges",
            lambda x: _classes(lax.erf_inv(_edge_values([1.0, -1.0, 1.5, -2.0, 0.0, -0.0, jnp.nan])(x))),
            [Arg((B, 7))],
        ),
    ],
)
def lower_erf_inv(ctx, eqn, x):
    w = -tf.math.log((1.0 - x) * (1.0 + x))
    central = _polynomial(_ERFINV_CENTRAL, w - 2.5)
    tail = _polynomial(_ERFINV_TAIL, tf.sqrt(tf.maximum(w, 5.0)) - 3.0)
    result = tf.where(w < 5.0, central, tail) * x
    # log(0) at ±1 makes the tail polynomial inf - inf; erf_inv(±1) is ±inf.
    return tf.where(tf.equal(tf.abs(x), 1.0), x * np.float32(np.inf), result)


def _sin_pi(fraction):
    """sin(pi * f) for |f| <= 1/2 by its Taylor series (truncation below 1e-9): TF.js wasm's Sin
    has an absolute error near 2e-7, which near a pole of lgamma (sin -> 0) became 3e-5 relative."""
    angle = math.pi * fraction
    square = angle * angle
    series = 1.0
    for k in range(15, 1, -2):
        series = 1.0 - square * series / float(k * (k - 1))
    return angle * series


def _reflected(x):
    """(x < 0.5, the argument y >= 0.5 the series sees, x - round(x) for sin/tan of pi x)."""
    reflect = x < 0.5
    return reflect, tf.where(reflect, 1.0 - x, x), x - tf.round(x)


def _shifted(y):
    """(y < 8, y below 8 as itself and 1 elsewhere, z = y + 8 or y): the series runs at z >= 8."""
    small = y < float(_SHIFT)
    return small, tf.where(small, y, 1.0), tf.where(small, y + float(_SHIFT), y)


@rule(
    "lgamma",
    tf_ops=(
        "Less",
        "Sub",
        "SelectV2",
        "Round",
        "AddV2",
        "Mul",
        "Log",
        "Reciprocal",
        "Abs",
        "Equal",
        "LogicalAnd",
        "LogicalOr",
        "Floor",
        "GreaterEqual",
        "LessEqual",
        "RealDiv",
    ),
    limits=(
        "float32 (TF.js has no Lgamma): a polynomial on [2, 3) with the recurrence below 8, Stirling's "
        "series above, reflection below 0.5"
    ),
    cases=[
        Case("lgamma", lax.lgamma, [Arg((B, 4, 5), fill="positive")], rtol=2e-6, atol=2e-6),
        Case("lgamma_negative", lambda x: lax.lgamma(x * 4.0), [Arg((B, 4, 5))], rtol=1e-5, atol=2e-6),
        Case(
            "lgamma_large",
            lambda x: lax.lgamma(x * 0.0 + jnp.array([10.0, 1e3, 1e6, 1e20, 3e36, 1e-6, -1e-6, -2.5, 1.0])),
            [Arg((B, 9))],
            rtol=2e-6,
            atol=2e-6,
        ),
        Case(
            "lgamma_poles",
            lambda x: _classes(
                lax.lgamma(
                    _edge_values([0.0, -0.0, -1.0, -7.0, -(2.0**24), 3e38, jnp.inf, -jnp.inf, jnp.nan])(x)
                )
            ),
            [Arg((B, 9))],
        ),
    ],
)
def lower_lgamma(ctx, eqn, x):
    reflect, y, fraction = _reflected(x)
    # y in [0.5, 8): lgamma(u) at u = y - n in [2, 3) from the polynomial, plus the recurrence's
    # log((y - 1)...(y - n)) for n > 0, minus log(y (y + 1)) for n = -2 (n = -1: log y).
    small = y < float(_SHIFT)
    n = tf.where(small, tf.floor(y) - 2.0, 0.0)
    t = tf.where(small, y - n - 2.0, 0.0)
    near_two = t * _polynomial(_LGAMMA_2_TO_3, t)
    above = tf.where(n >= 1.0, y - 1.0, 1.0)
    for k in range(2, _SHIFT - 2):
        above = above * tf.where(n >= float(k), y - float(k), 1.0)
    below = tf.where(n <= -1.0, y, 1.0) * tf.where(n <= -2.0, y + 1.0, 1.0)
    lgamma_small = near_two + tf.math.log(above / below)
    # y >= 8: Stirling's series (its next term is below 1e-11 there).
    z = tf.where(small, float(_SHIFT), y)
    r = tf.math.reciprocal(z)
    r2 = r * r
    series = r * (1.0 / 12 + r2 * (-1.0 / 360 + r2 * (1.0 / 1260 + r2 * (-1.0 / 1680))))
    stirling = (z - 0.5) * tf.math.log(z) - z + 0.5 * math.log(2 * math.pi) + series
    lgamma_y = tf.where(small, lgamma_small, stirling)
    sine = tf.abs(_sin_pi(fraction))
    reflected = math.log(math.pi) - tf.math.log(sine) - lgamma_y
    inf = tf.constant(np.inf, x.dtype)
    # A pole (sin = 0: 0, the negative integers, every float32 below -2**23) and ±inf are +inf.
    pole = tf.logical_or(tf.logical_and(reflect, tf.equal(sine, 0.0)), tf.equal(tf.abs(x), inf))
    return tf.where(pole, inf, tf.where(reflect, reflected, lgamma_y))  # SelectV2 broadcasts the scalar


@rule(
    "digamma",
    tf_ops=(
        "Less",
        "Sub",
        "SelectV2",
        "Round",
        "AddV2",
        "Mul",
        "Log",
        "Reciprocal",
        "Tan",
        "RealDiv",
        "LessEqual",
        "Equal",
        "LogicalAnd",
    ),
    limits=(
        "float32 asymptotic series after the recurrence (TF.js has no Digamma); reflection below 0.5; "
        "NaN at 0 and the negative integers as in JAX; absolute error ~1e-6 near the root at 1.46"
    ),
    cases=[
        Case("digamma", lax.digamma, [Arg((B, 4, 5), fill="positive")], rtol=2e-6, atol=2e-6),
        Case("digamma_negative", lambda x: lax.digamma(x * 4.0), [Arg((B, 4, 5))], rtol=2e-5, atol=2e-6),
        Case(
            "digamma_edges",
            lambda x: _classes(
                lax.digamma(
                    _edge_values([0.0, -0.0, -1.0, -3.0, -1e7, 1e-30, 1e30, jnp.inf, -jnp.inf, jnp.nan])(x)
                )
            ),
            [Arg((B, 10))],
            rtol=2e-6,
        ),
    ],
)
def lower_digamma(ctx, eqn, x):
    reflect, y, fraction = _reflected(x)
    small, below, z = _shifted(y)
    harmonic = tf.math.reciprocal(below)
    for k in range(1, _SHIFT):
        harmonic = harmonic + tf.math.reciprocal(below + float(k))
    r = tf.math.reciprocal(z)
    r2 = r * r
    series = r2 * (1.0 / 12 - r2 * (1.0 / 120 - r2 * (1.0 / 252 - r2 * (1.0 / 240 - r2 * (1.0 / 132)))))
    digamma_y = tf.math.log(z) - 0.5 * r - series - tf.where(small, harmonic, 0.0)
    reflected = digamma_y - math.pi / tf.tan(math.pi * fraction)
    # 0 and the negative integers are poles, where JAX returns NaN (not ±inf).
    pole = tf.logical_and(x <= 0.0, tf.equal(fraction, 0.0))
    nan = tf.constant(np.nan, x.dtype)
    return tf.where(pole, nan, tf.where(reflect, reflected, digamma_y))


_BESSEL_SWITCH = 12.0  # power series below, asymptotic series above (both below 1e-8 relative)


def _bessel_asymptotic_coefficients(order: int, terms: int = 8) -> list[float]:
    """c_k of e^-x I_order(x) ~ (c_0 + c_1 / x + ...) / sqrt(2 pi x) (Abramowitz & Stegun 9.7.1)."""
    mu, coefficients = 4.0 * order * order, [1.0]
    for k in range(1, terms + 1):
        coefficients.append(coefficients[-1] * -(mu - (2 * k - 1) ** 2) / (k * 8.0))
    return coefficients


def _bessel_ie(x, order: int):
    """e^-|x| I_order(x) for order 0 or 1: sum_k (x^2/4)^k / (k! (k + order)!), nested so that no
    coefficient underflows float32, up to |x| = 12; the asymptotic series in 1/|x| beyond."""
    magnitude = tf.abs(x)
    small = tf.minimum(magnitude, _BESSEL_SWITCH)
    u = small * small * 0.25
    series = 1.0 + u * (1.0 / (40 * (40 + order)))
    for k in range(39, 0, -1):
        series = 1.0 + series * u * (1.0 / (k * (k + order)))
    if order == 1:
        series = series * (small * 0.5)
    near = series * tf.exp(-small)
    inverse = tf.math.reciprocal(tf.maximum(magnitude, _BESSEL_SWITCH))
    coefficients = _bessel_asymptotic_coefficients(order)
    tail = coefficients[-1] * inverse + coefficients[-2]
    for c in reversed(coefficients[:-2]):
        tail = tail * inverse + c
    far = tail * tf.math.rsqrt(2.0 * math.pi * tf.maximum(magnitude, _BESSEL_SWITCH))
    far = tf.where(tf.equal(magnitude, np.inf), 0.0, far)
    result = tf.where(magnitude <= _BESSEL_SWITCH, near, far)
    result = tf.where(tf.equal(x, x), result, x)  # NaN stays NaN
    return tf.where(x < 0.0, -result, result) if order == 1 else result


@rule(
    "bessel_i0e",
    "bessel_i1e",
    tf_ops=(
        "Abs",
        "Minimum",
        "Maximum",
        "Mul",
        "AddV2",
        "Exp",
        "Neg",
        "Reciprocal",
        "Rsqrt",
        "Equal",
        "SelectV2",
        "LessEqual",
        "Less",
    ),
    limits="float32 power series up to |x| = 12, asymptotic series beyond (TF.js has no Bessel op)",
    cases=[
        Case("bessel_i0e", lambda x: lax.bessel_i0e(x * 6.0), [Arg((B, 4, 5))], rtol=2e-6, atol=1e-7),
        Case("bessel_i1e", lambda x: lax.bessel_i1e(x * 6.0), [Arg((B, 4, 5))], rtol=2e-6, atol=1e-7),
        Case(
            "bessel_edges",
            lambda x: [
                _classes(
                    f(
                        _edge_values(
                            [
                                0.0,
                                -0.0,
                                1e-30,
                                12.0,
                                -12.0,
                                12.0001,
                                50.0,
                                -1e4,
                                3e38,
                                jnp.inf,
                                -jnp.inf,
                                jnp.nan,
                            ]
                        )(x)
                    )
                )
                for f in (lax.bessel_i0e, lax.bessel_i1e)
            ],
            [Arg((B, 12))],
            rtol=2e-6,
            atol=1e-7,
        ),
    ],
)
def lower_bessel_ie(ctx, eqn, x):
    return _bessel_ie(x, 0 if eqn.primitive.name == "bessel_i0e" else 1)
