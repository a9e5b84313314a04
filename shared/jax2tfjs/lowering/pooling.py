"""reduce_window_sum / _max / _min: pooling ops where they fit, strided slices everywhere else.

The fast paths: float windows over the spatial axes of an N...C input (1-D runs as 2-D, 3-D sums as
AvgPool3D; 3-D max/min windows take the slices, see below), no dilation, no cropping. Average pooling in JAX is reduce_window_sum then div
by the window size: the sum is deferred with a `window_sum` hint so that the div emits one AvgPool;
any other use gets AvgPool × size. With padding, JAX divides by the full window (zeros count), TF's
AvgPool 'SAME' by the valid count, so padded sums pad explicitly with zeros and pool 'VALID'. Max
pooling pads with -inf; min pooling is -MaxPool(-x). Every other window (over the batch or channel
axis, dilated, cropped, integer: wasm has no int32 MaxPool) goes through window_slices, which is
exact on every backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from flax import linen as nn
from jax import lax

from jax2tfjs.lowering import low_rank_pad
from jax2tfjs.lowering.context import Hints, LoweringContext, WindowSum, is_static
from jax2tfjs.lowering.conv import padding_mode
from jax2tfjs.lowering.reduction_bodies import MONOIDS, Monoid
from jax2tfjs.lowering.registry import Arg, Case, rule
from jax2tfjs.lowering.window_slices import Window, reduce_window_by_slices

B = 2
X = Arg((B, 8, 8, 3))
X3D = Arg((B, 6, 6, 6, 2))
# Window slices: StridedSlice, Pad for padding and holes, ExpandDims/Reshape for holes and strides
# over integers; a window over the dynamic batch evaluates its count with Shape, FloorDiv, Mul, AddV2, Pack.
SLICE_OPS = ("StridedSlice", "Pad", "ExpandDims", "Reshape")
BATCH_WINDOW_OPS = ("Shape", "Pack", "Mul", "AddV2", "FloorDiv")


def _spatial_window(window: Window, in_shape: Sequence[Any]):
    """(window, strides, pads, sizes) over axes 1..rank-2 when a pooling op computes `window`."""
    rank = len(window.dimensions)
    if rank not in (3, 4, 5) or window.dilated:
        return None
    ends = (0, rank - 1)
    if any(window.dimensions[a] != 1 or window.strides[a] != 1 or window.padding[a] != (0, 0) for a in ends):
        return None
    pads = list(window.padding[1:-1])
    sizes = list(in_shape[1:-1])
    if any(lo < 0 or hi < 0 for lo, hi in pads) or not all(is_static(n) for n in sizes):
        return None
    return list(window.dimensions[1:-1]), list(window.strides[1:-1]), pads, [int(n) for n in sizes]


def _as_pool_rank(x, spatial):
    """1-D windows run as 2-D with a unit height; (window, strides, pads, sizes) grow to match."""
    window, strides, pads, sizes = spatial
    if len(window) == 1:
        return tf.expand_dims(x, 1), ([1, *window], [1, *strides], [(0, 0), *pads], [1, *sizes])
    return x, spatial


def _from_pool_rank(y, rank):
    return tf.squeeze(y, 1) if rank == 3 else y


def _max_pool(x, spatial, rank):
    x, (window, strides, pads, sizes) = _as_pool_rank(x, spatial)
    mode = padding_mode(pads, sizes, window, strides, [1] * len(window))
    if mode is None:
        x = low_rank_pad.pad(x, [[0, 0], *map(list, pads), [0, 0]], constant_values=-np.inf)
        mode = "VALID"
    return _from_pool_rank(tf.nn.max_pool2d(x, window, strides, mode), rank)


def _average_pool(x, spatial, rank):
    """AvgPool over the zero-padded input: the window sum / the full window size, as JAX divides."""
    x, (window, strides, pads, _) = _as_pool_rank(x, spatial)
    if any(lo or hi for lo, hi in pads):
        x = low_rank_pad.pad(x, [[0, 0], *map(list, pads), [0, 0]])
    pool = tf.nn.avg_pool3d if len(window) == 3 else tf.nn.avg_pool2d
    return _from_pool_rank(pool(x, window, strides, "VALID"), rank)


def reduce_window_with(
    ctx: LoweringContext,
    x: tf.Tensor,
    in_shape: Sequence[Any],
    out_shape: Sequence[Any],
    window: Window,
    monoid: Monoid,
) -> Any:
    """`monoid` over every window of `x`, holes and padding skipped (XLA's semantics with an identity
    init): a pooling op where one computes it, else strided slices. A sum may come back Deferred
    (with its AvgPool hint for a following div)."""
    rank = len(window.dimensions)
    spatial = _spatial_window(window, in_shape) if x.dtype.is_floating else None
    # TF.js wasm's MaxPool3D gives wrong maxima for some shapes (measured, tfjs 4.22, vs cpu: input
    # [1, 4, 4, 4, 1], window [1, 2, 2], stride 1, VALID: max |Δ| 0.36; also [2, 1, 1], [1, 1, 2] and
    # even [1, 1, 1] windows, while [2, 2, 2] is right): 3-D max and min windows use slices.
    max_pool = spatial if rank < 5 else None
    if max_pool is not None and monoid.name == "max":
        return _max_pool(x, spatial, rank)
    if max_pool is not None and monoid.name == "min":
        return -_max_pool(-x, spatial, rank)
    if spatial is not None and monoid.name == "add":
        count = float(math.prod(spatial[0]))
        average = lambda: _average_pool(x, spatial, rank)  # noqa: E731
        return ctx.defer(lambda: average() * count, Hints(window_sum=WindowSum(average, count)))
    if monoid.name == "xor" and x.dtype != tf.bool:
        raise NotImplementedError(
            "an integer xor over windows has no exact TF.js form (TF.js has no BitwiseXor)"
        )
    return reduce_window_by_slices(ctx, x, in_shape, out_shape, window, monoid)


def _lower_with(monoid_name: str):
    def lower(ctx, eqn, x):
        return reduce_window_with(
            ctx,
            x,
            eqn.invars[0].aval.shape,
            eqn.outvars[0].aval.shape,
            Window.of(eqn.params),
            MONOIDS[monoid_name],
        )

    return lower


def _window(x, init, op, dims, strides, padding, base=None, dilation=None):
    return lax.reduce_window(x, init, op, dims, strides, padding, base, dilation)


SUM_CASES = [
    Case("avg_pool", lambda x: nn.avg_pool(x, (2, 2), strides=(2, 2)), [X]),
    Case("avg_pool_same", lambda x: nn.avg_pool(x, (3, 3), strides=(2, 2), padding="SAME"), [X]),
    Case("window_sum", lambda x: _window(x, 0.0, lax.add, (1, 2, 2, 1), (1, 1, 1, 1), "VALID"), [X]),
    Case("avg_pool_1d", lambda x: nn.avg_pool(x, (2,), strides=(2,)), [Arg((B, 8, 3))]),
    Case("avg_pool_3d", lambda x: nn.avg_pool(x, (2, 2, 2), strides=(2, 2, 2), padding="SAME"), [X3D]),
    Case(  # over the channel axis (a local response sum): slices, not AvgPool
        "sum_over_channels",
        lambda x: _window(x, 0.0, lax.add, (1, 1, 1, 3), (1, 1, 1, 1), ((0, 0), (0, 0), (0, 0), (1, 1))),
        [X],
    ),
    Case(  # over the dynamic batch axis, with a stride, and padding past the input on one side
        "sum_over_batch",
        lambda x: _window(x, 0.0, lax.add, (2, 1, 2), (2, 1, 1), ((0, 1), (0, 0), (1, 0))),
        [Arg((3, 4, 5))],
    ),
    Case(
        "sum_int",
        lambda x: _window(x, 0, lax.add, (1, 3, 2), (1, 2, 1), ((0, 0), (1, 1), (0, 0))),
        [Arg((B, 7, 3), "int32", "int")],
    ),
    Case(  # base dilation (holes between elements) and window dilation, on different axes
        "sum_dilated",
        lambda x: _window(x, 0.0, lax.add, (1, 2, 2), (1, 1, 2), "VALID", (1, 2, 1), (1, 1, 2)),
        [Arg((B, 5, 7))],
    ),
    Case(  # windows wholly in padding are empty: their sum is the init, 0
        "sum_empty_windows",
        lambda x: _window(x, 0.0, lax.add, (1, 2), (1, 2), ((0, 0), (4, 3))),
        [Arg((B, 3))],
    ),
    Case(  # negative padding crops before the windows
        "sum_cropped",
        lambda x: _window(x, 0.0, lax.add, (1, 2), (1, 1), ((0, 0), (-1, -2))),
        [Arg((B, 7))],
    ),
]


rule(
    "reduce_window_sum",
    tf_ops=("AvgPool", "AvgPool3D", "Squeeze", *SLICE_OPS, *BATCH_WINDOW_OPS),
    limits=(
        "any window; float windows over the spatial axes of N...C inputs (1-, 2-, 3-D, no dilation) are "
        "AvgPool/AvgPool3D (followed by div by the window size: one AvgPool), every other window a sum "
        "of strided slices (exact, integers too)"
    ),
    cases=SUM_CASES,
)(_lower_with("add"))


MAX_CASES = [
    Case("max_pool", lambda x: nn.max_pool(x, (2, 2), strides=(2, 2)), [X]),
    Case("max_pool_same", lambda x: nn.max_pool(x, (3, 3), strides=(2, 2), padding="SAME"), [X]),
    Case(
        "max_pool_explicit",
        lambda x: nn.max_pool(x, (2, 2), strides=(1, 1), padding=((1, 0), (0, 1))),
        [X],
    ),
    Case("max_pool_1d", lambda x: nn.max_pool(x, (3,), strides=(2,), padding="SAME"), [Arg((B, 9, 3))]),
    Case("max_pool_3d", lambda x: nn.max_pool(x, (3, 3, 2), strides=(2, 1, 2), padding="SAME"), [X3D]),
    Case(  # a window shape wasm's MaxPool3D gets wrong, with explicit pads
        "max_pool_3d_explicit",
        lambda x: nn.max_pool(x, (1, 2, 2), strides=(1, 2, 1), padding=((1, 0), (0, 2), (1, 1))),
        [Arg((B, 4, 4, 4, 1))],
    ),
    Case(  # wasm has no int32 MaxPool: slices
        "max_int",
        lambda x: _window(x, -(2**31), lax.max, (1, 2, 2, 1), (1, 2, 1, 1), ((0, 0), (0, 1), (1, 0), (0, 0))),
        [Arg((B, 5, 4, 2), "int32", "int", high=100)],
    ),
    Case(  # padded windows are skipped, a window wholly in padding gives the init, -inf
        "max_empty_windows",
        lambda x: _window(x, -np.inf, lax.max, (1, 2), (1, 3), ((0, 0), (3, 4))),
        [Arg((B, 4))],
    ),
    Case(
        "max_dilated_over_batch",
        lambda x: _window(x, -np.inf, lax.max, (2, 3), (1, 1), ((1, 0), (2, 2)), (1, 2), (1, 2)),
        [Arg((3, 4))],
    ),
    Case(  # a window of 1 everywhere with a stride: a strided slice
        "max_window_of_one_strided",
        lambda x: _window(x, -np.inf, lax.max, (1, 1, 1), (1, 2, 3), "VALID"),
        [Arg((B, 5, 7))],
    ),
]


rule(
    "reduce_window_max",
    tf_ops=("MaxPool", "PadV2", "Squeeze", "Maximum", "Shape", "Pack", "AddV2", *SLICE_OPS),
    limits=(
        "any window; float windows over the spatial axes of N...C inputs (1-, 2-D, no dilation) are "
        "MaxPool, every other window (3-D: wasm's MaxPool3D is wrong for some shapes; integers: wasm has no "
        "int32 MaxPool) a max of strided slices"
    ),
    cases=MAX_CASES,
)(_lower_with("max"))


rule(
    "reduce_window_min",
    # Maximum and Sub: an int32 min with padding runs as -1 - max(-1 - x) (see window_slices)
    tf_ops=("MaxPool", "Neg", "PadV2", "Squeeze", "Minimum", "Maximum", "Sub", *SLICE_OPS),
    limits=(
        "any window; float windows over the spatial axes of N...C inputs (1-, 2-D) are -MaxPool(-x), every other "
        "window a min of strided slices"
    ),
    cases=[
        Case("min_pool", lambda x: _window(x, np.inf, lax.min, (1, 3, 3, 1), (1, 2, 2, 1), "SAME"), [X]),
        Case(
            "min_pool_1d",
            lambda x: _window(x, np.inf, lax.min, (1, 2, 1), (1, 1, 1), "VALID"),
            [Arg((B, 6, 2))],
        ),
        Case(
            "min_pool_3d",
            lambda x: _window(x, np.inf, lax.min, (1, 2, 2, 2, 1), (1, 2, 2, 2, 1), "VALID"),
            [X3D],
        ),
        Case(
            "min_int_over_channels",
            lambda x: _window(x, 2**31 - 1, lax.min, (1, 2, 2), (1, 2, 1), ((0, 0), (1, 1), (0, 1))),
            [Arg((B, 4, 3), "int32", "int", high=50)],
        ),
        Case(
            "min_empty_windows_dilated",
            lambda x: _window(x, np.inf, lax.min, (1, 2), (1, 2), ((0, 0), (5, 5)), (1, 2), (1, 3)),
            [Arg((B, 3))],
        ),
    ],
)(_lower_with("min"))
