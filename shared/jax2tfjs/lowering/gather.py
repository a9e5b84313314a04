"""gather → GatherV2 for row lookups (embeddings, `x[idx]`, `jnp.take(x, idx, axis=0)`).

JAX normalises negative indices with lt/add/select_n before the gather. PROMISE_IN_BOUNDS and
CLIP map to GatherV2 (after a clip); FILL_OR_DROP also zeroes (or fills) rows whose index is out
of range, as JAX does, since TF would raise and TF.js would read garbage.
"""

from __future__ import annotations

import jax.numpy as jnp
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3


def _index_dims_first(rows, axis, index_dims):
    """tf.gather puts the index dims where `axis` was; JAX (offset dims trailing) puts them first."""
    if axis == 0 or index_dims == 0:
        return rows
    rank = rows.shape.rank
    perm = [*range(axis, axis + index_dims), *range(axis), *range(axis + index_dims, rank)]
    return tf.transpose(rows, perm)


@rule(
    "gather",
    tf_ops=("GatherV2", "ClipByValue", "SelectV2"),
    limits="only whole-row lookups along one axis (embedding style); other gathers raise",
    cases=[
        Case(
            "embedding",
            lambda t, e: jnp.take(e, t, axis=0),
            [Arg((B, 5), "int32", "int", high=7), Arg((7, 4), batched=False)],
        ),
        Case(
            "index_rows",
            lambda t, e: e[t[:, 0]],
            [Arg((B, 2), "int32", "int", high=7), Arg((7, 4), batched=False)],
        ),
        Case(
            "negative_index",
            lambda t, e: e[t - 7],
            [Arg((B, 3), "int32", "int", high=7), Arg((7, 4), batched=False)],
        ),
        Case(
            "fill_out_of_range",
            lambda t, e: jnp.take(e, t, axis=0, mode="fill", fill_value=0.0),
            [Arg((B, 5), "int32", "int", high=10), Arg((7, 4), batched=False)],
        ),
        Case(
            "gather_axis_1",
            lambda x, i: lax.gather(
                x,
                i[:, None],
                lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(1,), start_index_map=(1,)),
                slice_sizes=(4, 1),
                mode="clip",
            ),
            [Arg((4, 5), batched=False), Arg((3,), "int32", "int", high=5, batched=False)],
            batched=False,
        ),
        Case(
            "clip_out_of_range",
            lambda t, e: jnp.take(e, t, axis=0, mode="clip"),
            [Arg((B, 5), "int32", "int", high=10), Arg((7, 4), batched=False)],
        ),
    ],
)
def lower_gather(ctx, eqn, operand, indices):
    dn, slice_sizes = eqn.params["dimension_numbers"], eqn.params["slice_sizes"]
    operand_shape = eqn.invars[0].aval.shape
    if len(dn.start_index_map) != 1 or dn.operand_batching_dims or dn.start_indices_batching_dims:
        raise NotImplementedError("only gathers indexing one axis are supported")
    (axis,) = dn.start_index_map
    rank = len(operand_shape)
    whole = all(slice_sizes[d] == operand_shape[d] for d in range(rank) if d != axis)
    if not whole or slice_sizes[axis] != 1 or tuple(dn.collapsed_slice_dims) != (axis,):
        raise NotImplementedError("only whole-row gathers (one index per row) are supported")
    index_rank = len(eqn.invars[1].aval.shape)
    expected_offsets = tuple(range(index_rank - 1, index_rank - 1 + rank - 1))
    if tuple(dn.offset_dims) != expected_offsets:
        raise NotImplementedError("the gathered rows must come last in the output (offset dims trailing)")
    index = tf.cast(indices[..., 0], tf.int32)
    size = operand_shape[axis]
    mode = eqn.params["mode"]
    if mode == lax.GatherScatterMode.PROMISE_IN_BOUNDS:  # JAX already normalised negative indices
        return _index_dims_first(tf.gather(operand, index, axis=axis), axis, index_rank - 1)
    rows = _index_dims_first(
        tf.gather(operand, tf.clip_by_value(index, 0, size - 1), axis=axis), axis, index_rank - 1
    )
    if mode == lax.GatherScatterMode.FILL_OR_DROP:
        valid = tf.logical_and(index >= 0, index < size)
        for _ in range(rank - 1):
            valid = tf.expand_dims(valid, -1)
        fill = eqn.params["fill_value"]
        if fill is None:  # JAX's defaults: NaN for floats, the most negative value for ints
            fill = float("nan") if operand.dtype.is_floating else operand.dtype.min
        rows = tf.where(valid, rows, tf.constant(fill, operand.dtype))
    return rows
