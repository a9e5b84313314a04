"""The scatter family (`x.at[i].set/add/multiply/min/max`, `-sub`): the primitive's name picks the
combiner; its `update_jaxpr` is only read to refuse `.at[].apply(f)` (a `scatter` carrying a jaxpr).

Every update element gets a full index tuple (index_windows.py, shared with the general gather),
then one of three lowerings, chosen by what TF.js 4.22 has: its op list has ScatterNd and
TensorScatterUpdate but no TensorScatterAdd/Max/Min/Mul and no UnsortedSegment* ops.
- add/sub: `x + ScatterNd(tuples, updates)`; ScatterNd sums duplicate indices (TF, and TF.js cpu
  and wasm, measured by the parity cases with duplicates).
- set: TensorScatterUpdate. With duplicates JAX leaves the winner unspecified (so do TF and TF.js).
- mul/min/max: a one-hot mask (update elements × operand rows) and a masked Prod/Max/Min over the
  updates, combined with the operand. Memory grows as updates × operand elements: fine for
  histograms and small tables, not for scattering into large activations.
Out-of-range windows: FILL_OR_DROP and PROMISE_IN_BOUNDS drop the whole window when a start is
outside [0, dim - window] (measured in JAX 0.10.2 on CPU: promise drops too); CLIP clamps the start.
Dropped add/sub updates become zeros; dropped sets land on a spare row past the end of the first
index axis that is sliced off afterwards (TF raises on an out-of-range TensorScatterUpdate index).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.context import is_static, reshape_target, transpose
from jax2tfjs.lowering.index_windows import WindowLayout, flag_for
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3
_SCATTER = lax.ScatterDimensionNumbers
_ROWS = _SCATTER(update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))


def scatter_layout(eqn) -> tuple[WindowLayout, list[int]]:
    """The operand's window layout and the transpose taking the updates to ScatterNd's order
    (index dims, coordinate windows, whole dims)."""
    dn = eqn.params["dimension_numbers"]
    operand_shape = tuple(eqn.invars[0].aval.shape)
    updates_shape = tuple(eqn.invars[2].aval.shape)
    dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    window_dims = tuple(d for d in range(len(operand_shape)) if d not in dropped)
    window_axis = dict(zip(window_dims, dn.update_window_dims, strict=True))
    sizes = tuple(updates_shape[window_axis[d]] if d in window_axis else 1 for d in range(len(operand_shape)))
    layout = WindowLayout(
        operand_shape=operand_shape,
        index_dims=tuple(eqn.invars[1].aval.shape[:-1]),
        start_map=tuple(dn.scatter_dims_to_operand_dims),
        operand_batching=tuple(dn.operand_batching_dims),
        index_batching=tuple(dn.scatter_indices_batching_dims),
        window_dims=window_dims,
        window_sizes=sizes,
    )
    scatter_axes = [a for a in range(len(updates_shape)) if a not in dn.update_window_dims]
    windows = [window_axis[d] for d in (*layout.coordinate_windows, *layout.whole_dims)]
    return layout, scatter_axes + windows


def _sized(ctx, target: tf.Tensor, dims) -> list[int] | tf.Tensor:
    """`target`'s shape: constants when static, else one Shape op (cheaper than packing dims)."""
    shape = ctx.shape(dims)
    return shape if isinstance(shape, list) else tf.shape(target, out_type=tf.int32)


