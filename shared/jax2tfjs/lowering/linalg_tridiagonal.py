"""tridiagonal_solve as LAPACK's gtsv (JAX's CPU kernel): Gaussian elimination with partial
pivoting between neighbouring rows, then back substitution, unrolled over the static size m.

Pivoting matters: without it (the Thomas algorithm) a system that is not diagonally dominant loses
digits gtsv keeps. Each step decides per matrix whether rows i and i+1 swap (|d[i]| < |dl[i+1]|),
computes both branches and picks one with SelectV2; a swap fills a second superdiagonal (du2).
A zero pivot (a singular system) gives all NaNs for that matrix, as JAX's CPU lowering does.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.linalg import unrolled_size
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3


def _solve(dl, d, du, b):
    return lax.linalg.tridiagonal_solve(dl, d, du, b)


def _zero_ends(dl, du):
    """JAX's convention: dl[0] = 0 and du[-1] = 0."""
    m = dl.shape[-1]
    return dl * (jnp.arange(m) != 0), du * (jnp.arange(m) != m - 1)


def _dominant(dl, d, du, b):
    dl, du = _zero_ends(dl, du)
    return _solve(dl, d + 3.0 * jnp.sign(d), du, b)


def _pivoting(dl, d, du, b):
    """Small diagonal, large subdiagonal: gtsv swaps rows at most steps."""
    dl, du = _zero_ends(dl, du)
    return _solve(dl * 4.0 + jnp.sign(dl), 0.1 * d, du, b)


def _singular(dl, d, du, b):
    """Rows 0 and 1 of [[1, 1], [1, 1]] in the first matrix: a zero pivot, all NaN; the rest fine."""
    dl, du = _zero_ends(dl, du)
    first = jnp.arange(d.shape[0])[:, None] == 0
    d = jnp.where(first, 1.0, d + 3.0 * jnp.sign(d))
    dl = jnp.where(first & (jnp.arange(d.shape[-1]) == 1), 1.0, jnp.where(first, 0.0, dl))
    du = jnp.where(first & (jnp.arange(d.shape[-1]) == 0), 1.0, jnp.where(first, 0.0, du))
    return _solve(dl, d, du, b)


def _diagonals(m):
    return [Arg((B, m)), Arg((B, m)), Arg((B, m))]


@rule(
    "tridiagonal_solve",
    tf_ops=(
        "ExpandDims",
        "StridedSlice",
        "Abs",
        "GreaterEqual",
        "RealDiv",
        "Mul",
        "Sub",
        "Neg",
        "SelectV2",
        "ConcatV2",
        "NotEqual",
        "All",
    ),
    limits=(
        "static size m <= 64 (unrolled gtsv: pivoting elimination and back substitution, about 30 ops "
        "per row; batch dims may be dynamic); perturb_singular is not supported (a singular system "
        "gives NaN, as JAX's default)"
    ),
    cases=[
        Case("tridiagonal_dominant", _dominant, [*_diagonals(5), Arg((B, 5, 2))], rtol=1e-4),
        Case("tridiagonal_pivoting", _pivoting, [*_diagonals(6), Arg((B, 6, 3))], rtol=1e-4, atol=1e-4),
        Case("tridiagonal_1x1", _dominant, [*_diagonals(1), Arg((B, 1, 2))], rtol=1e-5),
        Case("tridiagonal_2x2", _pivoting, [*_diagonals(2), Arg((B, 2, 1))], rtol=1e-4),
        Case(  # the first matrix is singular (NaN), the others are solved
            "tridiagonal_singular",
            _singular,
            [*_diagonals(4), Arg((B, 4, 2))],
            batched=False,
            rtol=1e-4,
        ),
    ],
)
def lower_tridiagonal_solve(ctx, eqn, dl, d, du, b):
    if eqn.params.get("perturb_singular"):
        raise NotImplementedError(
            "tridiagonal_solve with perturb_singular=True (perturbing tiny pivots) is not supported"
        )
    m = unrolled_size(eqn, eqn.invars[1].aval.shape[-1], "tridiagonal_solve")
    # Coefficients as (..., 1, 1) so they broadcast against right-hand-side rows (..., 1, k).
    dl, d, du = (tf.expand_dims(v, -1) for v in (dl, d, du))
    d = [d[..., i : i + 1, :] for i in range(m)]
    du = [du[..., i : i + 1, :] for i in range(m - 1)]
    low = [dl[..., i + 1 : i + 2, :] for i in range(m - 1)]  # A[i + 1, i]
    rows = [b[..., i : i + 1, :] for i in range(m)]
    du2 = []
    for i in range(m - 1):
        keep = tf.greater_equal(tf.abs(d[i]), tf.abs(low[i]))
        fact_keep = low[i] / d[i]
        fact_swap = d[i] / low[i]
        # No swap: row i + 1 -= fact * row i.   Swap: rows exchange, the new row i + 1 is
        # (old row i) - fact * (old row i + 1), and a second superdiagonal appears.
        next_d = tf.where(keep, d[i + 1] - fact_keep * du[i], du[i] - fact_swap * d[i + 1])
        next_row = tf.where(keep, rows[i + 1] - fact_keep * rows[i], rows[i] - fact_swap * rows[i + 1])
        rows[i] = tf.where(keep, rows[i], rows[i + 1])
        d[i], du[i] = tf.where(keep, d[i], low[i]), tf.where(keep, du[i], d[i + 1])
        if i + 2 < m:
            du2.append(tf.where(keep, 0.0, du[i + 1]))
            du[i + 1] = tf.where(keep, du[i + 1], -fact_swap * du[i + 1])
        d[i + 1], rows[i + 1] = next_d, next_row
    x = [None] * m
    for i in range(m - 1, -1, -1):
        row = rows[i]
        if i + 1 < m:
            row = row - du[i] * x[i + 1]
        if i + 2 < m:
            row = row - du2[i] * x[i + 2]
        x[i] = row / d[i]
    solution = tf.concat(x, axis=-2) if m > 1 else x[0]
    pivots = tf.concat(d, axis=-1) if m > 1 else d[0]
    solvable = tf.reduce_all(tf.not_equal(pivots, 0.0), axis=-1, keepdims=True)
    return tf.where(solvable, solution, tf.constant(math.nan, tf.float32))
