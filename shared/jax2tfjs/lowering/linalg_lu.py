"""LU with partial pivoting (`lu`) and `lu_pivots_to_permutation`, unrolled over the static size.

These are what jnp.linalg.solve, inv, det and slogdet and jax.scipy.linalg.lu_factor trace to
(solve and inv then run two triangular_solves, linalg.py). Step j of the elimination, as LAPACK's
getf2: pick the row p >= j with the largest |A[p, j]| (the first one on ties, as idamax and ArgMax
both do), swap rows j and p of the whole matrix, scale the column below the pivot by it, and
subtract the rank-1 update from the trailing block. Row swaps are exact (SelectV2 and sums
of one value with zeros); permutations are tracked in int32 arithmetic, which is exact too.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.linalg import unrolled_size
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3


def swap_into_permutation(perm: tf.Tensor, j: int, p: tf.Tensor, size: int) -> tf.Tensor:
    """`perm` (..., size) int32 with entries j and p swapped; p (..., 1) int32 may equal j.

    perm + (e_j - e_p) * (perm[p] - perm[j]) in int32: exact, and it broadcasts, so `perm` may still
    be the unbatched iota it started as."""
    at_p = tf.cast(tf.equal(tf.constant(np.arange(size, dtype=np.int32)), p), tf.int32)
    perm_p = tf.reduce_sum(perm * at_p, axis=-1, keepdims=True)
    e_j = tf.constant(np.arange(size) == j, tf.int32)
    return perm + (e_j - at_p) * (perm_p - perm[..., j : j + 1])


def pivots_to_permutation(pivots: tf.Tensor, size: int) -> tf.Tensor:
    """The permutation the row swaps j <-> pivots[..., j] (in order) make of range(size)."""
    perm = tf.constant(np.arange(size, dtype=np.int32))
    for j in range(pivots.shape[-1]):
        perm = swap_into_permutation(perm, j, pivots[..., j : j + 1], size)
    return perm


def _eliminate(a: tf.Tensor, j: int, m: int, n: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Step j of getf2 on `a` (..., m, n + 1), whose last column carries the rows' original indices
    through the swaps: (the updated matrix, the pivot row index (..., 1) int32)."""
    # ArgMax over rows j.. of |column j|, shifted back to a row index of the whole matrix.
    pivot = tf.argmax(tf.abs(a[..., j:, j]), axis=-1, output_type=tf.int32)[..., None] + j
    # Swap rows j and p, both by SelectV2. Row p is read as the sum of the rows masked to it (adding
    # zeros is exact). Not GatherV2 with batch_dims: TF.js 4.22's wasm kernel ignores batch_dims and
    # returns zeros past the first batch entry (measured: a (3, 2, 2), indices [[1], [0], [1]], axis 1,
    # batch_dims 1 gives rows [3, 4], [0, 0], [0, 0] on wasm; cpu gives [3, 4], [5, 6], [11, 12]).
    is_p = tf.equal(tf.constant(np.arange(m, dtype=np.int32)[:, None]), pivot[..., None])
    row_p = tf.reduce_sum(tf.where(is_p, a, 0.0), axis=-2, keepdims=True)
    row_j = a[..., j : j + 1, :]
    a = tf.where(tf.constant(np.arange(m)[:, None] == j), row_p, tf.where(is_p, row_j, a))
    if j + 1 == m:
        return a, pivot
    # Column j below the pivot, divided by it. A zero pivot means the whole column is zero (it was
    # the largest): getf2 then leaves it unscaled, so divide by 1 instead (no NaN, as JAX).
    diag = row_p[..., :, j : j + 1]
    below = a[..., j + 1 :, j : j + 1] / tf.where(tf.equal(diag, 0.0), 1.0, diag)
    parts = [a[..., j + 1 :, :j], below] if j else [below]
    if j + 1 < n:
        parts.append(a[..., j + 1 :, j + 1 : n] - below * row_p[..., :, j + 1 : n])
    parts.append(a[..., j + 1 :, n:])  # the original indices ride along untouched
    return tf.concat([a[..., : j + 1, :], tf.concat(parts, axis=-1)], axis=-2), pivot


def _identity_like(x):
    return 0.0 * x + jnp.eye(x.shape[-2], x.shape[-1])


