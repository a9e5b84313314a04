"""gather → GatherV2 for row lookups (embeddings, `x[idx]`, `jnp.take(x, idx, axis=0)`), Slice for
one slice, GatherNd for everything else (index_windows.py builds its index tuples).

JAX normalises negative indices with lt/add/select_n before the gather. PROMISE_IN_BOUNDS and
CLIP map to GatherV2 after a clip (none for constant indices already in range); FILL_OR_DROP also zeroes (or fills) rows whose index is out
of range, as JAX does, since TF would raise and TF.js would read garbage.

A gather with one start index and no index batch dims is a dynamic slice over any number of axes:
slicing a constant with a symbolic size, as HF FlaxGPT2's causal mask `mask[:, :, :seq, :seq]`
does under a symbolic sequence length, traces to one (start_index_map=(2, 3), slice sizes
(1, 1, seq, seq)). It becomes Slice with the starts clamped so the slice fits, as XLA clamps.
Measured: GPT-2 traces with a symbolic `seq` only when bounded (dim_constraints=["seq <= 64"], its
n_positions); unbounded, JAX writes min(64, seq) and GPT-2's own broadcast of the mask fails.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.context import constant_value, is_static, materialize, reshape_target, transpose
from jax2tfjs.lowering.index_windows import WindowLayout, flag_for, output_perm
from jax2tfjs.lowering.interpreter import raw_inputs
from jax2tfjs.lowering.registry import Arg, Case, rule
from jax2tfjs.lowering.shape import fixed_slice, same_dim

B = 3


def _to_jax_layout(rows, axis, index_dims, offset_dims):
    """tf.gather puts the index dims where `axis` was; JAX puts the operand's remaining dims at
    `offset_dims` and the index dims, in order, at the other output positions (trailing offset
    dims for embeddings, the gathered axis's own place for `x[:, idx]` and nearest resizing)."""
    rank = rows.shape.rank
    perm, kept, index = [], 0, 0
    for position in range(rank):
        if position in offset_dims:  # the kept-th operand dim other than `axis`
            perm.append(kept if kept < axis else kept + index_dims)
            kept += 1
        else:
            perm.append(axis + index)
            index += 1
    return transpose(rows, perm)


@rule(
    "gather",
    tf_ops=(
        "StridedSlice",  # the index column; a constant start on a dynamic batch
        "Squeeze",
        "GatherV2",
        "Maximum",  # clipping the index
        "Minimum",
        "GreaterEqual",  # FILL_OR_DROP's in-range flags
        "Less",
        "LogicalAnd",
        "SelectV2",
        "Transpose",
        "Reshape",
        "Slice",  # one slice: a dynamic slice over several axes
        "Pack",
        "All",
        "LessEqual",
        "Mul",  # a symbolic clamp limit (dim - size): 64 - seq, 3 * b - 1
        "AddV2",
        "Sub",  # b - 1, the last row of a dynamic batch
        "Shape",
        "GatherNd",  # the general gather: index tuples built from starts and iotas
        "Range",
        "ExpandDims",
    ),
    limits=(
        "any dimension numbers and modes: whole-slice lookups along one axis are GatherV2, one slice "
        "(a single start index, sizes symbolic too: `mask[:, :, :seq, :seq]`) is Slice, everything "
        "else (`x[i, j]`, take_along_axis, windows, batching dims) one GatherNd whose index tuples "
        "hold a coordinate per element of each window, except dims taken whole"
    ),
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
        Case(  # a broken promise (ids 7..9 of 7 rows) is clamped, as XLA clamps, not a TF error
            "promise_out_of_range_clamps",
            lambda t, e: jnp.asarray(e).at[t].get(mode="promise_in_bounds"),
            [Arg((B, 5), "int32", "int", high=10), Arg((7, 4), batched=False)],
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
            "gather_middle_axis",
            lambda x: x[:, jnp.array([0, 2, 2, 5, -1])],
            [Arg((B, 6, 3))],
        ),
        Case(
            "fill_middle_axis",
            lambda x, i: jnp.take(x, i, axis=1, mode="fill", fill_value=-1.0),
            [Arg((B, 7, 3)), Arg((2, 5), "int32", "int", high=10, batched=False)],
        ),
        Case(
            "resize_nearest",
            lambda x: jax.image.resize(x, (x.shape[0], 8, 6, 3), "nearest"),
            [Arg((B, 4, 4, 3))],
        ),
        Case(
            "clip_out_of_range",
            lambda t, e: jnp.take(e, t, axis=0, mode="clip"),
            [Arg((B, 5), "int32", "int", high=10), Arg((7, 4), batched=False)],
        ),
        Case(  # slices of symbolic size on two axes, as GPT-2 slices its causal mask to `seq`
            "slice_two_axes_to_batch",
            lambda x: _tile_square(x)[:, 1 : x.shape[0] + 2, 2 : x.shape[0] + 2],
            [Arg((B, 4))],
        ),
        Case(  # a constant start on a dynamic batch (`h[:, 0]`): StridedSlice + Squeeze, no Pack
            "constant_column",
            lambda x: x[:, 0] * 2.0 + x[:, -1],
            [Arg((B, 3))],
        ),
        Case(  # BERT's pooler `h[:, 0]` on (b, seq, d), seq symbolic: the first row needs no clamp
            "first_row_symbolic_axis",
            lambda x: lax.gather(
                _tile_square(x),
                jnp.zeros((1,), jnp.int32),
                lax.GatherDimensionNumbers(
                    offset_dims=(0, 1), collapsed_slice_dims=(1,), start_index_map=(1,)
                ),
                slice_sizes=(x.shape[0], 1, x.shape[0] * x.shape[1]),
                mode="fill",
            ),
            [Arg((B, 2))],
        ),
        Case(
            "one_slice_two_axes_clamped",
            lambda x, i: _one_slice(x, i, mode="clip"),
            [Arg((B, 5, 6)), Arg((2,), "int32", "int", high=9, batched=False)],
        ),
        Case(
            "one_slice_fill",
            lambda x, i: _one_slice(x, i - 1, mode="fill", fill_value=-2.0),
            [Arg((B, 5, 6)), Arg((2,), "int32", "int", high=6, batched=False)],
        ),
        Case(  # `x[i, j]`: one element per pair of indices, GatherNd with (b, 2) tuples
            "two_axes_pointwise",
            lambda i, j, x: x[i[:, 0], j[:, 0] - 2],
            [
                Arg((B, 1), "int32", "int", high=7),
                Arg((B, 1), "int32", "int", high=5),
                Arg((7, 5), batched=False),
            ],
        ),
        Case(  # an index and a window on a dynamic batch: the batch stays a trailing GatherNd slice
            "index_and_window_on_dynamic_batch",
            lambda x, i: x[:, i, 1:3],
            [Arg((B, 5, 4)), Arg((3,), "int32", "int", high=5, batched=False)],
        ),
        Case(  # operand_batching_dims (0, 2): the batch's own position joins each index tuple
            "take_along_axis",
            lambda x, i: jnp.take_along_axis(x, i, axis=1),
            [Arg((B, 5, 3)), Arg((B, 2, 3), "int32", "int", high=5)],
        ),
        Case(  # out-of-range indices (5..7) fill with NaN, JAX's default for take_along_axis
            "take_along_axis_fill",
            lambda x, i: jnp.nan_to_num(jnp.take_along_axis(x, i - 2, axis=-1), nan=-7.0),
            [Arg((B, 5)), Arg((B, 4), "int32", "int", high=10)],
        ),
        Case(  # rows of the dynamic batch itself, clamped to b - 1
            "rows_of_dynamic_batch",
            lambda x, i: jnp.take(x, i, axis=0, mode="clip"),
            [Arg((B, 4)), Arg((5,), "int32", "int", high=6, batched=False)],
        ),
        Case(  # one-row windows along the dynamic batch itself: the start bound is b - 1
            "window_on_batch_axis",
            lambda x, i: lax.gather(
                x,
                i,
                lax.GatherDimensionNumbers(offset_dims=(1, 2), collapsed_slice_dims=(), start_index_map=(0,)),
                slice_sizes=(1, 3),
                mode="fill",
                fill_value=9.0,
            ),
            [Arg((B, 4)), Arg((4, 1), "int32", "int", high=4, batched=False)],
        ),
        Case(  # windows of 2 with starts past the end: filled whole, as JAX does
            "window_fill",
            lambda x, i: _windows(x, i, mode="fill", fill_value=-3.0),
            [Arg((6, 4), batched=False), Arg((B, 1), "int32", "int", high=8)],
        ),
        Case(
            "window_clip",
            lambda x, i: _windows(x, i - 1, mode="clip"),
            [Arg((6, 4), batched=False), Arg((B, 1), "int32", "int", high=8)],
        ),
        Case(
            "window_int",
            lambda x, i: _windows(x, i, mode="clip"),
            [Arg((6, 4), "int32", "int", batched=False), Arg((B, 1), "int32", "int", high=6)],
        ),
    ],
)
@raw_inputs
def lower_gather(ctx, eqn, operand, indices):
    dn, slice_sizes = eqn.params["dimension_numbers"], eqn.params["slice_sizes"]
    operand_shape = eqn.invars[0].aval.shape
    known = constant_value(indices)
    operand, indices = materialize(operand), materialize(indices)
    if len(eqn.invars[1].aval.shape) == 1 and not dn.operand_batching_dims:
        return _one_slice_gather(ctx, eqn, operand, indices, known)
    if not _is_row_lookup(dn, slice_sizes, operand_shape):
        return _general_gather(ctx, eqn, operand, indices)
    (axis,) = dn.start_index_map
    index_dims = len(eqn.invars[1].aval.shape) - 1
    offset_dims = tuple(dn.offset_dims)
    index = tf.cast(indices[..., 0], tf.int32)
    size = ctx.dim(operand_shape[axis])  # a tensor when the axis is the dynamic batch
    mode = eqn.params["mode"]
    in_range = (
        known is not None and isinstance(size, int) and known.size and 0 <= known.min() <= known.max() < size
    )
    if mode == lax.GatherScatterMode.PROMISE_IN_BOUNDS and in_range:
        return _to_jax_layout(tf.gather(operand, index, axis=axis), axis, index_dims, offset_dims)
    # A promise is not checked: XLA clamps, TF raises and TF.js reads garbage, and a lookup in the
    # branch of a cond that JAX does not take still runs here (cond selects between both branches).
    rows = _to_jax_layout(
        tf.gather(operand, tf.clip_by_value(index, 0, size - 1), axis=axis), axis, index_dims, offset_dims
    )
    if mode == lax.GatherScatterMode.FILL_OR_DROP:
        # One flag per index, placed at the index dims' output positions, size 1 elsewhere.
        valid = tf.logical_and(index >= 0, index < size)
        valid = tf.reshape(valid, _flag_shape(ctx, eqn, offset_dims))
        fill = eqn.params["fill_value"]
        if fill is None:  # JAX's defaults: NaN (floats), most negative (signed), largest (unsigned), True
            fill = _default_fill(operand.dtype)
        rows = tf.where(valid, rows, tf.constant(fill, operand.dtype))
    return rows


