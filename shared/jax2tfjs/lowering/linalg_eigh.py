"""eigh (jnp.linalg.eigh, eigvalsh) by parallel cyclic Jacobi sweeps, unrolled.

Each round rotates n/2 disjoint index pairs at once (the round-robin "circle" ordering, n - 1 rounds
per sweep): the pairs' rotations form one matrix J, and A <- J^T A J, V <- V J are three matmuls, so
a round is ~35 ops however large n is. Every rotation is the symmetric Schur rotation that zeroes
A[p, q] (Golub & Van Loan 8.5.2). After EIGH_SWEEPS sweeps the diagonal holds the eigenvalues; they
are sorted ascending (TopKV2) and V's columns permuted with them by a one-hot matmul.

Eigenvector signs: LAPACK's syevd (JAX on CPU) does not normalise them and neither does Jacobi, so
a column may come back negated relative to JAX. Eigenvalues match to float32 rounding; each
eigenvector matches up to its sign when the eigenvalues are distinct (the parity cases compare
|V|, and V diag(w) V^T). Repeated eigenvalues leave any basis of their eigenspace valid, in JAX too.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.linalg import unrolled_size
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3
# Cyclic Jacobi converges quadratically once off-diagonal entries are small. Measured against JAX on
# 32 random symmetric matrices x + x^T (2026-11-30), max eigenvalue error / max |eigenvalue| and max
# | |V| - |V_jax| |: n = 8: 3 sweeps 1e-4 / 2.7e-2, 4 sweeps 2.9e-6 / 1.2e-5, 6 sweeps 5.9e-6 / 1.2e-5;
# n = 16: 4 sweeps 1e-4 / 2.1e-2, 5 sweeps 7.0e-6 / 5.0e-5, 6 sweeps 9.2e-6 / 5.1e-5. Converged sweeps
# only add rounding, so 6 is the bound's need plus one (tests/convert_env/test_lowering_linalg.py).
EIGH_SWEEPS = 6
# Rounds cost ~38 ops each, (n - 1) * EIGH_SWEEPS of them (n odd: n): n = 8 is 1,606 ops, n = 16 3,430. Past that the
# graph grows quadratically in n, so larger matrices are refused.
EIGH_MAX = 16


def round_robin(n: int) -> list[list[tuple[int, int]]]:
    """Rounds of disjoint pairs covering every pair (p < q) once (circle method; odd n: one index
    rests each round)."""
    players = list(range(n)) + ([None] if n % 2 else [])
    size = len(players)
    rounds = []
    for _ in range(size - 1):
        pairs = []
        for k in range(size // 2):
            a, b = players[k], players[size - 1 - k]
            if a is not None and b is not None:
                pairs.append((min(a, b), max(a, b)))
        rounds.append(pairs)
        players = [players[0], players[-1], *players[1:-1]]
    return rounds


def _selectors(pairs, n):
    """Constants for one round: (p selector, q selector) (k, n), and the rest of the identity."""
    sp = np.zeros((len(pairs), n), np.float32)
    sq = np.zeros((len(pairs), n), np.float32)
    for k, (p, q) in enumerate(pairs):
        sp[k, p], sq[k, q] = 1.0, 1.0
    resting = np.diag(1.0 - sp.sum(0) - sq.sum(0)).astype(np.float32)
    return sp, sq, resting


def jacobi_rotation(app, aqq, apq, pairs, n):
    """J (..., n, n) of the symmetric Schur rotations that zero apq for each pair of one round, from
    the pairs' entries app, aqq, apq (each (..., 1, k))."""
    sp, sq, resting = _selectors(pairs, n)
    # t = sign(tau) / (|tau| + sqrt(1 + tau^2)), tau = (aqq - app) / 2apq; no rotation where apq = 0.
    zero = tf.equal(apq, 0.0)
    tau = (aqq - app) / (2.0 * tf.where(zero, 1.0, apq))
    t = tf.where(tf.greater_equal(tau, 0.0), 1.0, -1.0) / (tf.abs(tau) + tf.sqrt(1.0 + tau * tau))
    t = tf.where(zero, 0.0, t)
    c = 1.0 / tf.sqrt(1.0 + t * t)
    s = t * c
    # J: c at (p, p) and (q, q), s at (p, q), -s at (q, p), 1 on resting indices.
    c_at = tf.matmul(c, sp + sq)  # (..., 1, n)
    s_at_q, s_at_p = tf.matmul(s, sq), tf.matmul(s, sp)
    return resting + np.eye(n, dtype=np.float32) * c_at + (sp.T @ sq) * s_at_q - (sq.T @ sp) * s_at_p


def pair_entries(m, pairs, n):
    """(m[p, p], m[q, q], m[p, q]) of one round's pairs, each (..., 1, k), for a matrix m (..., n, n)."""
    sp, sq, _ = _selectors(pairs, n)
    diag = tf.reduce_sum(m * np.eye(n, dtype=np.float32), axis=-2, keepdims=True)  # (..., 1, n)
    return (
        tf.matmul(diag, sp.T),
        tf.matmul(diag, sq.T),
        tf.reduce_sum(tf.matmul(m, sq.T) * sp.T, axis=-2, keepdims=True),
    )


