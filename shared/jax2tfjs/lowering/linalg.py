"""Linear algebra by unrolled substitution: triangular_solve, cholesky, symmetric_product.

Sibling modules: linalg_lu (lu, lu_pivots_to_permutation: jnp.linalg.solve/inv/det/slogdet),
linalg_qr (qr, geqrf, householder_product), linalg_eigh (eigh by Jacobi), linalg_tridiagonal,
linalg_update (cholesky_update), linalg_ragged (ragged_dot_general).

TF.js has no solver or decomposition op, so these rules unroll the textbook algorithm over the
static matrix size with ops every TF.js backend runs in float32: StridedSlice, BatchMatMulV2, Sub,
RealDiv, Sqrt, ConcatV2, SelectV2. The batch dims in front may be dynamic (slices and matmuls never
name them). Each unrolled step emits a fixed handful of ops, so the graph grows as O(n):
MAX_UNROLLED bounds n, and larger matrices are refused with the reason. The results equal JAX's
LAPACK calls up to float32 rounding (LAPACK blocks and orders its sums differently).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.context import is_static
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3
# Every unrolled step adds a fixed number of ops (measured: 7 per row of a triangular solve, 9 per
# column of a Cholesky, 26 per column of an LU; tests/convert_env/test_lowering_linalg.py pins them),
# and TF.js runs them one kernel at a time: at n = 64 a solve is 444 ops, a Cholesky 576, an LU
# 1,657. Beyond that the graph and its per-op overhead grow with no end, so larger matrices are
# refused rather than silently slow.
MAX_UNROLLED = 64
# TF.js 4.22 in Node, median ms per call at batch 1 (and batch 8), measured 2026-11-30 on a 2-core
# machine shared with five other jobs (so +-50%); max |TF.js - JAX| on the golden batch below 5e-6
# (eigh, eigenvalues and |V|: 1.4e-5 at n = 8, 5.1e-5 at n = 16):
#   n = 8:  triangular_solve cpu 0.5 (1.6), wasm 0.5 (0.7); cholesky cpu 1.0 (6.1), wasm 1.1 (2.0);
#           lu cpu 11 (28), wasm 16 (13); qr cpu 8 (25), wasm 12 (17); jnp.linalg.solve cpu 4 (39),
#           wasm 16 (25); tridiagonal_solve cpu 7.5 (6.7), wasm 2.8 (9.8); eigh cpu 57 (100), wasm 55 (63)
#   n = 32: triangular_solve cpu 7 (32), wasm 7 (17); cholesky cpu 29 (54), wasm 39 (25); lu cpu 131
#           (833), wasm 78 (289); qr cpu 186 (677), wasm 68 (99); solve cpu 145 (1208), wasm 130 (314)
#   (eigh at n = 16: cpu 160 (311), wasm 166 (172)). Per-op overhead dominates: count ops, not flops.


def unrolled_size(eqn, dim, what: str) -> int:
    """The static matrix size `dim` of `eqn`, or NotImplementedError saying why it is refused."""
    if not is_static(dim):
        raise NotImplementedError(
            f"{what} needs a static matrix size to unroll over, got the symbolic dim {dim}; "
            "only the batch dims in front may be dynamic"
        )
    if int(dim) > MAX_UNROLLED:
        raise NotImplementedError(
            f"{what} of a {int(dim)}x{int(dim)} matrix: TF.js has no linear-algebra op, so it is unrolled "
            f"into O(n) ops per matrix, bounded at n <= {MAX_UNROLLED}; solve larger systems outside "
            "the model or split them into blocks"
        )
    return int(dim)


def swap_last_axes(x: tf.Tensor) -> tf.Tensor:
    rank = x.shape.rank
    return tf.transpose(x, [*range(rank - 2), rank - 1, rank - 2])


def substitute(a: tf.Tensor, b: tf.Tensor, n: int, *, transposed: bool, lower: bool, unit: bool) -> tf.Tensor:
    """X with M X = B, M = A (or A^T when `transposed`) triangular (`lower` describes M).

    Row i of X is (B_i - M_i,deps X_deps) / M_ii, where deps are the rows solved before it. A row
    of A^T is read as a column of A and multiplied with transpose_a, so no Transpose op is needed.
    Per row: 2 slices, BatchMatMulV2, Sub, a diagonal slice, RealDiv, ConcatV2 (7 ops)."""
    order = range(n) if lower else range(n - 1, -1, -1)
    solved = None  # the rows solved so far, in matrix order: rows 0..i-1 (lower) or i+1..n-1 (upper)
    for i in order:
        row = b[..., i : i + 1, :]
        if solved is not None:
            lo, hi = (0, i) if lower else (i + 1, n)
            if transposed:
                coef = a[..., lo:hi, i : i + 1]
                row = row - tf.matmul(coef, solved, transpose_a=True)
            else:
                row = row - tf.matmul(a[..., i : i + 1, lo:hi], solved)
        if not unit:
            row = row / a[..., i : i + 1, i : i + 1]
        solved = row if solved is None else tf.concat([solved, row] if lower else [row, solved], axis=-2)
    return solved


def _well_conditioned(x):
    """A triangular-friendly matrix: random entries, a diagonal kept away from zero."""
    n = x.shape[-1]
    return x + jnp.eye(n) * (4.0 * jnp.sign(x) + 1.0)


def _solve(**flags):
    def fn(a, b):
        return lax.linalg.triangular_solve(_well_conditioned(a), b, **flags)

    return fn


_SQUARE = Arg((B, 4, 4))
_RHS = Arg((B, 4, 3))
_RHS_RIGHT = Arg((B, 3, 4))


@rule(
    "triangular_solve",
    tf_ops=("StridedSlice", "BatchMatMulV2", "MatMul", "Sub", "RealDiv", "ConcatV2", "Transpose"),
    limits=(
        f"static matrix size n <= {MAX_UNROLLED} (unrolled substitution, 7 ops per row; batch dims may "
        "be dynamic); real matrices (conjugate_a is then a no-op)"
    ),
    cases=[
        Case("solve_lower", _solve(left_side=True, lower=True), [_SQUARE, _RHS], rtol=1e-4),
        Case("solve_upper", _solve(left_side=True, lower=False), [_SQUARE, _RHS], rtol=1e-4),
        Case(
            "solve_lower_transposed",
            _solve(left_side=True, lower=True, transpose_a=True, conjugate_a=True),
            [_SQUARE, _RHS],
            rtol=1e-4,
        ),
        Case(
            "solve_upper_transposed_unit",
            _solve(left_side=True, lower=False, transpose_a=True, unit_diagonal=True),
            [Arg((B, 4, 4), fill="unit"), _RHS],
            rtol=1e-4,
        ),
        Case("solve_right_lower", _solve(left_side=False, lower=True), [_SQUARE, _RHS_RIGHT], rtol=1e-4),
        Case(
            "solve_right_upper_transposed",
            _solve(left_side=False, lower=False, transpose_a=True),
            [_SQUARE, _RHS_RIGHT],
            rtol=1e-4,
        ),
        Case(  # scipy's entry point, one unbatched system
            "solve_triangular_scipy",
            lambda a, b: jax.scipy.linalg.solve_triangular(_well_conditioned(a), b, lower=True, trans=1),
            [Arg((5, 5), batched=False), Arg((5, 2), batched=False)],
            batched=False,
            rtol=1e-4,
        ),
        Case("solve_1x1", _solve(left_side=True, lower=True), [Arg((B, 1, 1)), Arg((B, 1, 2))], rtol=1e-4),
        Case(  # diagonal entries from 1 to 1e-3: errors grow with the condition number, in JAX too
            "solve_ill_conditioned",
            lambda a, b: lax.linalg.triangular_solve(
                jnp.tril(a, -1) * 0.1 + jnp.diag(jnp.logspace(0.0, -3.0, 6)), b, left_side=True, lower=True
            ),
            [Arg((B, 6, 6)), Arg((B, 6, 2))],
            rtol=1e-3,
            atol=1e-4,
        ),
        Case(  # a solve against the identity is B itself
            "solve_identity",
            lambda a, b: lax.linalg.triangular_solve(0.0 * a + jnp.eye(4), b, left_side=True, lower=False),
            [_SQUARE, _RHS],
        ),
    ],
)
def lower_triangular_solve(ctx, eqn, a, b):
    params = eqn.params
    n = unrolled_size(eqn, eqn.invars[0].aval.shape[-1], "triangular_solve")
    # X op(A) = B is op(A)^T X^T = B^T: a left-side solve with A transposed once more, on B^T.
    right = not params["left_side"]
    transposed = params["transpose_a"] != right
    # M's triangle: transposing A swaps lower and upper.
    lower = params["lower"] != transposed
    rhs = swap_last_axes(b) if right else b
    x = substitute(a, rhs, n, transposed=transposed, lower=lower, unit=params["unit_diagonal"])
    return swap_last_axes(x) if right else x


def _spd(x):
    """A symmetric positive-definite matrix from a random one."""
    n = x.shape[-1]
    return x @ jnp.swapaxes(x, -1, -2) + n * jnp.eye(n)


def _sometimes_indefinite(x):
    """x x^T - c I with c from x's first entry: positive definite for some batch rows, not others."""
    n = x.shape[-1]
    return x @ jnp.swapaxes(x, -1, -2) - 3.0 * x[..., :1, :1] * jnp.eye(n)


