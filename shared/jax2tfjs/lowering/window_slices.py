"""Any window reduction as strided slices: exact, on every TF.js backend, for any rank and any axes.

XLA's reduce_window skips padding and base-dilation holes (they contribute the op's identity) and
combines the init value once per window: measured on jax 0.10.2's CPU backend, a window sum with
init 5 gives 5 + the real elements, and a window wholly in padding gives 5. So holes and padding
are filled with the monoid's identity here, and callers combine a non-identity init afterwards.

A box window is separable: reducing it axis by axis (window k on axis k) gives the same elements,
so an axis with window w costs w strided slices and w - 1 combines (3x3 max: 6 slices, 4 Maximum),
not w1 * w2. Axes with symbolic sizes (the batch) work: their bounds come from `ctx.dim`. Past
rank 4 each axis is reduced in a rank-3 view and pads are rank-3 (low_rank_pad): TF.js webgl cannot
compile strided slices or pads of rank 5. Integer and boolean windows slice at stride 1 and
subsample by a reshape: TF.js wasm's strided StridedSlice corrupts them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from jax2tfjs.lowering import low_rank_pad
from jax2tfjs.lowering.context import LoweringContext, is_static, reshape_target
from jax2tfjs.lowering.reduction_bodies import MONOIDS, Monoid


@dataclass(frozen=True)
class Window:
    """reduce_window's parameters, one entry per axis of the operand."""

    dimensions: tuple[int, ...]
    strides: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    base_dilation: tuple[int, ...]
    window_dilation: tuple[int, ...]

    @classmethod
    def of(cls, params: dict[str, Any]) -> Window:
        return cls(
            tuple(params["window_dimensions"]),
            tuple(params["window_strides"]),
            tuple(tuple(p) for p in params["padding"]),
            tuple(params["base_dilation"]),
            tuple(params["window_dilation"]),
        )

    @property
    def dilated(self) -> bool:
        return any(d != 1 for d in (*self.base_dilation, *self.window_dilation))


def _slice_axis(ctx: LoweringContext, x: tf.Tensor, axis: int, begin: Any, end: Any, stride: int = 1):
    """x[..., begin:end:stride, ...] on `axis`, every other axis whole (no Shape ops for them)."""
    rank = x.shape.rank
    begins, ends, strides = [0] * rank, [0] * rank, [1] * rank
    begins[axis], ends[axis], strides[axis] = ctx.dim(begin), ctx.dim(end), stride
    mask = sum(1 << i for i in range(rank) if i != axis)
    return tf.strided_slice(x, begins, ends, strides, begin_mask=mask, end_mask=mask)


def _interleave(ctx, x, shape, axis, factor, fill):
    """Insert factor - 1 `fill` values between neighbours on `axis` (base dilation)."""
    x = tf.expand_dims(x, axis + 1)
    paddings = [[0, 0]] * (len(shape) + 1)
    paddings[axis + 1] = [0, factor - 1]
    x = low_rank_pad.pad(x, paddings, constant_values=fill)
    merged = [*shape[:axis], shape[axis] * factor, *shape[axis + 1 :]]
    x = tf.reshape(x, reshape_target(ctx, merged))
    # n elements and n * (factor - 1) fills: the trailing factor - 1 are not part of the dilation.
    size = (shape[axis] - 1) * factor + 1
    return _slice_axis(ctx, x, axis, 0, size), [*shape[:axis], size, *shape[axis + 1 :]]


def _pad(ctx, x, shape, pads, fill):
    """Pad (positive) and crop (negative) every axis, filling with `fill`."""
    positive = [[max(lo, 0), max(hi, 0)] for lo, hi in pads]
    if any(lo or hi for lo, hi in positive):
        x = low_rank_pad.pad(x, positive, constant_values=fill)
    shape = [n + lo + hi for n, (lo, hi) in zip(shape, positive, strict=True)]
    for axis, (lo, hi) in enumerate(pads):
        if lo < 0 or hi < 0:
            begin, end = max(-lo, 0), shape[axis] - max(-hi, 0)
            x = _slice_axis(ctx, x, axis, begin, end)
            shape[axis] = end - begin
    return x, shape


