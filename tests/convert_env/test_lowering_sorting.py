"""Sorting, selection and the cumulative scans beyond their parity cases: what each lowering costs
(the counts the comments in sorting.py and reductions.py promise), the refusals, a sort along a
symbolic non-batch axis, and the one documented deviation (a NaN's sign in top_k)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import export, lax

from bench.parity import lower_case
from jax2tfjs.errors import LoweringError
from jax2tfjs.lowering.context import LoweringContext
from jax2tfjs.lowering.interpreter import lower_closed_jaxpr
from jax2tfjs.lowering.registry import Arg, Case

ROWS = Arg((3, 10))


def _op_count(fn, arg: Arg, op: str) -> int:
    lowered = lower_case(Case(f"count_{op}", fn, [arg]))
    return sum(kind == op for _, kind in lowered.graph_ops)


@pytest.mark.parametrize(
    ("fn", "arg", "passes"),
    [
        (jnp.sort, ROWS, 2),  # a float key: its class, then its finite part
        (jnp.sort, Arg((3, 10), dtype="int32", fill="int"), 1),
        (lambda x: lax.sort((x, x > 0), num_keys=2), ROWS, 3),  # float key + bool key
        (lambda x: lax.top_k(x, 3), ROWS, 2),
    ],
)
def test_topk_passes_per_key(fn, arg, passes):
    assert _op_count(fn, arg, "TopKV2") == passes


@pytest.mark.parametrize(("length", "steps"), [(1, 0), (2, 1), (10, 4), (16, 4), (17, 5)])
def test_cumulative_scans_take_ceil_log2_steps(length, steps):
    arg = Arg((3, length))
    assert _op_count(lambda x: lax.cummax(x, axis=1), arg, "Maximum") == steps
    assert _op_count(lambda x: lax.cummin(x, axis=1, reverse=True), arg, "Minimum") == steps
    assert _op_count(lambda x: lax.cumlogsumexp(x, axis=1), arg, "Log1p") == steps


def test_approx_top_k_without_aggregation_is_refused():
    case = Case("approx_unaggregated", lambda x: lax.approx_max_k(x, 2, aggregate_to_topk=False), [ROWS])
    with pytest.raises(LoweringError, match="aggregate_to_topk=False"):
        lower_case(case)


def test_cumulative_max_along_the_dynamic_batch_is_refused():
    with pytest.raises(LoweringError, match="dynamic axis"):
        lower_case(Case("cummax_batch", lambda x: lax.cummax(x, axis=0), [ROWS]))


def test_sort_and_top_k_along_a_symbolic_sequence_axis():
    """(b, seq) inputs: the sorted axis and the rows' count are both symbols."""
    b, seq = export.symbolic_shape("b, seq", constraints=("seq >= 2",))

    def fn(x):
        return jnp.sort(x, axis=1), jnp.argsort(-x, axis=1), lax.top_k(x, 2)[1]

    closed = jax.make_jaxpr(fn)(jax.ShapeDtypeStruct((b, seq), np.float32))
    ctx = LoweringContext()
    function = tf.function(
        lambda x: lower_closed_jaxpr(ctx, closed, [x]),
        input_signature=[tf.TensorSpec([None, None], tf.float32)],
        autograph=False,
    ).get_concrete_function()
    rng = np.random.default_rng(0)
    for shape in [(2, 5), (3, 9)]:
        x = rng.integers(0, 4, shape).astype(np.float32)  # ties
        for want, got in zip(fn(x), function(tf.constant(x)), strict=True):
            np.testing.assert_array_equal(got.numpy(), np.asarray(want))


def test_top_k_ranks_every_nan_largest_unlike_jax_for_a_negative_nan():
    """JAX's top_k orders by bits: a NaN with its sign bit set (x86's 0/0) ranks below -inf.
    TF.js cannot see a NaN's sign, so the lowering ranks it largest: the deviation the docs name."""
    case = Case(
        "top_k_negative_nan", lambda x: lax.top_k(jnp.divide(x, x), 1)[1], [Arg((3, 4), fill="positive")]
    )
    x = np.array([[1.0, 2.0, 0.0, 3.0]], np.float32)  # 0/0 at index 2
    want = np.asarray(case.fn(x))
    (got,) = [t.numpy() for t in lower_case(case).function(tf.constant(x))]
    assert np.signbit(np.asarray(jnp.divide(x, x))[0, 2])  # JAX's 0/0 here is -NaN
    assert want[0, 0] != 2 and got[0, 0] == 2
