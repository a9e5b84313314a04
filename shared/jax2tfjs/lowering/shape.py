"""Shape rules: reshape, broadcast, tile, transpose, squeeze, concatenate, stack, pad, slices, rev, iota,
split.

Shapes may hold the symbolic batch dim `b`; `ctx.shape` turns them into a shape tensor, so the
exported model keeps a dynamic batch. A reshape or broadcast of a rank-1 vector onto the last axis
is deferred with a `bias_vector` hint, so `add` can emit BiasAdd without a dangling Reshape.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.context import Hints, constant_value, is_static, materialize, reshape_target
from jax2tfjs.lowering.interpreter import raw_inputs
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3


def same_dim(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # JAX cannot decide for some symbolic expressions: not provably equal
        return False


def _size_one_axis(longer, shorter) -> int | None:
    """The position of the one size-1 axis `longer` has beyond `shorter`, or None."""
    if len(longer) != len(shorter) + 1:
        return None
    for axis, dim in enumerate(longer):
        rest = [*longer[:axis], *longer[axis + 1 :]]
        if same_dim(dim, 1) and all(same_dim(a, b) for a, b in zip(rest, shorter, strict=True)):
            return axis
    return None


def without_pack(tensor, old, new):
    """`tensor` (shape `old`) as shape `new` by ExpandDims or Squeeze when they differ by one size-1
    axis and a Reshape would need the dims' Shape/StridedSlice/Pack ops (two or more symbolic dims:
    (b, seq) → (b, seq, 1), LayerNorm's statistics in a text model); None otherwise."""
    if sum(not is_static(d) for d in old) < 2:
        return None
    if (axis := _size_one_axis(new, old)) is not None:
        return tf.expand_dims(tensor, axis)
    if (axis := _size_one_axis(old, new)) is not None:
        return tf.squeeze(tensor, [axis])
    return None


@rule(
    "reshape",
    tf_ops=("Reshape", "ExpandDims", "Squeeze"),
    limits="`dimensions` (a transpose folded into reshape) must be None, as jnp emits it",
    cases=[
        Case("flatten", lambda x: x.reshape(x.shape[0], -1), [Arg((B, 4, 5))]),
        Case("unflatten", lambda x: x.reshape(x.shape[0], 2, 10), [Arg((B, 20))]),
        Case("reshape_static", lambda x: x.reshape(4, 6), [Arg((2, 12))], batched=False),
        Case(  # (b, b) → (b, b, 1) and back, as nnx LayerNorm's statistics over (b, seq)
            "expand_squeeze_two_symbolic_dims",
            lambda x: (
                lambda y: (
                    y
                    - y.sum(-1).reshape((*y.shape[:2], 1))
                    + y.max(-1, keepdims=True).reshape(y.shape[:2])[..., None]
                )
            )(x[:, None, :] * x[None, :, :]),
            [Arg((B, 4))],
        ),
    ],
)
@raw_inputs
def lower_reshape(ctx, eqn, x):
    if eqn.params.get("dimensions") is not None:
        raise NotImplementedError("reshape with `dimensions` is not supported")
    new_sizes = eqn.params["new_sizes"]
    static = all(is_static(d) for d in new_sizes)
    value = constant_value(x)
    if value is not None and static:  # keep constants constant (and their `constant` hint)
        reshaped = value.reshape([int(d) for d in new_sizes])
        return ctx.defer(
            lambda: tf.constant(reshaped, ctx.tf_dtype(reshaped.dtype)), Hints(constant=reshaped)
        )
    tensor = materialize(x)
    if (short := without_pack(tensor, eqn.invars[0].aval.shape, new_sizes)) is not None:
        return short
    build = lambda: tf.reshape(tensor, reshape_target(ctx, new_sizes))  # noqa: E731
    if tensor.shape.rank == 1 and static and list(new_sizes)[:-1] == [1] * (len(new_sizes) - 1):
        return ctx.defer(build, Hints(bias_vector=tensor))
    return build()


