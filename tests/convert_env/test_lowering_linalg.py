"""Edge cases of the unrolled linear-algebra rules (lowering/linalg*.py) that a parity Case with
random inputs cannot pin down: the size bound, NaN only for the matrices that are not positive
definite, LU's tie-breaking and zero pivots on chosen matrices, and how the op count grows."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from bench.parity import lower_case
from jax2tfjs.errors import LoweringError
from jax2tfjs.export.tfjs_convert import NON_COMPUTE_OPS
from jax2tfjs.lowering.linalg import MAX_UNROLLED
from jax2tfjs.lowering.linalg_eigh import EIGH_MAX
from jax2tfjs.lowering.registry import Arg, Case


def _tf_and_jax(fn, *inputs, batched=False):
    """(TF outputs, JAX outputs) of `fn` lowered for inputs of these exact shapes."""
    case = Case("t", fn, [Arg(x.shape, str(x.dtype)) for x in inputs], batched=batched)
    lowered = lower_case(case)
    actual = [t.numpy() for t in jax.tree.leaves(lowered.function(*inputs))]
    expected = [np.asarray(e) for e in jax.tree.leaves(fn(*inputs))]
    return actual, expected


def _compute_ops(fn, shape, primitive: str) -> int:
    """How many compute ops `primitive`'s equations emit (the rest of the graph aside)."""
    lowered = lower_case(Case("count", fn, [Arg(shape)], batched=True))
    return sum(
        e.origin.primitive == primitive and e.op_type not in NON_COMPUTE_OPS for e in lowered.emissions
    )


def _chol(x):
    return lax.linalg.cholesky(x, symmetrize_input=False)


def _solve(x):
    return lax.linalg.triangular_solve(x, x, left_side=True, lower=True)


def _lu(x):
    return lax.linalg.lu(x)


def _eigh(x):
    return lax.linalg.eigh(x, symmetrize_input=False)


@pytest.mark.parametrize(
    ("fn", "bound"),
    [(_chol, MAX_UNROLLED), (_solve, MAX_UNROLLED), (_lu, MAX_UNROLLED), (_eigh, EIGH_MAX)],
    ids=["cholesky", "triangular_solve", "lu", "eigh"],
)
def test_a_matrix_past_the_bound_is_refused_with_the_reason(fn, bound):
    n = bound + 1
    with pytest.raises(LoweringError, match=rf"{n}x{n} matrix.*n <= {bound}"):
        lower_case(Case("big", fn, [Arg((2, n, n))]))


def test_only_the_matrices_that_are_not_positive_definite_come_back_as_nan():
    good = np.array([[4.0, 2.0], [2.0, 3.0]], np.float32)
    indefinite = np.array([[1.0, 2.0], [2.0, 1.0]], np.float32)  # eigenvalues 3 and -1
    zero_pivot = np.array([[1.0, 1.0], [1.0, 1.0]], np.float32)  # second pivot exactly 0
    batch = np.stack([good, indefinite, zero_pivot, good])
    (got,), (want,) = _tf_and_jax(jnp.linalg.cholesky, batch)
    assert np.isnan(want[1:3, 1, 0]).all() and np.isfinite(want[[0, 3]]).all()  # what JAX does
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[[0, 3]], want[[0, 3]], rtol=1e-6)


def test_lu_breaks_pivot_ties_to_the_first_row_and_divides_by_nothing_at_a_zero_pivot():
    ties = np.array([[1.0, 2.0, 0.5], [-1.0, 3.0, 1.0], [1.0, -1.0, 2.0]], np.float32)
    zero_column = np.array([[0.0, 2.0, 1.0], [0.0, 3.0, 1.0], [0.0, -1.0, 2.0]], np.float32)
    got, want = _tf_and_jax(_lu, np.stack([ties, zero_column]))
    np.testing.assert_array_equal(got[1], want[1])  # pivots
    np.testing.assert_array_equal(got[2], want[2])  # permutation
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-6)
    assert np.isfinite(got[0]).all()