@rule(
    "cholesky",
    tf_ops=(
        "StridedSlice",
        "BatchMatMulV2",
        "MatMul",
        "Sub",
        "Sqrt",
        "RealDiv",
        "Mul",
        "ConcatV2",
        "Greater",
        "All",
        "SelectV2",
    ),
    limits=(
        f"static matrix size n <= {MAX_UNROLLED} (unrolled, 9 ops per column; batch dims may be dynamic). "
        "Reads the lower triangle, as LAPACK's potrf; a matrix that is not positive definite gives all "
        "NaNs, as JAX on CPU; the primitive's strict upper triangle is 0 (jnp's tril discards it anyway)"
    ),
    cases=[
        Case("cholesky", lambda x: jnp.linalg.cholesky(_spd(x)), [Arg((B, 4, 4))], rtol=1e-4),
        Case("cholesky_8x8", lambda x: jnp.linalg.cholesky(_spd(x)), [Arg((2, 8, 8))], rtol=1e-4),
        Case(  # one unbatched matrix: rank-2 matmuls (MatMul)
            "cholesky_unbatched",
            lambda x: jnp.linalg.cholesky(_spd(x)),
            [Arg((6, 6), batched=False)],
            batched=False,
            rtol=1e-4,
        ),
        Case("cholesky_1x1", lambda x: jnp.linalg.cholesky(x * x + 0.5), [Arg((B, 1, 1))], rtol=1e-5),
        Case(
            "cholesky_lower_triangle_only",
            lambda x: lax.linalg.cholesky(jnp.tril(_spd(x)) + jnp.triu(x, 1), symmetrize_input=False),
            [Arg((B, 5, 5))],
            rtol=1e-4,
        ),
        Case("cholesky_identity", lambda x: jnp.linalg.cholesky(0.0 * x + jnp.eye(4)), [Arg((B, 4, 4))]),
        Case(  # eigenvalues from 1e-3 to ~6: condition number ~5e3
            "cholesky_ill_conditioned",
            lambda x: jnp.linalg.cholesky(x @ jnp.swapaxes(x, -1, -2) + 1e-3 * jnp.eye(5)),
            [Arg((B, 5, 4))],
            rtol=1e-3,
            atol=1e-4,
        ),
        Case(  # non-positive-definite rows come back as NaN, the others as their factor
            "cholesky_not_positive_definite",
            lambda x: jnp.linalg.cholesky(_sometimes_indefinite(x)),
            [Arg((B, 3, 3))],
            rtol=1e-4,
        ),
    ],
)
def lower_cholesky(ctx, eqn, a):
    n = unrolled_size(eqn, eqn.invars[0].aval.shape[-1], "cholesky")
    # Column j of L below the diagonal: (A[:, j] - L[:, :j] L[j, :j]^T) / L[j, j], the pivot
    # L[j, j]^2 being that same difference at row j. Rows above j are masked to 0. Only A's lower
    # triangle is read (A[i, j] with i >= j), as potrf's "L" mode.
    factor = None
    pivots = []
    for j in range(n):
        column = a[..., :, j : j + 1]
        if factor is not None:
            column = column - tf.matmul(factor, factor[..., j : j + 1, :], transpose_b=True)
        pivot = column[..., j : j + 1, :]
        pivots.append(pivot)
        below = np.arange(n)[:, None] >= j
        column = column / tf.sqrt(pivot) * tf.constant(below, tf.float32)
        factor = column if factor is None else tf.concat([factor, column], axis=-1)
    # potrf stops at the first pivot that is not > 0 (NaN included) and JAX then fills the whole
    # matrix with NaN: one check over all pivots gives the same (later pivots go NaN after a bad one).
    positive = tf.reduce_all(tf.greater(tf.concat(pivots, axis=-1), 0.0), axis=-1, keepdims=True)
    return tf.where(positive, factor, tf.constant(math.nan, tf.float32))