@rule(
    "broadcast_in_dim",
    tf_ops=("Reshape", "ExpandDims", "BroadcastTo", "Tile", "Shape", "StridedSlice", "Pack"),
    limits=(
        "elementwise ops take the size-1 form and broadcast implicitly; a materialised broadcast of "
        "static axes is Tile, one onto the dynamic batch BroadcastTo"
    ),
    cases=[
        Case(
            "broadcast_vector",
            lambda x: jnp.broadcast_to(x, (2, 3, 4)),
            [Arg((4,), batched=False)],
            batched=False,
        ),
        Case("broadcast_scalar", lambda x: x + jnp.zeros_like(x), [Arg((B, 4))]),
        Case(  # (b, b) → (b, b, 1), as (b, seq) statistics in a text model: ExpandDims, not Pack + Reshape
            "expand_two_symbolic_dims",
            lambda x: (lambda y: y - jnp.max(y, axis=-1, keepdims=True))(x[:, None, :] * x[None, :, :]),
            [Arg((B, 4))],
        ),
        Case("broadcast_batch", lambda x: jnp.broadcast_to(x[:, None, :], (x.shape[0], 3, 4)), [Arg((B, 4))]),
        Case(
            "broadcast_groups",
            lambda x: jnp.broadcast_to(x[:, :, None], (x.shape[0], 4, 3)).reshape(x.shape[0], 12),
            [Arg((B, 4))],
        ),
        Case(
            "broadcast_onto_batch",
            lambda x, m: jnp.broadcast_to(m, (x.shape[0], 3, 4)).reshape(x.shape[0], 12) + x,
            [Arg((B, 12)), Arg((1, 4), batched=False)],
        ),
    ],
)
@raw_inputs
def lower_broadcast_in_dim(ctx, eqn, x):
    shape, dims = eqn.params["shape"], eqn.params["broadcast_dimensions"]
    tensor = materialize(x)
    # First put the operand's axes where they land, with size-1 axes elsewhere.
    operand_shape = eqn.invars[0].aval.shape
    expanded = [1] * len(shape)
    for axis, dim in zip(dims, operand_shape, strict=True):
        expanded[axis] = dim

    def reshaped():
        if list(expanded) == list(operand_shape):
            return tensor
        short = without_pack(tensor, operand_shape, expanded)
        return short if short is not None else tf.reshape(tensor, reshape_target(ctx, expanded))

    def build():
        # Symbolic dims compare too: (b,) -> (b, 1) (softmax's max and sum) is only a reshape.
        same = [same_dim(a, b) for a, b in zip(expanded, shape, strict=True)]
        if all(same):
            return reshaped()
        # Expanding static axes only (GroupNorm's per-group statistics onto channels): Tile with
        # constant multiples, where BroadcastTo would need the batch's Shape/StridedSlice/Pack.
        if all(ok or is_static(b) for ok, b in zip(same, shape, strict=True)):
            return tf.tile(reshaped(), [1 if ok else int(b) for ok, b in zip(same, shape, strict=True)])
        return tf.broadcast_to(reshaped(), ctx.shape(shape))

    # Elementwise rules take the rank-equal `broadcastable` form and let TF broadcast implicitly,
    # so most broadcasts never emit BroadcastTo (or the Shape/Pack ops a dynamic batch needs).
    onto_last_axis = tensor.shape.rank == 1 and len(dims) == 1 and dims[0] == len(shape) - 1
    # A small constant broadcast to static dims stays known (a gather's constant start, `h[:, 0]`);
    # only small ones: a rule that reads the hint may bake it into the weights.
    value = constant_value(x)
    known = None
    if value is not None and all(is_static(d) for d in shape) and math.prod(int(d) for d in shape) <= 64:
        known = np.broadcast_to(value.reshape([int(d) for d in expanded]), [int(d) for d in shape])
    return ctx.defer(
        build,
        Hints(constant=known, broadcastable=reshaped, bias_vector=tensor if onto_last_axis else None),
    )