def _rotate(a, v, pairs, n):
    j = jacobi_rotation(*pair_entries(a, pairs, n), pairs, n)
    a = tf.matmul(j, tf.matmul(a, j), transpose_a=True)
    return a, (j if v is None else tf.matmul(v, j))


def _distinct_spectrum(x):
    """Symmetric, with eigenvalues spread apart (x x^T has a gap-free spectrum near 0 otherwise)."""
    n = x.shape[-1]
    return (x + jnp.swapaxes(x, -1, -2)) + jnp.diag(jnp.arange(n, dtype=jnp.float32) * 2.0)


def _invariants(x, **kwargs):
    """Eigenvalues, |eigenvectors| (signs are free) and V diag(w) V^T."""
    v, w = lax.linalg.eigh(x, **kwargs)
    return w, jnp.abs(v), (v * w[..., None, :]) @ jnp.swapaxes(v, -1, -2)


@rule(
    "eigh",
    tf_ops=(
        "Transpose",
        "SelectV2",
        "Mul",
        "Sum",
        "BatchMatMulV2",
        "Equal",
        "Sub",
        "RealDiv",
        "GreaterEqual",
        "Abs",
        "Sqrt",
        "AddV2",
        "Neg",
        "TopKV2",
        "Cast",
        "ExpandDims",
        "OnesLike",
    ),
    limits=(
        f"real symmetric, static n <= {EIGH_MAX}; {EIGH_SWEEPS} parallel Jacobi sweeps (~35 ops per round, "
        "n - 1 rounds a sweep); eigenvalues ascending as JAX; eigenvector signs may differ from "
        "LAPACK's; subset_by_index is not supported"
    ),
    cases=[
        Case("eigh", lambda x: _invariants(_distinct_spectrum(x)), [Arg((B, 4, 4))], rtol=1e-4, atol=1e-4),
        Case(
            "eigh_8x8", lambda x: _invariants(_distinct_spectrum(x)), [Arg((2, 8, 8))], rtol=1e-4, atol=1e-4
        ),
        Case(
            "eigh_odd", lambda x: _invariants(_distinct_spectrum(x)), [Arg((B, 5, 5))], rtol=1e-4, atol=1e-4
        ),
        Case(
            "eigvalsh",
            lambda x: jnp.linalg.eigvalsh(x + jnp.swapaxes(x, -1, -2)),
            [Arg((B, 6, 6))],
            rtol=1e-4,
            atol=1e-4,
        ),
        Case(  # only the upper triangle is read when lower=False
            "eigh_upper",
            lambda x: _invariants(jnp.triu(_distinct_spectrum(x)), lower=False, symmetrize_input=False),
            [Arg((B, 4, 4))],
            rtol=1e-4,
            atol=1e-4,
        ),
        Case("eigh_1x1", lambda x: _invariants(x), [Arg((B, 1, 1))]),
        Case(
            "eigh_diagonal",
            lambda x: _invariants(jnp.diag(jnp.array([3.0, -1.0, 2.0, 0.5])) + 0.0 * x),
            [Arg((B, 4, 4))],
        ),
    ],
)
def lower_eigh(ctx, eqn, a):
    params = eqn.params
    n = unrolled_size(eqn, eqn.invars[0].aval.shape[-1], "eigh")
    if n > EIGH_MAX:
        raise NotImplementedError(
            f"eigh of a {n}x{n} matrix: Jacobi sweeps unroll into O(n^2) ops, bounded at n <= {EIGH_MAX}; "
            "compute the decomposition outside the model"
        )
    subset = params.get("subset_by_index")
    if subset is not None and tuple(subset) != (0, n):
        raise NotImplementedError("eigh with subset_by_index (a slice of the spectrum) is not supported")
    # syevd reads one triangle: mirror it onto the other.
    triangle = np.tril(np.ones((n, n), bool)) if params["lower"] else np.triu(np.ones((n, n), bool))
    rank = a.shape.rank
    a = tf.where(triangle, a, tf.transpose(a, [*range(rank - 2), rank - 1, rank - 2]))
    v = None
    if n > 1:
        for _ in range(EIGH_SWEEPS):
            for pairs in round_robin(n):
                a, v = _rotate(a, v, pairs, n)
    w = tf.reduce_sum(a * np.eye(n, dtype=np.float32), axis=-2)  # (..., n)
    if v is None:  # 1x1: V = [[1]]
        return [tf.ones_like(a), w]
    if params.get("sort_eigenvalues", True):
        negated, order = tf.math.top_k(-w, k=n, sorted=True)
        w = -negated
        picks = tf.cast(tf.equal(tf.expand_dims(order, -1), np.arange(n, dtype=np.int32)), tf.float32)
        v = tf.matmul(v, picks, transpose_b=True)  # column i of V = old column order[i]
    return [v, w]