def _tile_square(x):
    """(b, n) → (b, n*b, n*b): axes JAX can prove at least b + 2 long, so slicing them to b + 2 (a
    symbolic limit, hence a gather) keeps sizes like b + 1; a constant axis would give min(6, b),
    which ctx.dim cannot evaluate in TF yet (LoweringContext.dim has no min/max)."""
    return jnp.tile(x[:, :, None] * x[:, None, :], (1, x.shape[0], x.shape[0]))


def _windows(x, starts, **mode):
    """x[s:s + 2, :3] for each start s (rows of windows, index dims first): a general gather."""
    dn = lax.GatherDimensionNumbers(offset_dims=(1, 2), collapsed_slice_dims=(), start_index_map=(0,))
    return lax.gather(x, starts, dn, slice_sizes=(2, 3), **mode)


def _one_slice(x, start, **mode):
    """x[:, start[0]:start[0] + 2, start[1]:start[1] + 3] written as a one-slice gather (for this,
    jnp emits dynamic_slice; only symbolic sizes make it a gather)."""
    dn = lax.GatherDimensionNumbers(offset_dims=(0, 1, 2), collapsed_slice_dims=(), start_index_map=(1, 2))
    return lax.gather(x, start, dn, slice_sizes=(x.shape[0], 2, 3), **mode)