@rule(
    "tile",
    tf_ops=("Tile", "Shape", "StridedSlice", "Pack"),
    limits="repeats may be symbolic (the batch): `jnp.tile(cls, (x.shape[0], 1, 1))`",
    cases=[
        Case("tile_static", lambda x: jnp.tile(x, (1, 2, 3)), [Arg((B, 2, 3))]),
        Case(  # HF FlaxCLIPVision's class embedding, repeated over the dynamic batch
            "tile_onto_batch",
            lambda x, c: jnp.concatenate([jnp.tile(c[None, None, :], (x.shape[0], 1, 1)), x], axis=1),
            [Arg((B, 4, 5)), Arg((5,), batched=False)],
        ),
        Case(
            "tile_batch_times",
            lambda x: jnp.tile(x, (2, x.shape[0])),
            [Arg((B, 3))],
        ),
        Case("tile_int", lambda x: jnp.tile(x, (2, 1)), [Arg((B, 3), "int32", "int")]),
        Case("tile_more_reps_than_dims", lambda x: jnp.tile(x, (2, 1, 3)), [Arg((B, 2))]),
        Case("tile_bool", lambda x: jnp.where(jnp.tile(x, (1, 2)), 1.0, -1.0), [Arg((B, 2), "bool", "bool")]),
    ],
)
def lower_tile(ctx, eqn, x):
    return tf.tile(x, ctx.shape(eqn.params["reps"]))


@rule(
    "transpose",
    tf_ops=("Transpose",),
    cases=[Case("transpose", lambda x: jnp.transpose(x, (0, 2, 1)), [Arg((B, 4, 5))])],
)
def lower_transpose(ctx, eqn, x):
    return tf.transpose(x, eqn.params["permutation"])


@rule(
    "squeeze",
    tf_ops=("Squeeze",),
    cases=[Case("squeeze", lambda x: jnp.squeeze(x, axis=2), [Arg((B, 4, 1))])],
)
def lower_squeeze(ctx, eqn, x):
    return tf.squeeze(x, axis=eqn.params["dimensions"])


@rule(
    "concatenate",
    tf_ops=("ConcatV2",),
    cases=[
        Case("concatenate", lambda a, b: jnp.concatenate([a, b], axis=1), [Arg((B, 2, 3)), Arg((B, 4, 3))])
    ],
)
def lower_concatenate(ctx, eqn, *xs):
    return tf.concat(xs, axis=eqn.params["dimension"])


@rule(
    "stack",
    tf_ops=("Pack",),
    cases=[  # jnp.stack is its own primitive in the pinned JAX (0.10), not concatenate of expand_dims
        Case("stack", lambda a, b: jnp.stack([a, b * 2.0], axis=1), [Arg((B, 2, 3)), Arg((B, 2, 3))]),
        Case("stack_last_int", lambda a: jnp.stack([a, a + 1, a], axis=-1), [Arg((B, 4), "int32", "int")]),
    ],
)
def lower_stack(ctx, eqn, *xs):
    return tf.stack(xs, axis=eqn.params["axis"])


@rule(
    "unstack",
    tf_ops=("Unpack",),
    cases=[
        Case("unstack", lambda x: jnp.unstack(x, axis=1)[2] * 2.0, [Arg((B, 3, 4))]),
        Case("unstack_batch_axis_kept", lambda x: sum(jnp.unstack(x, axis=-1)), [Arg((B, 5, 3))]),
    ],
)
def lower_unstack(ctx, eqn, x):
    return tf.unstack(x, axis=eqn.params["axis"])