@rule(
    "symmetric_product",
    tf_ops=("BatchMatMulV2", "MatMul", "Mul", "AddV2"),
    limits="alpha A A^T + beta C over the whole matrix, as JAX's CPU lowering (no triangle is left out)",
    cases=[
        Case(
            "symmetric_product",
            lambda a, c: lax.linalg.symmetric_product(a, c, alpha=0.5, beta=2.0),
            [Arg((B, 4, 3)), Arg((B, 4, 4))],
        ),
        Case(
            "symmetric_product_symmetrized",
            lambda a, c: lax.linalg.symmetric_product(a, c + jnp.swapaxes(c, -1, -2), symmetrize_output=True),
            [Arg((B, 3, 5)), Arg((B, 3, 3))],
        ),
        Case(
            "symmetric_product_unbatched",
            lambda a, c: lax.linalg.symmetric_product(a, c, alpha=-1.0, beta=1.0),
            [Arg((2, 6), batched=False), Arg((2, 2), batched=False)],
            batched=False,
        ),
    ],
)
def lower_symmetric_product(ctx, eqn, a, c):
    # JAX's CPU path is `alpha * (a @ a^T) + beta * c` (jax._src.lax.linalg._symmetric_product_jax_fn),
    # the same float32 operations in the same order.
    product = tf.matmul(a, a, transpose_b=True)
    return eqn.params["alpha"] * product + eqn.params["beta"] * c
