"""Rules on jaxprs whose non-batch dims are symbolic too: traced with "b, seq", run at two lengths.

The registry's parity cases (test_lowering_parity.py) leave only the batch dynamic. Text models
exported for any sequence length also carry `seq`, and some patterns exist only then: GPT-2 slices
its constant causal mask to `seq`, which JAX traces to a gather of symbolic size on two axes. Each
function here is the pure-JAX reduction of such a pattern in a Hugging Face Flax model.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import export

from bench.parity import LoweredCase, ops_tfjs_lacks, traced_primitives, undeclared_ops
from jax2tfjs.export.tfjs_convert import tfjs_op_names
from jax2tfjs.lowering import RULES
from jax2tfjs.lowering.context import LoweringContext
from jax2tfjs.lowering.interpreter import lower_closed_jaxpr

MAX_LEN = 16  # the constant tables' length; `seq` is bounded by it, as GPT-2's n_positions bounds it
HIDDEN = 4


def _causal_mask_scores(x):
    """GPT-2 (modeling_flax_gpt2.py): a constant (1, 1, L, L) causal mask sliced to [:, :, :seq, :seq]."""
    mask = jnp.tril(jnp.ones((1, 1, MAX_LEN, MAX_LEN), bool))
    causal = mask[:, :, : x.shape[1], : x.shape[1]]
    scores = jnp.einsum("bqd,bkd->bqk", x, x)[:, None]
    return jax.nn.softmax(jnp.where(causal, scores, -1e9), axis=-1)


def _position_embeddings(x):
    """GPT-2's wpe(arange(seq)) added to the token embeddings."""
    table = jnp.arange(MAX_LEN * HIDDEN, dtype=jnp.float32).reshape(MAX_LEN, HIDDEN) / 10
    positions = jnp.broadcast_to(jnp.arange(x.shape[1]), x.shape[:2])
    return x + jnp.take(table, positions, axis=0)


def _head_mask(x):
    """BERT's head mask: int32 per head times float32 attention weights, no contraction."""
    weights = jnp.concatenate([x[:, None], -x[:, None]], axis=1)  # (b, heads, seq, k)
    return jnp.einsum(
        "...hqk,h->...hqk", weights, jnp.array([1, 0], jnp.int32), preferred_element_type=jnp.float32
    )


def _class_token(x):
    """CLIP's class embedding tiled onto the batch, then concatenated before the `seq` tokens."""
    cls = jnp.tile(jnp.full((1, 1, HIDDEN), 0.5), (x.shape[0], 1, 1))
    return jnp.concatenate([cls, x], axis=1)


def _contract_over_seq(x):
    """x (b, HIDDEN, seq) @ m (seq, 3): the contracting dim is the symbol `seq` (the dot's fast path
    reshaped with [-1, seq], which TF cannot convert)."""
    m = jnp.arange(MAX_LEN * 3, dtype=jnp.float32).reshape(MAX_LEN, 3)[: x.shape[1]] / 10
    return jnp.swapaxes(x, 1, 2) @ m


FUNCTIONS = {
    "contract_over_seq": (_contract_over_seq, "dot_general"),
    "causal_mask_scores": (_causal_mask_scores, "gather"),
    "position_embeddings": (_position_embeddings, "gather"),
    "head_mask": (_head_mask, "dot_general"),
    "class_token": (_class_token, "tile"),
}


def lower_with_seq(fn):
    """fn traced on f32[b, seq, HIDDEN] (seq <= MAX_LEN) and lowered into one TF graph."""
    b, seq = export.symbolic_shape("b, seq", constraints=(f"{MAX_LEN} >= seq",))
    closed = jax.make_jaxpr(fn)(jax.ShapeDtypeStruct((b, seq, HIDDEN), jnp.float32))
    ctx = LoweringContext()
    function = tf.function(
        lambda x: lower_closed_jaxpr(ctx, closed, [x]),
        input_signature=[tf.TensorSpec([None, None, HIDDEN], tf.float32)],
        autograph=False,
    ).get_concrete_function()
    graph_ops = [(op.name, op.type) for op in function.graph.get_operations()]
    return LoweredCase(
        None, [True], traced_primitives(closed.jaxpr), function, graph_ops, list(ctx.emissions), ctx
    )


@pytest.mark.parametrize("name", FUNCTIONS)
def test_lowering_matches_jax_at_two_sequence_lengths(name):
    fn, primitive = FUNCTIONS[name]
    lowered = lower_with_seq(fn)
    assert primitive in lowered.primitives, f"{name} no longer traces {primitive}: it tests something else"
    rng = np.random.default_rng(0)
    for batch, length in ((2, 5), (1, 11)):
        x = rng.standard_normal((batch, length, HIDDEN)).astype(np.float32)
        want = np.asarray(fn(x))
        (got,) = tf.nest.flatten(lowered.function(tf.constant(x)))
        assert got.shape == want.shape
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_symbolic_seq_emits_only_declared_ops_tfjs_has(name):
    lowered = lower_with_seq(FUNCTIONS[name][0])
    assert undeclared_ops(lowered, RULES) == {}
    assert ops_tfjs_lacks(lowered, tfjs_op_names()) == {}
    assert lowered.unattributed_ops() == []


def test_head_mask_is_one_broadcast_mul_not_a_batch_matmul():
    # A dot with no contracting dims is an elementwise product; BatchMatMulV2 with k=1 would do the
    # same work through two more Reshapes.
    emitted = lower_with_seq(_head_mask).emitted_ops()["dot_general"]
    assert "Mul" in emitted
    assert not emitted & {"MatMul", "BatchMatMulV2"}