@rule(
    "pad",
    tf_ops=("PadV2", "StridedSlice", "Fill", "Reshape"),
    limits="negative padding crops; interior padding interleaves by one PadV2 on new axes and a Reshape",
    cases=[
        Case("pad_zero", lambda x: jnp.pad(x, ((0, 0), (1, 2), (0, 1))), [Arg((B, 3, 4))]),
        Case("pad_value", lambda x: lax.pad(x, -1.0, ((0, 0, 0), (2, 1, 0))), [Arg((B, 3))]),
        Case("pad_negative", lambda x: lax.pad(x, 0.0, ((0, 0, 0), (-1, 2, 0))), [Arg((B, 4))]),
        Case("pad_interior", lambda x: lax.pad(x, -1.0, ((0, 0, 0), (1, 2, 2))), [Arg((B, 4))]),
        Case(  # interior padding then cropping into it (hi -3 removes two pads and one element)
            "pad_interior_negative",
            lambda x: lax.pad(x, 5.0, ((0, 0, 0), (-2, -3, 1), (1, 0, 3))),
            [Arg((B, 4, 2))],
        ),
        Case(  # the dynamic batch interleaved: (b, 3) → (3b - 2 + 1, 3)
            "pad_interior_batch",
            lambda x: lax.pad(x, 0, ((1, 0, 2), (0, 0, 0))),
            [Arg((B, 3), "int32", "int")],
        ),
        Case(
            "pad_all_negative",
            lambda x: lax.pad(x, 0.0, ((-1, 0, 0), (-1, -2, 0))),
            [Arg((4, 6))],
            batched=False,
        ),
    ],
)
def lower_pad(ctx, eqn, x, value):
    config = [tuple(c) for c in eqn.params["padding_config"]]
    shape = list(eqn.invars[0].aval.shape)
    if any(interior > 0 for _, _, interior in config):
        x = _interleave(ctx, x, value, shape, config)
        # The interleaved axis ends in `interior` pads that belong to no gap: crop them via hi.
        config = [(lo, hi - interior, 0) for lo, hi, interior in config]
    paddings = [[max(lo, 0), max(hi, 0)] for lo, hi, _ in config]
    padded = tf.pad(x, paddings, constant_values=value) if any(any(p) for p in paddings) else x
    if any(lo < 0 or hi < 0 for lo, hi, _ in config):
        begin = [max(-lo, 0) for lo, _, _ in config]
        end = [-max(-hi, 0) if hi < 0 else 0 for _, hi, _ in config]
        end_mask = sum(1 << i for i, (_, hi, _) in enumerate(config) if hi >= 0)
        padded = tf.strided_slice(padded, begin, end, end_mask=end_mask)
    return padded


def _interleave(ctx, x, value, shape, config):
    """Each axis with interior padding p: (n,) → (n, 1) → PadV2 → (n, 1 + p) → (n * (1 + p),), i.e.
    every element followed by p pads (the last p are cropped by the caller)."""
    split, paddings, merged = [], [], []
    for dim, (_, _, interior) in zip(shape, config, strict=True):
        split.append(dim)
        paddings.append([0, 0])
        if interior > 0:
            split.append(1)
            paddings.append([0, interior])
        merged.append(dim * (1 + interior))
    spread = tf.reshape(x, reshape_target(ctx, split))
    return tf.reshape(tf.pad(spread, paddings, constant_values=value), reshape_target(ctx, merged))


@rule(
    "slice",
    tf_ops=("StridedSlice", "Shape", "AddV2", "Pack", "GatherV2"),
    limits="an int32 or bool slice with strides is a contiguous slice and a GatherV2 per strided axis "
    "(wasm's strided StridedSlice is wrong on integers)",
    cases=[
        Case("slice", lambda x: lax.slice(x, (0, 1, 0), (x.shape[0], 3, 5), (1, 1, 2)), [Arg((B, 4, 5))]),
        Case("slice_static", lambda x: lax.slice(x, (1, 0), (3, 2)), [Arg((4, 3))], batched=False),
        Case("slice_batch_but_last", lambda x: lax.slice(x, (0, 0), (x.shape[0] - 1, 4)), [Arg((3, 4))]),
        Case(
            "slice_strided_int",
            lambda x: lax.slice(x, (0, 1, 0), (x.shape[0], 5, 5), (1, 2, 2)) * 70001,
            [Arg((B, 6, 5), "int32", "int", high=30000)],
        ),
        Case(
            "slice_strided_bool",
            lambda x: lax.slice(x, (0, 0, 1), (x.shape[0], 7, 5), (1, 3, 2)),
            [Arg((B, 7, 5), "bool", "bool")],
        ),
    ],
)
def lower_slice(ctx, eqn, x):
    starts, limits = eqn.params["start_indices"], eqn.params["limit_indices"]
    strides = eqn.params["strides"] or (1,) * len(starts)
    operand_shape = eqn.invars[0].aval.shape
    # An axis taken whole (often the dynamic batch) uses the end mask instead of a limit; `x[:-1]`
    # on the batch has limit b - 1, which is not whole.
    whole = [
        s == 0 and st == 1 and same_dim(lim, dim)
        for s, lim, st, dim in zip(starts, limits, strides, operand_shape, strict=True)
    ]
    end = [0 if w else ctx.dim(lim) for w, lim in zip(whole, limits, strict=True)]
    end_mask = sum(1 << i for i, w in enumerate(whole) if w)
    begin = [ctx.dim(s) for s in starts]
    if x.dtype == tf.float32 or all(st == 1 for st in strides):
        return tf.strided_slice(x, begin, end, strides, end_mask=end_mask)
    # TF.js 4.22's wasm StridedSlice with a stride > 1 returns float32 garbage for int32 (measured:
    # shape/slice_strided_int): slice contiguously, then pick every stride-th element by GatherV2.
    sliced = tf.strided_slice(x, begin, end, [1] * len(strides), end_mask=end_mask)
    for axis, (start, limit, stride) in enumerate(zip(starts, limits, strides, strict=True)):
        if stride > 1:
            sliced = tf.gather(
                sliced, np.arange(0, ctx.dim(limit) - ctx.dim(start), stride, dtype=np.int32), axis=axis
            )
    return sliced