@rule(
    "lu",
    tf_ops=(
        "ArgMax",
        "Abs",
        "AddV2",
        "StridedSlice",
        "Equal",
        "SelectV2",
        "Cast",
        "RealDiv",
        "Mul",
        "Sub",
        "ConcatV2",
        "Sum",
        "ZerosLike",
    ),
    limits=(
        "partial pivoting as LAPACK's getrf; static matrix sizes up to 64 (unrolled, 26 ops per "
        "column; batch dims may be dynamic). A singular matrix gives a zero pivot and no NaN, as JAX"
    ),
    cases=[
        Case("lu", lambda x: lax.linalg.lu(x), [Arg((B, 4, 4))], rtol=1e-4),
        Case(
            "lu_factor_8x8",
            lambda x: jax.scipy.linalg.lu_factor(x),
            [Arg((8, 8), batched=False)],
            batched=False,
            rtol=1e-4,
        ),
        Case("lu_wide", lambda x: lax.linalg.lu(x), [Arg((B, 3, 5))], rtol=1e-4),
        Case("lu_tall", lambda x: lax.linalg.lu(x), [Arg((B, 5, 3))], rtol=1e-4),
        Case("lu_1x1", lambda x: lax.linalg.lu(x), [Arg((B, 1, 1))]),
        Case("lu_identity", lambda x: lax.linalg.lu(_identity_like(x)), [Arg((B, 4, 4))]),
        Case(  # a zero column: step 1 meets an exact zero pivot, divides by 1, no NaN (as getrf)
            "lu_singular",
            lambda x: lax.linalg.lu(x * jnp.array([1.0, 0.0, 1.0, 1.0])),
            [Arg((B, 4, 4))],
            rtol=1e-4,
        ),
        Case(  # det of a singular matrix is exactly 0 through the zero pivot
            "det_singular",
            lambda x: jnp.linalg.det(x * jnp.array([1.0, 1.0, 0.0, 1.0])),
            [Arg((B, 4, 4))],
        ),
        Case("det", jnp.linalg.det, [Arg((B, 4, 4))], rtol=1e-4),
        Case("slogdet", jnp.linalg.slogdet, [Arg((B, 5, 5))], rtol=1e-4),
        Case(
            "solve",
            lambda a, b: jnp.linalg.solve(a + 3 * jnp.eye(4), b),
            [Arg((B, 4, 4)), Arg((B, 4, 2))],
            rtol=1e-4,
        ),
        Case("inv", lambda a: jnp.linalg.inv(a + 3 * jnp.eye(4)), [Arg((B, 4, 4))], rtol=1e-4),
    ],
)
def lower_lu(ctx, eqn, a):
    m, n = (unrolled_size(eqn, d, "lu") for d in eqn.invars[0].aval.shape[-2:])
    # The row indices as one more column (float32 holds them exactly): the swaps carry it along, so
    # the permutation costs no op per step. ZerosLike gives the column the batch dims of `a`.
    rows = tf.constant(np.arange(m, dtype=np.float32)[:, None])
    a = tf.concat([a, tf.zeros_like(a[..., :, :1]) + rows], axis=-1)
    pivots = []
    for j in range(min(m, n)):
        a, pivot = _eliminate(a, j, m, n)
        pivots.append(pivot)
    pivots = tf.concat(pivots, axis=-1) if len(pivots) > 1 else pivots[0]
    return [a[..., :n], pivots, tf.cast(a[..., n], tf.int32)]


@rule(
    "lu_pivots_to_permutation",
    tf_ops=("Equal", "Cast", "Mul", "Sum", "StridedSlice", "Sub", "AddV2"),
    limits="static pivot count (unrolled, 8 int32 ops per pivot)",
    cases=[
        Case(
            "lu_pivots_to_permutation",
            lambda p: lax.linalg.lu_pivots_to_permutation(p, 5),
            [Arg((B, 3), "int32", "int", high=5)],
        ),
        Case(
            "lu_pivots_to_permutation_none_swapped",
            lambda p: lax.linalg.lu_pivots_to_permutation(p * 0 + jnp.arange(4), 4),
            [Arg((B, 4), "int32", "int", high=4)],
        ),
    ],
)
def lower_lu_pivots_to_permutation(ctx, eqn, pivots):
    if not pivots.shape[-1]:
        raise NotImplementedError(
            "lu_pivots_to_permutation of zero pivots (an empty matrix) is not supported"
        )
    return pivots_to_permutation(pivots, eqn.params["permutation_size"])