def _subsample(ctx, x, shape, axis, stride, count):
    """Every `stride`-th element on `axis` (length `shape[axis]` = (count - 1) * stride + 1) without a
    strided StridedSlice: pad to count * stride, split the axis into (count, stride), keep index 0."""
    x = low_rank_pad.pad(x, [[0, stride - 1] if a == axis else [0, 0] for a in range(len(shape))])
    x = tf.reshape(x, reshape_target(ctx, [*shape[:axis], count, stride, *shape[axis + 1 :]]))
    rank = len(shape) + 1
    begins, ends = [0] * rank, [0] * rank
    ends[axis + 1] = 1
    mask = sum(1 << i for i in range(rank) if i != axis + 1)
    return tf.strided_slice(
        x, begins, ends, [1] * rank, begin_mask=mask, end_mask=mask, shrink_axis_mask=1 << (axis + 1)
    )


def reduce_window_by_slices(
    ctx: LoweringContext,
    x: tf.Tensor,
    in_shape: Sequence[Any],
    out_shape: Sequence[Any],
    window: Window,
    monoid: Monoid,
) -> tf.Tensor:
    """`monoid` over every window of `x` (shape `in_shape`, JAX dims), as XLA's reduce_window with the
    monoid's identity as init. `out_shape`: the equation's output shape (JAX computed it)."""
    fills = any(f > 1 for f in window.base_dilation) or any(lo > 0 or hi > 0 for lo, hi in window.padding)
    if monoid.name == "min" and x.dtype == tf.int32 and fills:
        # TF.js wasm's PadV2 passes the pad value through float32: int32's max (min's identity)
        # becomes int32's min. -1 - x reverses the order exactly, so min is -1 - max(-1 - x), and
        # max pads with int32's min, which float32 holds exactly.
        flipped = reduce_window_by_slices(ctx, -1 - x, in_shape, out_shape, window, MONOIDS["max"])
        return -1 - flipped
    fill = monoid.identity_value(x.dtype)
    shape = list(in_shape)
    for axis, factor in enumerate(window.base_dilation):
        if factor > 1:
            x, shape = _interleave(ctx, x, shape, axis, factor, fill)
    x, shape = _pad(ctx, x, shape, window.padding, fill)
    for axis, (size, stride, dilation) in enumerate(
        zip(window.dimensions, window.strides, window.window_dilation, strict=True)
    ):
        if size == 1 and stride == 1:
            continue  # every element is its own window on this axis
        view = _rank_three_view(shape, axis)
        if view is None:
            x = _reduce_axis(ctx, x, shape, axis, size, stride, dilation, out_shape[axis], monoid)
        else:
            # TF.js webgl fails to compile strided slices of rank 5 ("Failed to compile fragment
            # shader.", measured in headless Chromium, tfjs 4.22): reduce in a rank-3 view.
            view_shape, view_axis = view
            x = tf.reshape(x, reshape_target(ctx, view_shape))
            x = _reduce_axis(ctx, x, view_shape, view_axis, size, stride, dilation, out_shape[axis], monoid)
        shape[axis] = out_shape[axis]
        if view is not None:
            x = tf.reshape(x, reshape_target(ctx, shape))
    return x


def _rank_three_view(shape, axis):
    """([lead, n_axis, tail] or [n_0, tail], the axis in it) for a tensor of rank > 4 whose dims past
    the first are static; None when no view is needed (rank <= 4) or possible."""
    if len(shape) <= 4 or not all(is_static(d) for d in shape[1:]):
        return None
    if axis == 0:
        return [shape[0], math.prod(int(d) for d in shape[1:])], 0
    lead = shape[0] * math.prod(int(d) for d in shape[1:axis])
    return [lead, int(shape[axis]), math.prod(int(d) for d in shape[axis + 1 :])], 1


def _reduce_axis(ctx, x, shape, axis, size, stride, dilation, count, monoid):
    """`monoid` over windows of `size` (dilated, strided) on `axis` of `x` (shape `shape`)."""
    # TF.js wasm's StridedSlice with a stride > 1 returns int32 and bool tensors as float32 garbage
    # (measured, tfjs 4.22): those windows are reduced at stride 1, then subsampled by a reshape.
    step = stride if x.dtype.is_floating else 1
    # The windows' first elements span (count - 1) * stride + 1 positions. A static count of 0
    # (every window past the end) must not give a negative end: TF would read it from the back.
    span = max((count - 1) * stride + 1, 0) if is_static(count) else count * stride - stride + 1
    parts = [_slice_axis(ctx, x, axis, j * dilation, j * dilation + span, step) for j in range(size)]
    x = functools.reduce(monoid.combine, parts)
    if step != stride and not (is_static(count) and count == 0):
        x = _subsample(ctx, x, [*shape[:axis], span, *shape[axis + 1 :]], axis, stride, count)
    return x