@rule(
    "dynamic_slice",
    tf_ops=("StridedSlice", "AddV2", "Maximum", "Minimum", "Pack", "Slice"),
    limits="start indices are clamped into range, as in JAX",
    cases=[
        Case(
            "dynamic_slice",
            lambda x, i: lax.dynamic_slice(x, (0, i[0] % 4, 1), (x.shape[0], 2, 3)),
            [Arg((B, 5, 5)), Arg((1,), "int32", "int", high=8, batched=False)],
        ),
        Case(  # constant starts (`x[:, 0]`, a clamped 7): one StridedSlice, whole batch by the end mask
            "constant_starts",
            lambda x: lax.dynamic_slice(x, (0, 7, 1), (x.shape[0], 2, 3)) + x[:, 0, None, :3],
            [Arg((B, 5, 5))],
        ),
        Case(  # traced starts past either end (-4..5 on a window of 3 in 5): clamped into [0, 2]
            "traced_starts_clamped",
            lambda x, i: lax.dynamic_slice(x, (0, i[0] - 4, i[1] - 4), (x.shape[0], 3, 2)),
            [Arg((B, 5, 4)), Arg((2,), "int32", "int", high=10, batched=False)],
        ),
        Case(  # per-example starts are a gather; one traced start on the batch axis is a dynamic_slice
            "traced_start_on_batch_axis",
            lambda x, i: lax.dynamic_slice_in_dim(x, i[0], 1, axis=0) * 2.0,
            [Arg((B, 4)), Arg((1,), "int32", "int", high=5, batched=False)],
        ),
        Case(
            "traced_start_int",
            lambda x, i: lax.dynamic_slice_in_dim(x, i[0], 2, axis=1),
            [Arg((B, 6), "int32", "int"), Arg((1,), "int32", "int", high=8, batched=False)],
        ),
    ],
)
@raw_inputs
def lower_dynamic_slice(ctx, eqn, x, *starts):
    sizes = eqn.params["slice_sizes"]
    x = materialize(x)
    fixed = fixed_slice(eqn.invars[0].aval.shape, [constant_value(s) for s in starts], sizes)
    if fixed is not None:
        begins, ends, end_mask = fixed
        return tf.strided_slice(x, begins, ends, [1] * len(begins), end_mask=end_mask)
    starts = [materialize(s) for s in starts]
    begins = []
    for dim, start, size in zip(eqn.invars[0].aval.shape, starts, sizes, strict=True):
        limit = ctx.dim(dim - size)  # a constant unless the axis is symbolic (then b - size)
        begins.append(tf.clip_by_value(tf.cast(start, tf.int32), 0, limit))
    return tf.slice(x, tf.stack(begins), ctx.shape(sizes))