def test_solve_inv_and_det_agree_with_jax_at_the_bound_size():
    rng = np.random.default_rng(0)
    n = 16  # well inside the bound; large enough for LAPACK's blocking to order sums its own way
    a = (rng.standard_normal((2, n, n)) + n**0.5 * np.eye(n)).astype(np.float32)
    b = rng.standard_normal((2, n, 3)).astype(np.float32)
    got, want = _tf_and_jax(
        lambda a, b: (jnp.linalg.solve(a, b), jnp.linalg.inv(a), jnp.linalg.slogdet(a)), a, b
    )
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(w).max())))


# Ops per unrolled step (and at n = 8), measured 2026-11-30; the rules' limits quote them. A change
# that makes a step dearer shows here first.
OPS_PER_STEP = {"triangular_solve": (_solve, 7, 52), "cholesky": (_chol, 9, 72), "lu": (_lu, 26, 201)}


@pytest.mark.parametrize("name", OPS_PER_STEP)
def test_the_op_count_grows_linearly_with_the_matrix_size(name):
    fn, per_step, at_8 = OPS_PER_STEP[name]
    counts = {n: _compute_ops(fn, (2, n, n), name) for n in (4, 8, 16)}
    assert counts[8] == at_8, counts
    assert counts[16] - counts[8] == 8 * per_step, counts
    assert counts[8] - counts[4] == 4 * per_step, counts


def test_tridiagonal_solve_pivots_where_elimination_without_pivoting_loses_the_answer():
    # d[0] = 1e-7 under a subdiagonal of 1: without a row swap the factor is 1e7 and the answer drowns.
    dl = np.array([[0.0, 1.0, 1.0]], np.float32)
    d = np.array([[1e-7, 1.0, 2.0]], np.float32)
    du = np.array([[1.0, 1.0, 0.0]], np.float32)
    b = np.array([[[1.0], [2.0], [3.0]]], np.float32)
    (got,), (want,) = _tf_and_jax(lax.linalg.tridiagonal_solve, dl, d, du, b)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    dense = np.diag(d[0]) + np.diag(dl[0, 1:], -1) + np.diag(du[0, :-1], 1)
    np.testing.assert_allclose(dense @ got[0], b[0], atol=1e-6)  # and it is the solution


@pytest.mark.parametrize("n", [8, EIGH_MAX])
def test_eigh_converges_on_random_symmetric_matrices(n):
    # Not the spread-out spectra of the parity cases: close eigenvalues converge last.
    x = np.random.default_rng(1).standard_normal((16, n, n)).astype(np.float32)
    (v, w), (_, w_jax) = _tf_and_jax(lambda x: lax.linalg.eigh(x + jnp.swapaxes(x, -1, -2)), x)
    scale = np.abs(w_jax).max()
    np.testing.assert_allclose(w, w_jax, atol=5e-5 * scale)
    sym = x + np.swapaxes(x, -1, -2)
    np.testing.assert_allclose((v * w[..., None, :]) @ np.swapaxes(v, -1, -2), sym, atol=5e-5 * scale)
    np.testing.assert_allclose(np.swapaxes(v, -1, -2) @ v, np.broadcast_to(np.eye(n), v.shape), atol=5e-5)


def test_svd_refuses_what_it_cannot_match():
    with pytest.raises(LoweringError, match=rf"17x17 matrix.*min\(m, n\) <= {EIGH_MAX}"):
        lower_case(Case("big", lambda x: jnp.linalg.svd(x, compute_uv=False), [Arg((2, 17, 17))]))
    with pytest.raises(LoweringError, match="full_matrices=True of a non-square matrix"):
        lower_case(Case("full", lambda x: jnp.linalg.svd(x, full_matrices=True), [Arg((2, 5, 3))]))


def test_svd_values_of_random_matrices_match_jax_at_the_bound():
    x = np.random.default_rng(2).standard_normal((8, 24, EIGH_MAX)).astype(np.float32)
    (got,), (want,) = _tf_and_jax(lambda x: jnp.linalg.svd(x, compute_uv=False), x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5 * want.max())
