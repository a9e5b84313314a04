"""cholesky_update: the rank-1 update of an upper Cholesky factor by Givens rotations.

JAX lowers it on CPU from a Python loop (jax._src.lax.linalg._cholesky_update_jax_fn): for each row
k, a rotation (c, s) from (R[k, k], z[k]) turns row k and z. This rule unrolls the same loop with
the same float32 operations, so it matches to the rounding of each op. JAX takes exactly one
matrix (rank 2, no batching), so no dim here is dynamic.
"""

from __future__ import annotations

import jax.numpy as jnp
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.linalg import unrolled_size
from jax2tfjs.lowering.registry import Arg, Case, rule


def _rotation(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """JAX's _drotg: (1, 0) when y == 0, else (x, -y) / ||(x, y)||, scaled by max(|x|, |y|) first."""
    abs_x, abs_y = tf.abs(x), tf.abs(y)
    scale = tf.where(tf.greater(abs_x, abs_y), abs_x, abs_y)
    x, y = x / scale, y / scale
    inverse_norm = 1.0 / tf.sqrt(x * x + y * y)
    no_rotation = tf.equal(abs_y, 0.0)
    return tf.where(no_rotation, 1.0, x * inverse_norm), tf.where(no_rotation, 0.0, -y * inverse_norm)


def _factor_and_vector(x, w):
    """An upper Cholesky factor (R^T R = x x^T + 4 I) and a vector, from random ones."""
    n = x.shape[-1]
    r = jnp.linalg.cholesky(x @ x.T + 4.0 * jnp.eye(n)).T
    return r, w


@rule(
    "cholesky_update",
    tf_ops=(
        "StridedSlice",
        "Abs",
        "Greater",
        "SelectV2",
        "RealDiv",
        "Mul",
        "AddV2",
        "Sqrt",
        "Equal",
        "Neg",
        "Sub",
        "ConcatV2",
        "Reshape",
    ),
    limits="one matrix (JAX takes rank 2 only), static size up to 64 (unrolled rotations, about 20 ops per row)",
    cases=[
        Case(
            "cholesky_update",
            lambda x, w: lax.linalg.cholesky_update(*_factor_and_vector(x, w)),
            [Arg((5, 5), batched=False), Arg((5,), batched=False)],
            batched=False,
            rtol=1e-4,
        ),
        Case(  # w with zeros: those rows get no rotation (the y == 0 branch)
            "cholesky_update_sparse_vector",
            lambda x, w: lax.linalg.cholesky_update(
                *_factor_and_vector(x, w * jnp.array([1.0, 0.0, 0.0, 1.0]))
            ),
            [Arg((4, 4), batched=False), Arg((4,), batched=False)],
            batched=False,
            rtol=1e-4,
        ),
        Case(
            "cholesky_update_1x1",
            lambda x, w: lax.linalg.cholesky_update(jnp.abs(x) + 1.0, w),
            [Arg((1, 1), batched=False), Arg((1,), batched=False)],
            batched=False,
        ),
    ],
)
def lower_cholesky_update(ctx, eqn, r, w):
    n = unrolled_size(eqn, eqn.invars[0].aval.shape[-1], "cholesky_update")
    z = tf.reshape(w, [1, n])
    rows = []
    for k in range(n):
        row = r[k : k + 1, :]
        c, s = _rotation(row[:, k : k + 1], z[:, k : k + 1])
        rows.append(c * row - s * z)
        z = c * z + s * row
    return tf.concat(rows, axis=0) if n > 1 else rows[0]