@rule(
    "dynamic_update_slice",
    tf_ops=(
        "Pad",
        "Pack",
        "Range",  # the window's mask per axis
        "GreaterEqual",
        "Less",
        "LogicalAnd",
        "Reshape",
        "SelectV2",
        "AddV2",
        "Sub",
        "Maximum",  # starts clamped into [0, dim - size], as in JAX
        "Minimum",
    ),
    limits="start indices traced or constant, clamped into range as in JAX; no transposes (a KV cache stays put)",
    cases=[
        Case(
            "update_traced_start",
            lambda x, i: lax.dynamic_update_slice(x, jnp.full((x.shape[0], 2), -1.0), (0, i[0] - 3)),
            [Arg((B, 6)), Arg((1,), "int32", "int", high=10, batched=False)],
        ),
        Case(  # a KV-cache write: one step at position t along axis 1 of (b, len, heads, dim)
            "update_cache_step",
            lambda c, k, i: lax.dynamic_update_slice(c, k, (0, i[0], 0, 0)),
            [Arg((B, 5, 2, 3)), Arg((B, 1, 2, 3)), Arg((1,), "int32", "int", high=7, batched=False)],
        ),
        Case(  # constant starts (one clamped from 9 to 2): the mask is a constant
            "update_constant_starts",
            lambda x, u: lax.dynamic_update_slice(x, u, (1, 9)),
            [Arg((4, 5), batched=False), Arg((2, 3), batched=False)],
            batched=False,
        ),
        Case(
            "update_int_two_axes",
            lambda x, u, i: lax.dynamic_update_slice(x, u, (i[0], i[1])),
            [
                Arg((4, 5), "int32", "int", batched=False),
                Arg((3, 2), "int32", "int", batched=False),
                Arg((2,), "int32", "int", high=6, batched=False),
            ],
            batched=False,
        ),
        Case(  # the update covers the dynamic batch whole: its start clamps to 0
            "update_whole_batch",
            lambda x, u, i: lax.dynamic_update_slice(x, u * 3.0, (i[0], 1)),
            [Arg((B, 4)), Arg((B, 2)), Arg((1,), "int32", "int", high=4, batched=False)],
        ),
    ],
)
@raw_inputs
def lower_dynamic_update_slice(ctx, eqn, operand, update, *starts):
    """The update padded to the operand's shape, selected inside its window: SelectV2(mask,
    Pad(update), operand). Unlike TensorScatterUpdate this needs no index tuples and no transposes,
    so writing one step into a (b, len, heads, dim) cache touches nothing else."""
    operand_shape, sizes = eqn.invars[0].aval.shape, eqn.invars[1].aval.shape
    operand, update = materialize(operand), materialize(update)
    rank = len(operand_shape)
    paddings, mask = [], None
    for axis, (dim, size, start) in enumerate(zip(operand_shape, sizes, starts, strict=True)):
        if same_dim(dim, size):  # the update covers the axis: its start clamps to 0
            paddings.append([0, 0])
            continue
        value = constant_value(start)
        if value is not None and is_static(dim) and is_static(size):
            begin = min(max(int(value), 0), int(dim) - int(size))
            inside = np.zeros(int(dim), bool)
            inside[begin : begin + int(size)] = True
        else:
            begin = tf.clip_by_value(tf.cast(materialize(start), tf.int32), 0, ctx.dim(dim - size))
            line = tf.range(ctx.dim(dim), dtype=tf.int32)
            inside = tf.logical_and(line >= begin, line < begin + ctx.dim(size))
        paddings.append([begin, ctx.dim(dim - size) - begin])
        axis_shape = [1] * rank
        axis_shape[axis] = -1
        inside = (
            inside.reshape(axis_shape) if isinstance(inside, np.ndarray) else tf.reshape(inside, axis_shape)
        )
        if mask is None:
            mask = inside
        elif isinstance(mask, np.ndarray) and isinstance(inside, np.ndarray):
            mask = mask & inside
        else:
            mask = tf.logical_and(mask, inside)
    if mask is None:  # the update is the whole operand
        return update
    padded = tf.pad(update, paddings)
    return tf.where(mask, padded, operand)