def _one_slice_gather(ctx, eqn, operand, indices, known):
    """indices (k,) hold one start per axis of start_index_map: Slice, then drop collapsed axes."""
    dn, sizes = eqn.params["dimension_numbers"], eqn.params["slice_sizes"]
    operand_shape = eqn.invars[0].aval.shape
    fixed = _constant_slice(eqn, known)
    if fixed is not None:  # `h[:, 0]` on a dynamic batch: one StridedSlice and a Squeeze
        begins, ends, end_mask = fixed
        out = tf.strided_slice(operand, begins, ends, [1] * len(begins), end_mask=end_mask)
        return tf.squeeze(out, list(dn.collapsed_slice_dims)) if dn.collapsed_slice_dims else out
    starts = tf.cast(indices, tf.int32)
    # JAX clamps a start so the slice fits (XLA's gather semantics); FILL_OR_DROP instead fills the
    # whole slice when any start is outside [0, dim - size].
    upper = ctx.shape([operand_shape[a] - sizes[a] for a in dn.start_index_map])
    clamped = tf.clip_by_value(starts, 0, upper)
    position = {axis: i for i, axis in enumerate(dn.start_index_map)}
    begin = tf.stack([clamped[position[a]] if a in position else 0 for a in range(len(operand_shape))])
    out = tf.slice(operand, begin, ctx.shape(sizes))
    if dn.collapsed_slice_dims:
        out = tf.reshape(out, reshape_target(ctx, eqn.outvars[0].aval.shape))
    if eqn.params["mode"] == lax.GatherScatterMode.FILL_OR_DROP:
        valid = tf.reduce_all(tf.logical_and(starts >= 0, starts <= upper))
        fill = eqn.params["fill_value"]
        fill = _default_fill(operand.dtype) if fill is None else fill
        out = tf.where(valid, out, tf.constant(fill, operand.dtype))
    return out


