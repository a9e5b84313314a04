"""Indexing edge cases a parity Case cannot state: a set with duplicate indices (JAX leaves the
winner unspecified, so any candidate is right, in TF and in TF.js cpu and wasm), the ops the fast
paths must keep emitting (row lookups stay GatherV2, a row scatter is one ScatterNd, a cache write
has no transpose), and what is refused."""

from __future__ import annotations

from collections import Counter

import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from bench.parity import lower_case, run_case
from bench.parity_tfjs import TfjsParity
from jax2tfjs.errors import LoweringError
from jax2tfjs.lowering.registry import Arg, Case

# Six ids into three rows: rows repeat, so which update wins is up to the backend.
DUPLICATE_SET = Case(
    "duplicate_set",
    lambda i, u: jnp.zeros((3, 2)).at[i[:, 0]].set(u),
    [Arg((6, 1), "int32", "int", high=3), Arg((6, 2))],
)


def _emitted(case: Case, primitive: str) -> Counter:
    return Counter(e.op_type for e in lower_case(case).emissions if e.origin.primitive == primitive)


def _assert_one_candidate_per_row(ids: np.ndarray, updates: np.ndarray, out: np.ndarray) -> None:
    for row in range(out.shape[0]):
        candidates = updates[ids[:, 0] == row]
        if len(candidates) == 0:
            np.testing.assert_array_equal(out[row], 0.0)
        else:
            assert any(np.array_equal(out[row], c) for c in candidates), (row, out[row], candidates)
    assert (np.bincount(ids[:, 0], minlength=3) > 1).any(), "the inputs must hold a duplicate id"


def test_duplicate_set_writes_one_of_the_candidates_in_tf():
    rng = np.random.default_rng(0)
    ids, updates = (arg.sample(rng) for arg in DUPLICATE_SET.args)
    _, (out,) = run_case(DUPLICATE_SET)
    _assert_one_candidate_per_row(ids, updates, out)


@pytest.mark.parametrize("backend", ["cpu", "wasm"])
def test_duplicate_set_writes_one_of_the_candidates_in_tfjs(tmp_path_factory, backend):
    parity = TfjsParity(tmp_path_factory.mktemp("dup-set"), {"scatter/duplicate_set": DUPLICATE_SET})
    outcome = parity.outcomes(backend)["scatter/duplicate_set"]
    assert outcome.error is None, outcome.error
    traced = parity.cases["scatter/duplicate_set"]
    for run, (batch, _, (out,)) in enumerate(outcome.runs):
        ids, updates = traced.inputs(traced.batch(run))
        assert len(ids) == batch
        if batch > 1:
            _assert_one_candidate_per_row(ids, updates, out)


def test_row_lookups_keep_gather_v2():
    case = Case(
        "rows",
        lambda t, e: jnp.take(e, t, axis=0),
        [Arg((3, 5), "int32", "int", high=7), Arg((7, 4), batched=False)],
    )
    ops = _emitted(case, "gather")
    assert ops["GatherV2"] == 1 and "GatherNd" not in ops and "Range" not in ops, ops


def test_window_on_the_dynamic_batch_keeps_the_batch_a_slice():
    """`x[:, idx, 1:3]`: the batch is taken whole, so its size is never read (no Shape/Pack)."""
    case = Case(
        "window",
        lambda x, i: x[:, i, 1:3],
        [Arg((3, 5, 4)), Arg((3,), "int32", "int", high=5, batched=False)],
    )
    ops = _emitted(case, "gather")
    assert ops["GatherNd"] == 1 and not {"Shape", "Pack", "BroadcastTo"} & set(ops), ops


def test_row_scatter_add_is_one_scatter_nd_without_index_tuples():
    case = Case(
        "rows_add",
        lambda i, u: jnp.zeros((6, 3)).at[i[:, 0]].add(u),
        [Arg((3, 1), "int32", "int", high=8), Arg((3, 3))],
    )
    ops = _emitted(case, "scatter-add")
    assert ops["ScatterNd"] == 1 and not {"Transpose", "Range", "Pad", "GatherV2"} & set(ops), ops


def test_cache_write_has_no_transpose_or_scatter():
    case = Case(
        "cache",
        lambda c, k, i: lax.dynamic_update_slice(c, k, (0, i[0], 0, 0)),
        [Arg((2, 5, 2, 3)), Arg((2, 1, 2, 3)), Arg((1,), "int32", "int", high=5, batched=False)],
    )
    ops = _emitted(case, "dynamic_update_slice")
    assert ops["SelectV2"] == 1 and not {"Transpose", "TensorScatterUpdate", "ScatterNd"} & set(ops), ops


def test_scatter_max_keeps_the_operand_where_no_update_lands():
    """Rows no id hits reduce to -inf and max() leaves the operand: a -7 stays -7."""
    case = Case(
        "max_untouched",
        lambda i, u: jnp.full((5,), -7.0).at[i[:, 0]].max(u),
        [Arg((4, 1), "int32", "int", high=2), Arg((4,))],
        batched=False,
    )
    (want,), (got,) = run_case(case)
    np.testing.assert_array_equal(got[2:], -7.0)
    np.testing.assert_allclose(got, want)


def test_apply_is_refused_with_the_reason():
    case = Case(
        "apply",
        lambda x, i: jnp.asarray(x).at[i].apply(jnp.sin),
        [Arg((5,), batched=False), Arg((2,), "int32", "int", high=5)],
    )
    with pytest.raises(LoweringError, match=r"\.at\[\]\.apply"):
        lower_case(case)


def test_scatter_max_refuses_a_mask_too_large_to_build():
    case = Case(
        "max_big",
        lambda x, i, u: x.at[i].max(u),
        [Arg((4096, 8)), Arg((1024,), "int32", "int", high=4096), Arg((1024, 8))],
        batched=False,
    )
    with pytest.raises(LoweringError, match="needs a mask of"):
        lower_case(case)