def fixed_slice(operand_shape, starts, sizes):
    """(begins, ends, end_mask) of one StridedSlice when every start is a constant (`x[:, 0]` on a
    dynamic batch): no Shape/Pack/clamp ops. JAX clamps each start into [0, dim - size]; an axis taken
    whole starts at 0 and uses the end mask; a start <= 0 on a symbolic axis clamps to 0. None when a
    start is traced, or positive on a symbolic axis (its clamp depends on the dim)."""
    if any(s is None for s in starts):
        return None
    begins, ends, end_mask = [], [], 0
    for axis, (dim, start, size) in enumerate(zip(operand_shape, starts, sizes, strict=True)):
        if same_dim(dim, size) and not is_static(size):  # a static one gets its end (a 1 can shrink)
            begins.append(0)
            ends.append(0)
            end_mask |= 1 << axis
        elif is_static(dim) and is_static(size):
            begin = min(max(int(start), 0), int(dim) - int(size))
            begins.append(begin)
            ends.append(begin + int(size))
        elif int(start) <= 0 and is_static(size):  # clamped to 0 whatever the symbolic dim (BERT's x[:, 0])
            begins.append(0)
            ends.append(int(size))
        else:
            return None
    return begins, ends, end_mask


@rule(
    "rev",
    tf_ops=("ReverseV2",),
    cases=[
        Case("rev", lambda x: jnp.flip(x, axis=(1, 2)), [Arg((B, 3, 4))]),
        Case("rev_batch_axis_int", lambda x: lax.rev(x, (0,)), [Arg((B, 3), "int32", "int")]),
        Case("rev_reversed_slice", lambda x: x[:, ::-1, ::-2], [Arg((B, 3, 5))]),
    ],
)
def lower_rev(ctx, eqn, x):
    return tf.reverse(x, axis=list(eqn.params["dimensions"]))


@rule(
    "iota",
    tf_ops=("Range", "Cast", "Reshape", "BroadcastTo", "Shape", "StridedSlice", "Pack"),
    limits="a symbolic length (the batch, a sequence) is read from the input with Shape",
    cases=[
        Case("iota", lambda x: x + jnp.arange(4, dtype=jnp.float32), [Arg((B, 4))]),
        Case(
            "iota_2d",
            lambda x: x + lax.broadcasted_iota(jnp.float32, (3, 4), 1),
            [Arg((3, 4))],
            batched=False,
        ),
        Case(
            "iota_batch_long", lambda x: x + jnp.arange(x.shape[0], dtype=jnp.float32)[:, None], [Arg((B, 4))]
        ),
        Case(
            "iota_batch_2d",
            lambda x: x * lax.broadcasted_iota(jnp.float32, (x.shape[0], 4), 0),
            [Arg((B, 4))],
        ),
    ],
)
def lower_iota(ctx, eqn, *args):
    shape, dimension = eqn.params["shape"], eqn.params["dimension"]
    dtype = ctx.tf_dtype(eqn.params["dtype"])
    line = tf.range(ctx.dim(shape[dimension]), dtype=tf.int32)
    if dtype != tf.int32:
        line = tf.cast(line, dtype)
    if len(shape) == 1:
        return line
    expanded = [1] * len(shape)
    expanded[dimension] = shape[dimension]
    return tf.broadcast_to(tf.reshape(line, ctx.shape(expanded)), ctx.shape(shape))


@rule(
    "split",
    tf_ops=("SplitV",),
    cases=[Case("split", lambda x: jnp.split(x, [1, 3], axis=1)[1] * 2.0, [Arg((B, 5))])],
)
def lower_split(ctx, eqn, x):
    return tf.split(x, list(eqn.params["sizes"]), axis=eqn.params["axis"])


@rule(
    "dim_as_value",
    tf_ops=("Shape", "StridedSlice"),
    limits="a symbolic dim (the batch) used as a value, e.g. `x.shape[0]` in arithmetic",
    cases=[Case("dim_as_value", lambda x: x * (x.shape[0] * 1.0), [Arg((B, 4))])],
)
def lower_dim_as_value(ctx, eqn):
    value = ctx.dim(eqn.params["dim"])
    return tf.cast(value, ctx.tf_dtype(eqn.outvars[0].aval.dtype))