def _constant_slice(eqn, value):
    """fixed_slice's (begins, ends, end_mask) when the starts are constants (`value`) and, in
    FILL_OR_DROP mode, provably in range (else the fill must be computed); None otherwise."""
    if value is None:
        return None
    dn, sizes = eqn.params["dimension_numbers"], eqn.params["slice_sizes"]
    operand_shape = eqn.invars[0].aval.shape
    position = {axis: i for i, axis in enumerate(dn.start_index_map)}
    starts = [int(value[position[a]]) if a in position else 0 for a in range(len(operand_shape))]
    if eqn.params["mode"] == lax.GatherScatterMode.FILL_OR_DROP:
        for axis, start in enumerate(starts):
            dim, size = operand_shape[axis], sizes[axis]
            # start 0 always fits: shapes are checked, so dim >= size even when dim is symbolic.
            in_range = start == 0 or (is_static(dim) and is_static(size) and 0 <= start <= dim - size)
            if not in_range:
                return None
    return fixed_slice(operand_shape, starts, sizes)


def _default_fill(dtype: tf.DType):
    if dtype.is_floating:
        return float("nan")
    if dtype == tf.bool:
        return True
    return dtype.max if dtype.is_unsigned else dtype.min


def _flag_shape(ctx, eqn, offset_dims):
    """The output shape with every offset dim set to 1 (where the per-index flags broadcast)."""
    out_shape = eqn.outvars[0].aval.shape
    return reshape_target(ctx, [1 if i in offset_dims else d for i, d in enumerate(out_shape)])


def _is_row_lookup(dn, slice_sizes, operand_shape) -> bool:
    """One index picks whole rows along one axis (embeddings, `x[:, idx]`): the GatherV2 path."""
    if len(dn.start_index_map) != 1 or dn.operand_batching_dims:
        return False
    (axis,) = dn.start_index_map
    others_whole = all(
        same_dim(slice_sizes[d], operand_shape[d]) for d in range(len(operand_shape)) if d != axis
    )
    return others_whole and slice_sizes[axis] == 1 and tuple(dn.collapsed_slice_dims) == (axis,)


def gather_layout(eqn) -> WindowLayout:
    dn, sizes = eqn.params["dimension_numbers"], eqn.params["slice_sizes"]
    operand_shape = tuple(eqn.invars[0].aval.shape)
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    return WindowLayout(
        operand_shape=operand_shape,
        index_dims=tuple(eqn.invars[1].aval.shape[:-1]),
        start_map=tuple(dn.start_index_map),
        operand_batching=tuple(dn.operand_batching_dims),
        index_batching=tuple(dn.start_indices_batching_dims),
        window_dims=tuple(d for d in range(len(operand_shape)) if d not in dropped),
        window_sizes=tuple(sizes),
    )


def _general_gather(ctx, eqn, operand, indices):
    """Any gather as one GatherNd: full index tuples (clamped starts + batch positions + window
    iotas) over the dims that need them, the dims taken whole left as trailing slices. Measured
    shapes: `x[i, j]` → tuples (b, 2); take_along_axis on (b, 5, 3) → (b, 2, 3, 3)."""
    layout = gather_layout(eqn)
    starts = tf.cast(indices, tf.int32)
    clamped = layout.clamp(ctx, starts)
    rows = tf.gather_nd(layout.transposed_operand(operand), layout.coordinates(ctx, clamped))
    if eqn.params["mode"] == lax.GatherScatterMode.FILL_OR_DROP and layout.start_map:
        valid = flag_for(layout.in_range(ctx, starts), len(layout.window_dims))
        fill = eqn.params["fill_value"]
        fill = _default_fill(operand.dtype) if fill is None else fill
        rows = tf.where(valid, rows, tf.constant(fill, operand.dtype))
    n_index = len(layout.index_dims)
    perm = output_perm(n_index, layout, eqn.params["dimension_numbers"].offset_dims, rows.shape.rank)
    return transpose(rows, perm)
