"""State shared by the rules while one jaxpr is lowered: symbolic dims, warnings, deferred values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from jax2tfjs.errors import UnsupportedDtypeError

# TF.js computes in float32, int32 and bool only; narrower or wider types are mapped here.
_DTYPE_MAP: dict[str, tuple[tf.DType, str | None]] = {
    "float32": (tf.float32, None),
    "int32": (tf.int32, None),
    "bool": (tf.bool, None),
    "float64": (tf.float32, "float64 computed as float32 (TF.js has no float64)"),
    "float16": (tf.float32, "float16 computed as float32 (TF.js computes in float32)"),
    "bfloat16": (tf.float32, "bfloat16 computed as float32 (TF.js has no bfloat16)"),
    "int64": (tf.int32, "int64 computed as int32 (TF.js has no int64); values beyond ±2**31 wrap"),
    "int8": (tf.int32, None),
    "int16": (tf.int32, None),
    "uint8": (tf.int32, None),
    "uint16": (tf.int32, None),
    "uint32": (tf.int32, "uint32 computed as int32; values beyond 2**31 wrap"),
}


@dataclass
class Deferred:
    """A value whose TF ops are built only when a rule that needs a plain tensor reads it.

    Pattern-aware rules read `hints` instead: a bias vector behind a reshape, the average behind a
    window sum, a literal's value. So `x + reshape(b)` becomes one BiasAdd and no Reshape is left
    dangling in the graph."""

    build: Callable[[], tf.Tensor]
    hints: dict[str, Any] = field(default_factory=dict)
    _value: tf.Tensor | None = None

    def get(self) -> tf.Tensor:
        if self._value is None:
            self._value = self.build()
        return self._value


def materialize(value: Any) -> tf.Tensor:
    return value.get() if isinstance(value, Deferred) else value


def hints(value: Any) -> dict[str, Any]:
    return value.hints if isinstance(value, Deferred) else {}


def constant_value(value: Any) -> np.ndarray | None:
    """The numpy value of a literal or a constant, else None."""
    return hints(value).get("constant")


class LoweringContext:
    def __init__(self) -> None:
        self.dim_values: dict[str, tf.Tensor] = {}
        self.warnings: list[str] = []
        self.current_source = "<unknown>"
        self.op_sources: dict[str, list[str]] = {}

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def tf_dtype(self, dtype: Any) -> tf.DType:
        name = np.dtype(dtype).name if str(dtype) != "bfloat16" else "bfloat16"
        if name not in _DTYPE_MAP:
            raise UnsupportedDtypeError(
                f"dtype {name} (at {self.current_source}) has no TF.js equivalent",
                fix="cast to float32 or int32 in the model before export",
            )
        tf_type, note = _DTYPE_MAP[name]
        if note:
            self.warn(note)
        return tf_type

    def bind_dims(self, aval_shape: Sequence[Any], tensor: tf.Tensor) -> None:
        """Record the TF value of every symbolic dim (e.g. the batch `b`) of an input."""
        for axis, dim in enumerate(aval_shape):
            if not is_static(dim):
                for name in dim.get_vars():
                    if name not in self.dim_values and str(dim) == name:
                        self.dim_values[name] = tf.shape(tensor, out_type=tf.int32)[axis]

    def dim(self, d: Any) -> int | tf.Tensor:
        """A dim as an int, or as a TF scalar when it depends on a symbolic dim."""
        if is_static(d):
            return int(d)
        if isinstance(d, tf.Tensor):
            return d
        return d._evaluate(self.dim_values)  # JAX's own evaluator, with TF scalars for the vars

    def shape(self, dims: Sequence[Any]) -> list[int] | tf.Tensor:
        """A static list when every dim is known, else an int32 shape tensor."""
        values = [self.dim(d) for d in dims]
        if all(isinstance(v, int) for v in values):
            return values
        return tf.stack(
            [tf.constant(v, tf.int32) if isinstance(v, int) else tf.cast(v, tf.int32) for v in values]
        )


def reshape_target(ctx: LoweringContext, dims: Sequence[Any]) -> list[int] | tf.Tensor:
    """A Reshape's target shape: one unknown dim becomes -1, so the shape stays a constant and no
    Shape/StridedSlice/Pack ops are left in the exported graph."""
    unknown = [i for i, d in enumerate(dims) if not is_static(d)]
    if len(unknown) == 1:
        return [-1 if i == unknown[0] else int(d) for i, d in enumerate(dims)]
    return ctx.shape(dims)


def transpose(x: tf.Tensor, perm: Sequence[int]) -> tf.Tensor:
    """Transpose, or `x` itself when `perm` is the identity (no op in the graph)."""
    return x if list(perm) == list(range(len(perm))) else tf.transpose(x, perm)


def is_static(dim: Any) -> bool:
    return isinstance(dim, int | np.integer)
