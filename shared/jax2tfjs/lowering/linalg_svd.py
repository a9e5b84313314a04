"""svd (jnp.linalg.svd, norm(ord=2), pinv, matrix_rank) by one-sided Jacobi, unrolled.

Hestenes' method: rotate pairs of columns of W = A until they are orthogonal. Each round takes the
Gram matrix G = W^T W and applies the same parallel rotations as eigh (linalg_eigh.jacobi_rotation),
W <- W J, V <- V J. Then the singular values are W's column norms, U = W / s, Vt = V^T, sorted
descending. One-sided Jacobi keeps the small singular values' relative accuracy (no A^T A is ever
factored). A wide matrix is done as its transpose, with U and V exchanged.

Singular vectors' signs are as free as eigenvectors' (LAPACK's gesdd does not normalise them), so
parity cases compare s, |U|, |Vt| and U diag(s) Vt. Where s = 0, JAX completes U to an orthonormal
basis; this rule leaves such columns 0 (documented limit).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import tensorflow as tf

from jax2tfjs.lowering.linalg import swap_last_axes, unrolled_size
from jax2tfjs.lowering.linalg_eigh import EIGH_MAX, EIGH_SWEEPS, jacobi_rotation, pair_entries, round_robin
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3


def _invariants(x, full_matrices=False):
    u, s, vt = jnp.linalg.svd(x, full_matrices=full_matrices)
    return s, jnp.abs(u), jnp.abs(vt), (u * s[..., None, :]) @ vt


def _spread(x):
    """Singular values apart from each other (vectors are then unique up to sign)."""
    return x + jnp.eye(x.shape[-2], x.shape[-1]) * jnp.arange(1, x.shape[-1] + 1, dtype=jnp.float32)


@rule(
    "svd",
    tf_ops=(
        "Transpose",
        "BatchMatMulV2",
        "Mul",
        "Sum",
        "Equal",
        "SelectV2",
        "Sub",
        "RealDiv",
        "GreaterEqual",
        "Abs",
        "Sqrt",
        "AddV2",
        "TopKV2",
        "Cast",
        "ExpandDims",
        "StridedSlice",
        "OnesLike",
    ),
    limits=(
        f"min(m, n) <= {EIGH_MAX}, max(m, n) <= 64; {EIGH_SWEEPS} one-sided Jacobi sweeps; singular values "
        "descending as JAX, vector signs may differ from LAPACK's; full_matrices only for square "
        "matrices (or compute_uv=False); U's columns for zero singular values are 0; no subset_by_index"
    ),
    cases=[
        Case("svd", lambda x: _invariants(_spread(x)), [Arg((B, 4, 4))], rtol=1e-4, atol=1e-4),
        Case("svd_tall", lambda x: _invariants(_spread(x)), [Arg((B, 6, 3))], rtol=1e-4, atol=1e-4),
        Case("svd_wide", lambda x: _invariants(_spread(x)), [Arg((B, 3, 5))], rtol=1e-4, atol=1e-4),
        Case(
            "svd_square_full", lambda x: _invariants(_spread(x), True), [Arg((B, 5, 5))], rtol=1e-4, atol=1e-4
        ),
        Case(  # singular values only, of a tall random matrix (close values allowed)
            "svd_values_only",
            lambda x: jnp.linalg.svd(x, compute_uv=False),
            [Arg((B, 8, 6))],
            rtol=1e-4,
            atol=1e-4,
        ),
        Case(
            "matrix_norm_2", lambda x: jnp.linalg.norm(x, ord=2, axis=(-2, -1)), [Arg((B, 5, 4))], rtol=1e-4
        ),
        Case("pinv", lambda x: jnp.linalg.pinv(_spread(x)), [Arg((B, 5, 3))], rtol=1e-4, atol=1e-4),
        Case("svd_1x1", lambda x: _invariants(x), [Arg((B, 1, 1))]),
        Case(  # column scales from 1 to 1e-3: one-sided Jacobi keeps the small values' digits
            "svd_ill_conditioned",
            lambda x: jnp.linalg.svd(_spread(x) * jnp.logspace(0.0, -3.0, 4), compute_uv=False),
            [Arg((B, 5, 4))],
            rtol=1e-3,
            atol=1e-5,
        ),
    ],
)
def lower_svd(ctx, eqn, a):
    params = eqn.params
    rows, cols = (unrolled_size(eqn, d, "svd") for d in eqn.invars[0].aval.shape[-2:])
    wide = cols > rows
    m, n = (cols, rows) if wide else (rows, cols)  # W is m x n with m >= n
    if n > EIGH_MAX:
        raise NotImplementedError(
            f"svd of a {rows}x{cols} matrix: Jacobi sweeps unroll into O(n^2) ops, bounded at "
            f"min(m, n) <= {EIGH_MAX}; compute the decomposition outside the model"
        )
    if params.get("subset_by_index") is not None and tuple(params["subset_by_index"]) != (0, n):
        raise NotImplementedError("svd with subset_by_index (a slice of the spectrum) is not supported")
    compute_uv = params["compute_uv"]
    if compute_uv and params["full_matrices"] and m != n:
        raise NotImplementedError(
            "svd with full_matrices=True of a non-square matrix (U or V completed to a full basis) is not "
            "supported; use full_matrices=False"
        )
    w = swap_last_axes(a) if wide else a
    v = None
    if n > 1:
        for _ in range(EIGH_SWEEPS):
            for pairs in round_robin(n):
                gram = tf.matmul(w, w, transpose_a=True)
                j = jacobi_rotation(*pair_entries(gram, pairs, n), pairs, n)
                w = tf.matmul(w, j)
                v = j if v is None else tf.matmul(v, j)
    s, order = tf.math.top_k(tf.sqrt(tf.reduce_sum(w * w, axis=-2)), k=n, sorted=True)
    if not compute_uv:
        return [s]
    # One-hot columns: column i of the result is old column order[i] (a matmul, exact up to 0 * x).
    picks = tf.cast(tf.equal(tf.expand_dims(order, -1), np.arange(n, dtype=np.int32)), tf.float32)
    w = tf.matmul(w, picks, transpose_b=True)
    u = w / tf.where(tf.equal(s, 0.0), 1.0, s)[..., None, :]
    v = tf.ones_like(s)[..., None] if v is None else tf.matmul(v, picks, transpose_b=True)  # 1x1: V = [[1]]
    vt = swap_last_axes(v)
    return [s, v, swap_last_axes(u)] if wide else [s, u, vt]