@rule(
    "scatter",
    "scatter-add",
    "scatter-sub",
    "scatter-mul",
    "scatter-min",
    "scatter-max",
    tf_ops=(
        "ScatterNd",
        "TensorScatterUpdate",
        "AddV2",
        "Neg",
        "SelectV2",
        "Maximum",  # clamping starts; scatter-max's combine
        "Minimum",
        "GreaterEqual",
        "LessEqual",
        "LogicalAnd",
        "All",
        "Pad",  # moving starts to their tuple positions; the spare row of a dropped set
        "ExpandDims",
        "Range",
        "Reshape",
        "Mul",
        "Transpose",
        "StridedSlice",
        "Shape",
        "Pack",
        "Equal",  # mul/min/max's one-hot mask
        "Sum",
        "Prod",
        "Max",
        "Min",
    ),
    limits=(
        "any dimension numbers and modes; `.at[].apply(f)` raises; scatter-mul/min/max build a mask "
        "of (update elements × operand rows), so keep those operands small"
    ),
    cases=[
        Case(  # duplicate ids accumulate: 12 ids into 4 buckets
            "add_duplicates",
            lambda i, u, x: jnp.asarray(x).at[i[:, 0]].add(u),
            [Arg((B, 4), "int32", "int", high=4), Arg((B, 3)), Arg((4, 3), batched=False)],
        ),
        Case(  # ids 4..7 are out of range: dropped (FILL_OR_DROP, `.at[]`'s default)
            "add_drops_out_of_range",
            lambda i, u: jnp.zeros((4, 2)).at[i[:, 0] - 2].add(u),
            [Arg((B, 1), "int32", "int", high=8), Arg((B, 2))],
        ),
        Case(
            "add_clip",
            lambda i, u: jnp.zeros((4, 2)).at[i[:, 0] - 2].add(u, mode="clip"),
            [Arg((B, 1), "int32", "int", high=8), Arg((B, 2))],
        ),
        Case(
            "sub_int",
            lambda i, x: lax.scatter_sub(x, i[:2, :1], jnp.ones((2, 3), jnp.int32), _ROWS),
            [Arg((B, 1), "int32", "int", high=5, batched=False), Arg((5, 3), "int32", "int", batched=False)],
            batched=False,
        ),
        Case(  # unique indices (a permutation): the set is defined
            "set_unique",
            lambda x, u: jnp.asarray(x).at[:, jnp.array([3, 0, 5])].set(u),
            [Arg((B, 6)), Arg((B, 3))],
        ),
        Case(  # columns i, i+2, i+4, i+6 of 6 set on the dynamic batch: those past 5 are dropped
            "set_drops_out_of_range",
            lambda x, i: jnp.asarray(x).at[:, jnp.arange(4) * 2 + i[0]].set(x[:, :4] * 10.0),
            [Arg((B, 6)), Arg((1,), "int32", "int", high=6, batched=False)],
        ),
        Case(
            "set_clip",
            lambda x, i: jnp.asarray(x).at[:, i - 2].set(-1.0, mode="clip"),
            [Arg((B, 6)), Arg((4,), "int32", "int", high=10, batched=False)],
        ),
        Case(  # rows of the dynamic batch: ids past b - 1 are dropped (most of them at batch 1)
            "add_rows_of_dynamic_batch",
            lambda x, i: jnp.asarray(x).at[i].add(1.0),
            [Arg((B, 4)), Arg((5,), "int32", "int", high=4, batched=False)],
        ),
        Case(  # windows of 2 rows; a window past the end is dropped whole
            "add_windows",
            lambda i, u: lax.scatter_add(
                jnp.zeros((5, 3)),
                i,
                u,
                _SCATTER(
                    update_window_dims=(1, 2), inserted_window_dims=(), scatter_dims_to_operand_dims=(0,)
                ),
            ),
            [Arg((B, 1), "int32", "int", high=5), Arg((B, 2, 3))],
        ),
        Case(  # operand_batching_dims: a per-row scatter (`put_along_axis` style)
            "add_batching_dims",
            lambda x, i, u: lax.scatter_add(
                x,
                i[..., None],
                u,
                _SCATTER(
                    update_window_dims=(),
                    inserted_window_dims=(1,),
                    scatter_dims_to_operand_dims=(1,),
                    operand_batching_dims=(0,),
                    scatter_indices_batching_dims=(0,),
                ),
            ),
            [Arg((B, 5)), Arg((B, 4), "int32", "int", high=5), Arg((B, 4))],
        ),
        Case(
            "max_duplicates",
            lambda i, u, x: jnp.asarray(x).at[i[:, 0]].max(u),
            [Arg((B, 4), "int32", "int", high=3), Arg((B, 2)), Arg((3, 2), batched=False)],
        ),
        Case(
            "min_drops_out_of_range",
            lambda i, u: jnp.zeros((4,)).at[i[:, 0] - 2].min(u),
            [Arg((B, 2), "int32", "int", high=8), Arg((B,))],
        ),
        Case(
            "mul_duplicates",
            lambda i, u, x: jnp.asarray(x).at[i[:, 0]].multiply(u),
            [Arg((B, 3), "int32", "int", high=3), Arg((B, 2), fill="unit"), Arg((3, 2), batched=False)],
        ),
        Case(
            "max_int",
            lambda i, u: jnp.zeros((4,), jnp.int32).at[i[:, 0]].max(u),
            [Arg((B, 1), "int32", "int", high=4), Arg((B,), "int32", "int", high=20)],
        ),
        # One index, no index batch dims (the commonest `.at[]`): a rank-1 coordinate tuple.
        Case("set_one_column", lambda x: jnp.asarray(x).at[:, 0].set(1.0), [Arg((B, 4))]),
        Case("add_last_column", lambda x: jnp.asarray(x).at[..., -1].add(1.0), [Arg((B, 3, 4))]),
        Case(
            "set_one_element_traced",
            lambda x, i: jnp.asarray(x).at[i[0] - 1, i[1]].set(-5.0),
            [Arg((4, 3), batched=False), Arg((2,), "int32", "int", high=4, batched=False)],
            batched=False,
        ),
        Case(
            "add_one_element",
            lambda x, i: jnp.asarray(x).at[i[0], 1].add(x[0, 0]),
            [Arg((4, 3), batched=False), Arg((1,), "int32", "int", high=6, batched=False)],
            batched=False,
        ),
    ],
)
def lower_scatter(ctx, eqn, operand, indices, updates):
    name = eqn.primitive.name
    if name == "scatter" and eqn.params.get("update_jaxpr") is not None:
        raise NotImplementedError("`.at[].apply(f)` (a scatter applying a function) is not supported")
    layout, perm = scatter_layout(eqn)
    if not layout.coordinate_dims:
        raise NotImplementedError("a scatter without start indices is not supported")
    starts = tf.cast(indices, tf.int32)
    valid = None
    if eqn.params["mode"] != lax.GatherScatterMode.CLIP:
        valid = layout.in_range(ctx, starts)
    coords = layout.coordinates(ctx, layout.clamp(ctx, starts))
    target = layout.transposed_operand(operand)
    values = transpose(updates, perm)
    if coords.shape.rank == 1:
        # One index (`x.at[0].set(row)`, `x.at[i, j].add(s)`): TF reads a rank-1 index tensor as
        # several one-coordinate tuples, so give the tuple, its update and its flag a leading axis.
        coords, values = coords[None], values[None]
        valid = None if valid is None else tf.reshape(valid, [1])
    if name in ("scatter-add", "scatter-sub"):
        out = _accumulate(ctx, layout, target, coords, values, valid, negate=name == "scatter-sub")
    elif name == "scatter":
        out = _overwrite(ctx, layout, target, coords, values, valid)
    else:
        out = _combine_masked(ctx, layout, target, coords, values, valid, name)
    return layout.restore_operand(out)


