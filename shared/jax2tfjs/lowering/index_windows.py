"""Index tuples for the general gather and scatter: one full coordinate per element of every window.

XLA's gather and scatter read (or write) one window of the operand per start index: the window's
corner is the start (clamped, for the dims in `start_index_map`), plus the position of the index
itself along the operand's batching dims, plus the offset inside the window. TF's GatherNd and
ScatterNd take index tuples over the operand's leading dims and treat the trailing dims as slices,
so `WindowLayout` puts the dims that need a coordinate first ("coordinate dims") and the dims taken
whole (the dynamic batch in `x[:, idx, 1:3]`, an embedding's features) last: those need no index
and stay symbolic. Coordinates are built by broadcasting (starts + iotas), never by BroadcastTo,
so a dynamic batch costs no Shape/Pack ops beyond the iotas' lengths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from jax2tfjs.lowering.context import LoweringContext, transpose
from jax2tfjs.lowering.shape import same_dim


@dataclass(frozen=True)
class WindowLayout:
    """Where each operand dim goes. `window_sizes[d]` is the window's extent along operand dim d
    (1 for collapsed/inserted and batching dims); `index_dims` are the index batch dims (the indices'
    shape without its last axis). Dims in `coordinate_dims` get an index component, in operand
    order; `whole_dims` (window covers the dim, no start, no batching) trail as GatherNd slices."""

    operand_shape: tuple[Any, ...]
    index_dims: tuple[Any, ...]
    start_map: tuple[int, ...]
    operand_batching: tuple[int, ...]
    index_batching: tuple[int, ...]
    window_dims: tuple[int, ...]  # operand dims present in the window (offset dims), in order
    window_sizes: tuple[Any, ...]

    @property
    def whole_dims(self) -> tuple[int, ...]:
        return tuple(
            d
            for d in self.window_dims
            if d not in self.start_map and same_dim(self.window_sizes[d], self.operand_shape[d])
        )

    @property
    def coordinate_dims(self) -> tuple[int, ...]:
        whole = set(self.whole_dims)
        return tuple(d for d in range(len(self.operand_shape)) if d not in whole)

    @property
    def coordinate_windows(self) -> tuple[int, ...]:
        """The window dims that need a coordinate: an iota axis each in the index tuples."""
        whole = set(self.whole_dims)
        return tuple(d for d in self.window_dims if d not in whole)

    @property
    def operand_perm(self) -> list[int]:
        return [*self.coordinate_dims, *self.whole_dims]

    def transposed_operand(self, operand: tf.Tensor) -> tf.Tensor:
        return transpose(operand, self.operand_perm)

    def restore_operand(self, operand_t: tf.Tensor) -> tf.Tensor:
        return transpose(operand_t, list(np.argsort(self.operand_perm)))

    def upper_bounds(self, ctx: LoweringContext) -> list[int] | tf.Tensor:
        """The largest start per start_index_map dim that keeps the window inside: dim - size."""
        return ctx.shape([self.operand_shape[d] - self.window_sizes[d] for d in self.start_map])

    def clamp(self, ctx: LoweringContext, starts: tf.Tensor) -> tf.Tensor:
        """XLA clamps every start so its window fits (gather always; scatter in CLIP mode)."""
        return tf.clip_by_value(starts, 0, self.upper_bounds(ctx))

    def in_range(self, ctx: LoweringContext, starts: tf.Tensor) -> tf.Tensor:
        """One flag per index (shape `index_dims`): every start keeps its window inside. JAX fills a
        gather's whole window, and drops a scatter's whole window, when one start is outside."""
        upper = self.upper_bounds(ctx)
        return tf.reduce_all(tf.logical_and(starts >= 0, starts <= upper), axis=-1)

    def coordinates(self, ctx: LoweringContext, starts: tf.Tensor) -> tf.Tensor:
        """Index tuples, shape index_dims + windows + (len(coordinate_dims),), for GatherNd or
        ScatterNd on the transposed operand. `starts` (index_dims + (len(start_map),)) are clamped."""
        coords = self.coordinate_dims
        n_index, n_window = len(self.index_dims), len(self.coordinate_windows)
        # The starts' components, moved to their coordinate positions (identity: no op at all).
        source = [self.start_map.index(d) if d in self.start_map else None for d in coords]
        if len(self.start_map) == 1 and source != [0]:  # one start: (…, 1) times a unit vector
            starts = starts * tf.constant(np.array([int(s == 0) for s in source], np.int32))
        elif source != list(range(len(self.start_map))):
            column = len(self.start_map)  # a zero column for the dims without a start
            padded = tf.pad(starts, [[0, 0]] * n_index + [[0, 1]])
            starts = tf.gather(padded, [column if s is None else s for s in source], axis=-1)
        for _ in range(n_window):  # room for the window axes
            starts = tf.expand_dims(starts, -2)
        total = starts
        rank = n_index + n_window + 1
        for position, dim in enumerate(coords):
            if dim in self.operand_batching:  # the index's own position along its batch dim
                axis = self.index_batching[self.operand_batching.index(dim)]
                total = total + _iota(ctx, self.index_dims[axis], axis, rank, position, len(coords))
            if dim in self.coordinate_windows:  # the offset inside the window
                axis = n_index + self.coordinate_windows.index(dim)
                total = total + _iota(ctx, self.window_sizes[dim], axis, rank, position, len(coords))
        return total

    def window_shape(self) -> list[Any]:
        return [self.window_sizes[d] for d in self.coordinate_windows]


def _iota(ctx: LoweringContext, length: Any, axis: int, rank: int, position: int, depth: int) -> tf.Tensor:
    """range(length) along `axis` of a rank-`rank` tensor, in component `position` of the tuple."""
    line = tf.range(ctx.dim(length), dtype=tf.int32)
    shape = [1] * rank
    shape[axis] = -1
    unit = np.zeros(depth, np.int32)
    unit[position] = 1
    return tf.reshape(line, shape) * tf.constant(unit)


def output_perm(n_index: int, layout: WindowLayout, offset_dims: Sequence[int], rank: int) -> list[int]:
    """The transpose from GatherNd's order (index dims, coordinate windows, whole dims) to JAX's:
    offset dims (every window dim, in operand order) at `offset_dims`, index dims elsewhere."""
    windows, whole = layout.coordinate_windows, layout.whole_dims
    ours = [
        n_index + windows.index(d) if d in windows else n_index + len(windows) + whole.index(d)
        for d in layout.window_dims
    ]
    perm, offset, index = [], iter(ours), iter(range(n_index))
    for position in range(rank):
        perm.append(next(offset) if position in offset_dims else next(index))
    return perm


def flag_for(valid: tf.Tensor, extra_axes: int) -> tf.Tensor:
    """`valid` (index dims) with `extra_axes` trailing size-1 axes, to broadcast over windows."""
    for _ in range(extra_axes):
        valid = tf.expand_dims(valid, -1)
    return valid
