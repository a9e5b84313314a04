"""ormqr (jax.lax.linalg.ormqr): C times the orthogonal Q of a geqrf factorisation (a, taus), from
the left or right, Q or Q^T, without forming Q.

Q = H_0 H_1 ... H_{k-1} with H_j = I - tau_j v_j v_j^T, v_j = (0 .. 0, 1, a[j+1:, j]) (geqrf's layout,
see linalg_qr). Each reflector is applied to C in turn, unrolled over the static k: Q C and C Q^T
take them from the last one back, Q^T C and C Q from the first, as JAX's own lowering. The taus are
used as given (a zero tau is the identity), so any reflectors work, not only geqrf's. Per reflector:
a slice of V and of the taus, ExpandDims, two matmuls or one and a broadcast Mul, Mul, Sub.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from jax._src.lax import linalg as lax_linalg  # geqrf is not public API

from jax2tfjs.lowering.linalg import unrolled_size
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3


def _reflector_vectors(a: tf.Tensor, m: int, k: int) -> tf.Tensor:
    """V (..., m, k): a's strict lower triangle in its first k columns, plus the unit diagonal."""
    strict_lower = np.tril(np.ones((m, k), bool), -1)
    return tf.where(strict_lower, a[..., :, :k], 0.0) + tf.constant(np.eye(m, k, dtype=np.float32))


def _ormqr(left: bool, transpose: bool):
    def fn(x, c):
        return lax_linalg.ormqr(*lax_linalg.geqrf(x), c, left=left, transpose=transpose)

    return fn


@rule(
    "ormqr",
    tf_ops=("StridedSlice", "SelectV2", "AddV2", "ExpandDims", "BatchMatMulV2", "MatMul", "Mul", "Sub"),
    limits=(
        "real matrices; static a rows m and reflector count k up to 64 (unrolled, one reflector "
        "at a time applied to C; batch dims and C's other dim may be dynamic)"
    ),
    cases=[
        Case("ormqr_left", _ormqr(True, False), [Arg((B, 5, 3)), Arg((B, 5, 2))], rtol=1e-4, atol=1e-5),
        Case(
            "ormqr_left_transpose", _ormqr(True, True), [Arg((B, 5, 3)), Arg((B, 5, 4))], rtol=1e-4, atol=1e-5
        ),
        Case("ormqr_right", _ormqr(False, False), [Arg((B, 4, 4)), Arg((B, 2, 4))], rtol=1e-4, atol=1e-5),
        Case(
            "ormqr_right_transpose",
            _ormqr(False, True),
            [Arg((B, 5, 3)), Arg((B, 3, 5))],
            rtol=1e-4,
            atol=1e-5,
        ),
        Case(  # square a: geqrf leaves the last row without a reflector (tau 0)
            "ormqr_square_left_transpose",
            _ormqr(True, True),
            [Arg((B, 4, 4)), Arg((B, 4, 3))],
            rtol=1e-4,
            atol=1e-5,
        ),
        Case(  # wide a: k = m reflectors, the last one with an empty tail
            "ormqr_wide_left", _ormqr(True, False), [Arg((B, 3, 5)), Arg((B, 3, 2))], rtol=1e-4, atol=1e-5
        ),
        Case(  # n = 1: one reflector, one column of C
            "ormqr_n1", _ormqr(True, False), [Arg((B, 4, 1)), Arg((B, 4, 1))], rtol=1e-4, atol=1e-5
        ),
        Case("ormqr_1x1", _ormqr(False, True), [Arg((B, 1, 1)), Arg((B, 2, 1))], rtol=1e-4, atol=1e-5),
        Case(  # arbitrary reflectors and taus, not geqrf's (a's upper triangle must be ignored)
            "ormqr_given_taus",
            lambda a, t, c: lax_linalg.ormqr(a, t, c, left=False, transpose=False),
            [Arg((B, 4, 3)), Arg((B, 2), fill="unit"), Arg((B, 3, 4))],
            rtol=1e-4,
            atol=1e-5,
        ),
        Case(
            "ormqr_unbatched",
            lambda x, c: lax_linalg.ormqr(*lax_linalg.geqrf(x), c, left=True, transpose=True),
            [Arg((6, 4), batched=False), Arg((6, 3), batched=False)],
            batched=False,
            rtol=1e-4,
            atol=1e-5,
        ),
    ],
)
def lower_ormqr(ctx, eqn, a, taus, c):
    left, transpose = eqn.params["left"], eqn.params["transpose"]
    m = unrolled_size(eqn, eqn.invars[0].aval.shape[-2], "ormqr")
    k = unrolled_size(eqn, eqn.invars[1].aval.shape[-1], "ormqr")
    vectors = _reflector_vectors(a, m, k)
    # Q C = H_0 (... (H_{k-1} C)) and C Q^T = C H_{k-1} ... H_0 start from the last reflector.
    order = range(k - 1, -1, -1) if left != transpose else range(k)
    for j in order:
        v = vectors[..., :, j : j + 1]
        tau = tf.expand_dims(taus[..., j : j + 1], -1)
        if left:  # H C = C - tau v (v^T C)
            c = c - (tau * v) * tf.matmul(v, c, transpose_a=True)
        else:  # C H = C - tau (C v) v^T
            c = c - tf.matmul(tau * tf.matmul(c, v), v, transpose_b=True)
    return c
