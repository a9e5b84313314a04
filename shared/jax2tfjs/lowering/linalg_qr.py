"""qr (jnp.linalg.qr, jax.scipy.linalg.qr without pivoting) by Householder reflections, unrolled
over the static matrix size, with LAPACK's conventions so Q and R match JAX's, signs included.

geqrf's reflector for column j (dlarfg): with alpha = R[j, j] and x the entries below it,
beta = -sign(alpha) * ||(alpha, x)|| (sign(0) = +), tau = (beta - alpha) / beta, v = (1, x / (alpha
- beta)), and R[j, j] becomes beta; when x is all zero, tau = 0 and nothing changes (so the diagonal
can stay negative, as in JAX). The last row of a square matrix gets no reflector either. Q is the
product H_0 H_1 ... of the reflectors I - tau v v^T applied to the identity, as orgqr builds it.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax
from jax._src.lax import linalg as lax_linalg  # geqrf and householder_product are not public API

from jax2tfjs.lowering.linalg import unrolled_size
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3


def _reflector(alpha: tf.Tensor, rest: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """dlarfg on (alpha (..., 1, 1), rest (..., r, 1)): (tau, v's tail, the new diagonal entry)."""
    rest_sq = tf.reduce_sum(rest * rest, axis=-2, keepdims=True)
    untouched = tf.equal(rest_sq, 0.0)
    norm = tf.sqrt(alpha * alpha + rest_sq)
    beta = tf.where(tf.greater_equal(alpha, 0.0), -norm, norm)
    tau = tf.where(untouched, 0.0, (beta - alpha) / beta)
    # With tau = 0 the tail is never used; dividing by 1 keeps 0/0 (alpha = 0 too) out of it.
    tail = rest / tf.where(untouched, 1.0, alpha - beta)
    return tau, tail, tf.where(untouched, alpha, beta)


def _householder_qr(a: tf.Tensor, m: int, n: int) -> tuple[tf.Tensor, list]:
    """(geqrf's matrix: R on and above the diagonal, the reflectors' tails below it; [(j, tau (..., 1,
    1), tail (..., m - j - 1, 1))] per reflector). The last row of a square matrix has none (tau 0)."""
    reflectors = []
    for j in range(min(m - 1, n)):
        tau, tail, diag = _reflector(a[..., j : j + 1, j : j + 1], a[..., j + 1 :, j : j + 1])
        reflectors.append((j, tau, tail))
        row = [a[..., j : j + 1, :j], diag] if j else [diag]
        below = [a[..., j + 1 :, :j], tail] if j else [tail]  # v's tail below the diagonal, as geqrf
        if j + 1 < n:
            # H (R[j:, j+1:]) with v = (1, tail): w = v^T R[j:, j+1:], then R -= tau v w.
            top, trailing = a[..., j : j + 1, j + 1 :], a[..., j + 1 :, j + 1 :]
            w = top + tf.matmul(tail, trailing, transpose_a=True)
            tau_w = tau * w
            row.append(top - tau_w)
            below.append(trailing - tail * tau_w)
        a = tf.concat([a[..., :j, :], tf.concat(row, axis=-1), tf.concat(below, axis=-1)], axis=-2)
    return a, reflectors


def _accumulate_q(a: tf.Tensor, reflectors: list, m: int, columns: int) -> tf.Tensor:
    """I[:, :columns] H_0 H_1 ... : Q H_j = Q - tau (Q v) v^T, on a batched identity."""
    q = tf.zeros_like(a[..., :1, :1]) + tf.constant(np.eye(m, dtype=np.float32))
    for j, tau, tail in reflectors:
        qv = q[..., :, j : j + 1] + tf.matmul(q[..., :, j + 1 :], tail)
        tau_qv = tau * qv
        q = tf.concat(
            [
                q[..., :, :j],
                q[..., :, j : j + 1] - tau_qv,
                q[..., :, j + 1 :] - tf.matmul(tau_qv, tail, transpose_b=True),
            ],
            axis=-1,
        )
    return q[..., :, :columns]


def _full_rank(x):
    return x + 2.0 * jnp.eye(x.shape[-2], x.shape[-1])


# The ops of the unrolled Householder steps, which qr and geqrf share.
_HOUSEHOLDER_OPS = (
    "StridedSlice",
    "Mul",
    "Sum",
    "Equal",
    "Sqrt",
    "AddV2",
    "GreaterEqual",
    "Neg",
    "SelectV2",
    "Sub",
    "RealDiv",
    "BatchMatMulV2",
    "MatMul",
    "ConcatV2",
    "ZerosLike",
)


@rule(
    "qr",
    tf_ops=_HOUSEHOLDER_OPS,
    limits=(
        "pivoting=False; static matrix sizes up to 64 (unrolled Householder with LAPACK's sign "
        "convention, so Q and R match JAX's signs; batch dims may be dynamic)"
    ),
    cases=[
        Case("qr", jnp.linalg.qr, [Arg((B, 4, 4))], rtol=1e-4, atol=1e-5),
        Case("qr_tall_reduced", jnp.linalg.qr, [Arg((B, 5, 3))], rtol=1e-4, atol=1e-5),
        Case(
            "qr_tall_complete",
            lambda x: jnp.linalg.qr(x, mode="complete"),
            [Arg((B, 5, 3))],
            rtol=1e-4,
            atol=1e-5,
        ),
        Case("qr_wide", jnp.linalg.qr, [Arg((B, 3, 5))], rtol=1e-4, atol=1e-5),
        Case("qr_r_only", lambda x: jnp.linalg.qr(x, mode="r"), [Arg((B, 6, 4))], rtol=1e-4, atol=1e-5),
        Case("qr_1x1", jnp.linalg.qr, [Arg((B, 1, 1))]),
        Case(  # already upper triangular: no reflector changes anything, negative diagonals stay
            "qr_upper_triangular",
            lambda x: jnp.linalg.qr(jnp.triu(x)),
            [Arg((B, 4, 4))],
            rtol=1e-5,
        ),
        Case("qr_identity", lambda x: jnp.linalg.qr(0.0 * x + jnp.eye(4)), [Arg((B, 4, 4))]),
        Case(  # columns scaled from 1 to 1e-3: condition number ~1e3
            "qr_ill_conditioned",
            lambda x: jnp.linalg.qr(_full_rank(x) * jnp.logspace(0.0, -3.0, 4)),
            [Arg((B, 5, 4))],
            rtol=1e-3,
            atol=1e-4,
        ),
        Case(
            "qr_unbatched",
            lambda x: lax.linalg.qr(x, full_matrices=False),
            [Arg((6, 6), batched=False)],
            batched=False,
            rtol=1e-4,
            atol=1e-5,
        ),
    ],
)
def lower_qr(ctx, eqn, a):
    if eqn.params.get("pivoting"):
        raise NotImplementedError("qr with pivoting=True (geqp3's column pivoting) is not supported")
    m, n = (unrolled_size(eqn, d, "qr") for d in eqn.invars[0].aval.shape[-2:])
    rows = m if eqn.params["full_matrices"] else min(m, n)
    r, reflectors = _householder_qr(a, m, n)
    upper = tf.constant(np.triu(np.ones((m, n), bool)))
    r = tf.where(upper, r, 0.0)[..., :rows, :]
    return [_accumulate_q(a, reflectors, m, rows), r]


@rule(
    "geqrf",
    tf_ops=(*_HOUSEHOLDER_OPS, "Squeeze"),
    limits="static matrix sizes up to 64 (the Householder steps of qr, LAPACK's layout: R above, v below)",
    cases=[
        Case("geqrf", lax_linalg.geqrf, [Arg((B, 5, 3))], rtol=1e-4, atol=1e-5),
        Case("geqrf_square", lax_linalg.geqrf, [Arg((B, 4, 4))], rtol=1e-4, atol=1e-5),
        Case("geqrf_wide", lax_linalg.geqrf, [Arg((B, 2, 4))], rtol=1e-4, atol=1e-5),
    ],
)
def lower_geqrf(ctx, eqn, a):
    m, n = (unrolled_size(eqn, d, "geqrf") for d in eqn.invars[0].aval.shape[-2:])
    factored, reflectors = _householder_qr(a, m, n)
    taus = [tf.squeeze(tau, -1) for _, tau, _ in reflectors]
    if len(taus) < min(m, n):  # the last row of a square or wide matrix: no reflector, tau 0
        taus.append(tf.zeros_like(a[..., 0, :1]))
    return [factored, tf.concat(taus, axis=-1) if len(taus) > 1 else taus[0]]


@rule(
    "householder_product",
    tf_ops=(
        "StridedSlice",
        "ZerosLike",
        "AddV2",
        "BatchMatMulV2",
        "Mul",
        "Sub",
        "ConcatV2",
        "ExpandDims",
    ),
    limits="static sizes up to 64 (orgqr: the first n columns of H_0 H_1 ... from geqrf's layout)",
    cases=[
        Case(
            "householder_product",
            lambda x: lax_linalg.householder_product(*lax_linalg.geqrf(x)),
            [Arg((B, 5, 3))],
            rtol=1e-4,
            atol=1e-5,
        ),
        Case(  # any reflectors, not only geqrf's
            "householder_product_given_taus",
            lambda a, t: lax_linalg.householder_product(a, t),
            [Arg((B, 4, 4)), Arg((B, 2), fill="unit")],
            rtol=1e-4,
            atol=1e-5,
        ),
    ],
)
def lower_householder_product(ctx, eqn, a, taus):
    m, n = (unrolled_size(eqn, d, "householder_product") for d in eqn.invars[0].aval.shape[-2:])
    k = eqn.invars[1].aval.shape[-1]
    reflectors = [(j, tf.expand_dims(taus[..., j : j + 1], -1), a[..., j + 1 :, j : j + 1]) for j in range(k)]
    return _accumulate_q(a, reflectors, m, n)
