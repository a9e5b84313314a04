"""Pad as rank-3 views past rank 4: TF.js's webgl backend cannot run a Pad of rank 5 or more.

Measured in headless Chromium with TF.js 4.22 (webgl on SwiftShader): a 5-D Pad (NDHWC, on the
spatial axes or on depth alone) fails with "Failed to compile fragment shader."; 4-D pads run, and
cpu and wasm run both. 3-D convolutions and pools pad 5-D tensors, so each padded axis k is padded
in a [-1, n_k, rest] view (one Reshape and one rank-3 Pad per padded axis, one Reshape back).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

WEBGL_MAX_PAD_RANK = 4


def pad(x: tf.Tensor, paddings: Sequence[Sequence[int]], constant_values: Any = 0) -> tf.Tensor:
    """tf.pad, run as rank-3 pads when `x` has rank > 4, an unpadded first axis and static other dims
    (else, and below rank 5, one plain Pad)."""
    paddings = [list(p) for p in paddings]
    dims = x.shape.as_list()
    rank = len(dims)
    if rank <= WEBGL_MAX_PAD_RANK or paddings[0] != [0, 0] or any(d is None for d in dims[1:]):
        return tf.pad(x, paddings, constant_values=constant_values)
    for axis in range(1, rank):
        low, high = paddings[axis]
        if low == 0 and high == 0:
            continue
        view = tf.reshape(x, [-1, dims[axis], math.prod(dims[axis + 1 :])])
        x = tf.pad(view, [[0, 0], [low, high], [0, 0]], constant_values=constant_values)
        dims[axis] += low + high
    return tf.reshape(x, [-1, *dims[1:]]) if x.shape.rank != rank else x
