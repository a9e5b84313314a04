"""reduce_window_sum / reduce_window_max over NHWC spatial axes → AvgPool / MaxPool.

Average pooling in JAX is reduce_window_sum then div by the window size. The sum is deferred with
a `window_sum` hint so that the div emits one AvgPool; any other use gets AvgPool × size. With
padding, JAX divides by the full window (zeros count), TF's AvgPool 'SAME' by the valid count, so
padded sums pad explicitly with zeros and pool 'VALID'. Max pooling pads with -inf.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from flax import linen as nn
from jax import lax

from jax2tfjs.lowering.context import Hints, WindowSum
from jax2tfjs.lowering.conv import padding_mode
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 2
X = Arg((B, 8, 8, 3))


def _spatial_window(eqn):
    """(window, strides, pads) over axes 1..rank-2 of an N...C input; refuses other windows."""
    p = eqn.params
    window, strides, pads = p["window_dimensions"], p["window_strides"], p["padding"]
    rank = len(window)
    if rank not in (3, 4):
        raise NotImplementedError("pooling windows must cover an NWC or NHWC input")
    if window[0] != 1 or window[-1] != 1 or strides[0] != 1 or strides[-1] != 1:
        raise NotImplementedError("pooling over the batch or channel axis is not supported")
    if any(d != 1 for d in (*p["base_dilation"], *p["window_dilation"])):
        raise NotImplementedError("dilated pooling windows are not supported")
    if pads[0] != (0, 0) or pads[-1] != (0, 0):
        raise NotImplementedError("padding the batch or channel axis is not supported")
    return list(window[1:-1]), list(strides[1:-1]), [tuple(q) for q in pads[1:-1]]


def _as_2d(x, rank):
    return tf.expand_dims(x, 1) if rank == 3 else x


def _from_2d(y, rank):
    return tf.squeeze(y, 1) if rank == 3 else y


@rule(
    "reduce_window_sum",
    tf_ops=("AvgPool", "Pad", "Mul", "ExpandDims", "Squeeze"),
    limits="windows over the spatial axes of NHWC/NWC inputs; followed by div by the window size it is one AvgPool",
    cases=[
        Case("avg_pool", lambda x: nn.avg_pool(x, (2, 2), strides=(2, 2)), [X]),
        Case("avg_pool_same", lambda x: nn.avg_pool(x, (3, 3), strides=(2, 2), padding="SAME"), [X]),
        Case(
            "window_sum",
            lambda x: lax.reduce_window(x, 0.0, lax.add, (1, 2, 2, 1), (1, 1, 1, 1), "VALID"),
            [X],
        ),
        Case("avg_pool_1d", lambda x: nn.avg_pool(x, (2,), strides=(2,)), [Arg((B, 8, 3))]),
    ],
)
def lower_reduce_window_sum(ctx, eqn, x):
    if not x.dtype.is_floating:
        raise NotImplementedError(
            "window sums over integers are not supported (AvgPool is float-only); cast to float32 first"
        )
    window, strides, pads = _spatial_window(eqn)
    rank = len(eqn.params["window_dimensions"])
    count = math.prod(window)
    x2, window, strides = (
        _as_2d(x, rank),
        ([1, *window] if rank == 3 else window),
        ([1, *strides] if rank == 3 else strides),
    )
    pads = [(0, 0), *pads] if rank == 3 else pads
    if any(lo or hi for lo, hi in pads):
        x2 = tf.pad(x2, [[0, 0], *map(list, pads), [0, 0]])

    def average():
        return _from_2d(tf.nn.avg_pool2d(x2, window, strides, "VALID"), rank)

    return ctx.defer(lambda: average() * float(count), Hints(window_sum=WindowSum(average, float(count))))


@rule(
    "reduce_window_max",
    tf_ops=("MaxPool", "PadV2"),
    limits="windows over the spatial axes of NHWC/NWC inputs",
    cases=[
        Case("max_pool", lambda x: nn.max_pool(x, (2, 2), strides=(2, 2)), [X]),
        Case("max_pool_same", lambda x: nn.max_pool(x, (3, 3), strides=(2, 2), padding="SAME"), [X]),
        Case(
            "max_pool_explicit",
            lambda x: nn.max_pool(x, (2, 2), strides=(1, 1), padding=((1, 0), (0, 1))),
            [X],
        ),
    ],
)
def lower_reduce_window_max(ctx, eqn, x):
    window, strides, pads = _spatial_window(eqn)
    rank = len(eqn.params["window_dimensions"])
    in_shape = list(eqn.invars[0].aval.shape[1:-1])
    if rank == 3:
        window, strides, pads, in_shape = [1, *window], [1, *strides], [(0, 0), *pads], [1, *in_shape]
    x2 = _as_2d(x, rank)
    mode = padding_mode(pads, in_shape, window, strides, [1, 1])
    if mode is None:
        x2 = tf.pad(x2, [[0, 0], *map(list, pads), [0, 0]], constant_values=-np.inf)
        mode = "VALID"
    return _from_2d(tf.nn.max_pool2d(x2, window, strides, mode), rank)
