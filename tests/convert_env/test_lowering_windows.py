"""Windows, generic reductions and 3-D convolutions: what the parity cases cannot say.

Bodies jax2tfjs cannot express are refused with the body in the message; the pooling fast paths keep
their one-op graphs; no Pad or StridedSlice of rank 5 reaches a graph (TF.js webgl cannot compile them); the rank-3
views pad exactly as tf.pad does; body recognition accepts what it should and nothing else.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from flax import linen as nn
from jax import lax

from bench.parity import lower_case
from jax2tfjs.errors import Jax2TfjsError
from jax2tfjs.lowering import low_rank_pad
from jax2tfjs.lowering.reduction_bodies import PairSelection, monoids_of, pair_selection_of
from jax2tfjs.lowering.registry import Arg, Case

PLUMBING = {"Placeholder", "Const", "Identity", "NoOp"}
X = Arg((2, 6, 6, 3))
NDHWC = ("NDHWC", "DHWIO", "NDHWC")


def _compute_ops(fn, args) -> list[str]:
    lowered = lower_case(Case("probe", fn, args))
    return sorted(op.type for op in lowered.function.graph.get_operations() if op.type not in PLUMBING)


def _body(fn, *avals):
    return jax.make_jaxpr(fn)(*avals)


F32 = jax.ShapeDtypeStruct((), jnp.float32)
I32 = jax.ShapeDtypeStruct((), jnp.int32)


# Refusals: each names what it cannot do and shows the body.


def test_a_window_body_that_is_no_monoid_is_refused_with_its_body():
    with pytest.raises(Jax2TfjsError, match=r"reduce_window bodies must .*mul"):
        _compute_ops(
            lambda x: lax.reduce_window(x, 0.0, lambda a, b: a + 2.0 * b, (1, 2), (1, 1), "VALID"),
            [Arg((2, 5))],
        )


def test_a_sum_from_a_non_identity_init_is_refused_because_xla_applies_it_unspecified_times():
    with pytest.raises(Jax2TfjsError, match="unspecified number of times"):
        _compute_ops(lambda x: lax.reduce(x, np.float32(3.0), lambda a, b: a + b, (1,)), [Arg((2, 5))])


def test_a_pair_body_without_a_tie_rule_is_refused():
    def keep_larger_value_any_index(x):
        idx = lax.broadcasted_iota(jnp.int32, x.shape, 1)

        def body(a, b):
            keep = a[0] >= b[0]  # a tie keeps whichever comes first in XLA's order: not expressible
            return lax.select(keep, a[0], b[0]), lax.select(keep, a[1], b[1])

        return lax.reduce((x, idx), (np.float32(-np.inf), np.int32(0)), body, (1,))[1]

    with pytest.raises(Jax2TfjsError, match="argmax/argmin"):
        _compute_ops(keep_larger_value_any_index, [Arg((2, 5))])


def test_an_integer_xor_over_windows_is_refused():
    with pytest.raises(Jax2TfjsError, match="BitwiseXor"):
        _compute_ops(
            lambda x: lax.reduce_window(x, 0, lax.bitwise_xor, (1, 2), (1, 1), "VALID"),
            [Arg((2, 5), "int32", "int")],
        )


# The fast paths keep their op counts.


@pytest.mark.parametrize(
    ("fn", "args", "ops"),
    [
        (lambda x: nn.avg_pool(x, (2, 2), strides=(2, 2)), [X], ["AvgPool"]),
        (lambda x: nn.max_pool(x, (3, 3), strides=(2, 2), padding="SAME"), [X], ["MaxPool"]),
        (lambda x: nn.avg_pool(x, (2, 2, 2), strides=(2, 2, 2)), [Arg((2, 4, 4, 4, 2))], ["AvgPool3D"]),
        (
            lambda x: lax.reduce_window(x, np.inf, lax.min, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"),
            [X],
            ["MaxPool", "Neg", "Neg"],
        ),
        (  # SAME 3-D conv: Conv3D's own SAME, no Pad
            lambda x, w: lax.conv_general_dilated(x, w, (2, 1, 1), "SAME", dimension_numbers=NDHWC),
            [Arg((2, 5, 5, 5, 2)), Arg((3, 3, 3, 2, 4), batched=False)],
            ["Conv3D"],
        ),
    ],
    ids=["avg_pool", "max_pool_same", "avg_pool_3d", "min_pool", "conv3d_same"],
)
def test_pooling_and_conv_fast_paths_are_one_op(fn, args, ops):
    assert _compute_ops(fn, args) == sorted(ops)


def test_a_separable_window_slices_each_axis_once_per_offset():
    # A 3×2 max over axes 1 and 2 of an int input: 3 + 2 slices and 2 + 1 Maximum, not 6 slices.
    ops = _compute_ops(
        lambda x: lax.reduce_window(x, -(2**31), lax.max, (1, 3, 2), (1, 1, 1), "VALID"),
        [Arg((2, 6, 5), "int32", "int")],
    )
    assert ops.count("StridedSlice") == 5 and ops.count("Maximum") == 3


# No rank-5 Pad or StridedSlice reaches a graph.


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: lax.conv_general_dilated(
            x,
            jnp.ones((2, 3, 2, 2, 3)),
            (2, 1, 1),
            ((1, 0), (0, 2), (1, 1)),
            dimension_numbers=NDHWC,
        ),
        lambda x: nn.avg_pool(x, (1, 2, 2), strides=(1, 1, 1), padding="SAME"),
        lambda x: nn.max_pool(x, (2, 2, 1), strides=(1, 1, 1), padding=((1, 0), (0, 1), (0, 0))),
    ],
    ids=["conv3d_explicit_pads", "avg_pool_3d_same", "max_pool_3d_explicit"],
)
def test_no_pad_or_slice_of_rank_five_is_emitted(fn):
    lowered = lower_case(Case("probe", fn, [Arg((2, 4, 5, 4, 2))]))
    ops = lowered.function.graph.get_operations()
    assert any(op.type in ("Pad", "PadV2") for op in ops), "the case should pad"
    # webgl compiles Pad and strided StridedSlice shaders up to rank 4
    assert all(op.inputs[0].shape.rank <= 4 for op in ops if op.type in ("Pad", "PadV2", "StridedSlice"))


@pytest.mark.parametrize(
    ("shape", "paddings", "value"),
    [
        ((2, 3, 4, 5, 2), [[0, 0], [1, 2], [0, 0], [3, 0], [0, 1]], 0.0),
        ((1, 2, 2, 2, 2, 3), [[0, 0], [0, 1], [2, 0], [0, 0], [1, 1], [0, 0]], -np.inf),
        ((3, 2, 4), [[1, 0], [0, 2], [0, 0]], 5.0),  # rank 3: one plain pad
    ],
)
def test_rank_three_views_pad_as_tf_pad(shape, paddings, value):
    x = tf.constant(np.random.default_rng(0).standard_normal(shape).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, *shape[1:]], tf.float32)])
    def padded(t):
        return low_rank_pad.pad(t, paddings, constant_values=value)

    np.testing.assert_array_equal(padded(x).numpy(), tf.pad(x, paddings, constant_values=value).numpy())


# Body recognition.


def test_monoid_bodies_are_recognised_in_either_operand_order():
    body = _body(lambda a, b: lax.max(b, a), F32, F32).jaxpr
    assert [m.name for m in monoids_of(body, 1)] == ["max"]
    pair = _body(
        lambda a0, a1, b0, b1: (a0 * b0, b1 | a1),
        F32,
        jax.ShapeDtypeStruct((), bool),
        F32,
        jax.ShapeDtypeStruct((), bool),
    )
    assert [m.name for m in monoids_of(pair.jaxpr, 2)] == ["mul", "or"]


def test_bodies_mixing_operands_or_ops_are_not_monoids():
    assert monoids_of(_body(lambda a, b: a + b * b, F32, F32).jaxpr, 1) is None
    assert monoids_of(_body(lambda a, b: a - b, F32, F32).jaxpr, 1) is None
    crossed = _body(lambda a0, a1, b0, b1: (a0 + b1, a1 + b0), F32, F32, F32, F32)
    assert monoids_of(crossed.jaxpr, 2) is None


def _selection(better, tie):
    def body(av, ai, bv, bi):
        keep = better(av, bv) | ((av == bv) & tie(ai, bi))
        return lax.select(keep, av, bv), lax.select(keep, ai, bi)

    return body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_selection(lax.gt, lax.lt), PairSelection(largest=True, first_index=True, value_at=0)),
        (_selection(lax.lt, lax.lt), PairSelection(largest=False, first_index=True, value_at=0)),
        (_selection(lax.gt, lax.gt), PairSelection(largest=True, first_index=False, value_at=0)),
        (_selection(lax.gt, lambda a, b: a % 2 == 0), None),  # a tie keeps an even index
        (lambda av, ai, bv, bi: (lax.max(av, bv), lax.min(ai, bi)), None),  # value and index unlinked
    ],
    ids=["argmax", "argmin", "argmax_last", "even_index_tie", "unlinked"],
)
def test_pair_selections_are_recognised_by_behaviour(body, expected):
    closed = _body(body, F32, I32, F32, I32)
    assert pair_selection_of(closed) == expected


def test_a_pair_with_the_index_first_is_recognised():
    def index_first(ai, av, bi, bv):
        keep = (av > bv) | ((av == bv) & (ai < bi))
        return lax.select(keep, ai, bi), lax.select(keep, av, bv)

    assert pair_selection_of(_body(index_first, I32, F32, I32, F32)) == PairSelection(True, True, value_at=1)