def _target_dims(layout: WindowLayout) -> list:
    return [layout.operand_shape[d] for d in layout.operand_perm]


def _accumulate(ctx, layout, target, coords, values, valid, negate):
    if negate:
        values = -values
    if valid is not None:  # a dropped window adds zeros (at its clamped, in-range position)
        extra = len(layout.coordinate_windows) + len(layout.whole_dims)
        values = tf.where(flag_for(valid, extra), values, tf.zeros((), values.dtype))
    return target + tf.scatter_nd(coords, values, _sized(ctx, target, _target_dims(layout)))


def _overwrite(ctx, layout, target, coords, values, valid):
    if valid is None:
        return tf.tensor_scatter_nd_update(target, coords, values)
    # A dropped window writes to a spare row (index `rows`) of the first coordinate axis instead.
    rows = ctx.dim(layout.operand_shape[layout.coordinate_dims[0]])
    unit = np.zeros(len(layout.coordinate_dims), np.int32)
    unit[0] = 1
    spare = tf.constant(unit) * rows
    coords = tf.where(flag_for(valid, len(layout.coordinate_windows) + 1), coords, spare)
    padded = tf.pad(target, [[0, 1]] + [[0, 0]] * (target.shape.rank - 1))
    return tf.tensor_scatter_nd_update(padded, coords, values)[:-1]


# The one-hot mask of scatter-mul/min/max, in elements (64 MiB of float32), checked when static.
_MAX_MASK = 1 << 24

_COMBINE = {
    "scatter-mul": (tf.reduce_prod, tf.multiply),
    "scatter-min": (tf.reduce_min, tf.minimum),
    "scatter-max": (tf.reduce_max, tf.maximum),
}


def _identity(name: str, dtype: tf.DType):
    if name == "scatter-mul":
        return 1
    if dtype.is_floating:
        return float("inf") if name == "scatter-min" else float("-inf")
    return dtype.max if name == "scatter-min" else dtype.min


def _combine_masked(ctx, layout, target, coords, values, valid, name):
    """mul/min/max: each operand row reduces the updates aimed at it (a one-hot mask), then
    combines with its own value; rows no update hits reduce to the identity and stay unchanged."""
    coord_dims = [layout.operand_shape[d] for d in layout.coordinate_dims]
    whole = [layout.operand_shape[d] for d in layout.whole_dims]
    strides = [math.prod(coord_dims[p + 1 :]) for p in range(len(coord_dims))]
    row = tf.reduce_sum(coords * tf.convert_to_tensor(ctx.shape(strides), tf.int32), axis=-1)
    if valid is not None:  # a dropped window's elements aim at row -1, which no row matches
        row = tf.where(flag_for(valid, len(layout.coordinate_windows)), row, tf.constant(-1))
    count = math.prod([*layout.index_dims, *layout.window_shape()])
    mask_size = math.prod([count, *coord_dims, *whole])
    if is_static(mask_size) and mask_size > _MAX_MASK:
        raise NotImplementedError(
            f"{name} of {count} update elements into {math.prod(coord_dims)} rows needs a mask of "
            f"{mask_size} elements (over {_MAX_MASK}); scatter-add, -sub and plain scatter have no such limit"
        )
    row = tf.reshape(row, [-1, 1])
    values = tf.reshape(values, reshape_target(ctx, [count, 1, *whole]))
    rows = math.prod(coord_dims)
    hit = tf.equal(row, tf.reshape(tf.range(ctx.dim(rows), dtype=tf.int32), [1, -1]))
    hit = flag_for(hit, len(whole))
    reduce, combine = _COMBINE[name]
    picked = tf.where(hit, values, tf.constant(_identity(name, values.dtype), values.dtype))
    flat = tf.reshape(target, reshape_target(ctx, [rows, *whole]))
    out = combine(flat, reduce(picked, axis=0))
    return tf.reshape(out, reshape_target(ctx, _target_dims(layout)))
