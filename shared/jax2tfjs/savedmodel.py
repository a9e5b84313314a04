"""Trace the model with a symbolic batch, lower its jaxpr into a tf.function, save a SavedModel.

Parameters become tf.Variables named by their pytree path (the tfjs converter freezes them into
weights with those names); the input is the last argument of the traced function.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jax
import numpy as np
import tensorflow as tf
from jax import export

from jax2tfjs.errors import ModelInputError
from jax2tfjs.lowering import LoweringContext, lower_closed_jaxpr

INPUT_NAME = "input"
OUTPUT_NAME = "output"


def trace(apply: Any, params: Any, spec: jax.ShapeDtypeStruct, dynamic_batch: bool) -> Any:
    """ClosedJaxpr of apply(params, x); the batch dim is the symbol `b` when dynamic."""
    if dynamic_batch:
        (b,) = export.symbolic_shape("b")
        spec = jax.ShapeDtypeStruct((b, *spec.shape[1:]), spec.dtype)
    try:
        return jax.make_jaxpr(apply)(params, spec)
    except (TypeError, ValueError) as err:
        raise ModelInputError(
            f"tracing the model on an input of shape {tuple(str(d) for d in spec.shape)} {spec.dtype} failed: "
            f"{type(err).__name__}: {str(err)[:400]}",
            fix="check input_spec (shape with the batch first, dtype) and that params match the model "
            "(same keys and shapes as model.init returns)",
        ) from err


def weight_names(params: Any) -> list[str]:
    names = []
    for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]:
        name = "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)
        names.append(re.sub(r"[^A-Za-z0-9_/.-]", "_", name) or "param")
    return names


class ExportModule(tf.Module):
    """Holds the weights as variables and the lowered `serve` function."""

    def __init__(self, closed: Any, params: Any, spec: jax.ShapeDtypeStruct, dynamic_batch: bool):
        super().__init__(name="jax2tfjs")
        self.ctx = LoweringContext()
        leaves = jax.tree.leaves(params)
        self.weights = [
            tf.Variable(np.asarray(leaf), name=name, trainable=False)
            for leaf, name in zip(leaves, weight_names(params), strict=True)
        ]
        shape = [None if dynamic_batch else spec.shape[0], *spec.shape[1:]]
        signature = [tf.TensorSpec(shape, self.ctx.tf_dtype(spec.dtype), name=INPUT_NAME)]

        def serve(x):
            outputs = lower_closed_jaxpr(self.ctx, closed, [*(w.read_value() for w in self.weights), x])
            if len(outputs) == 1:
                return {OUTPUT_NAME: outputs[0]}
            return {f"{OUTPUT_NAME}_{i}": out for i, out in enumerate(outputs)}

        self.serve = tf.function(serve, input_signature=signature, autograph=False)
        self.concrete = self.serve.get_concrete_function()

    def op_types(self) -> list[str]:
        return sorted({op.type for op in self.concrete.graph.get_operations()})


def save(module: ExportModule, directory: Path) -> None:
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.concrete})
