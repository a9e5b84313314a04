"""Trace a model with a symbolic batch and lower its jaxpr into a tf.Module ready to save.

Parameters become tf.Variables named by their pytree path (the tfjs converter freezes them into
weights with those names); the input is the last argument of the traced function.
"""

from __future__ import annotations

import re
from typing import Any

import jax
import numpy as np
import tensorflow as tf
from jax import export

from jax2tfjs.errors import Jax2TfjsError, ModelInputError
from jax2tfjs.export.savedmodel import INPUT_NAME, OUTPUT_NAME
from jax2tfjs.keypaths import key_path
from jax2tfjs.lowering.context import LoweringContext
from jax2tfjs.lowering.interpreter import lower_closed_jaxpr


def trace(apply: Any, params: Any, spec: jax.ShapeDtypeStruct, dynamic_batch: bool) -> Any:
    """ClosedJaxpr of apply(params, x); the batch dim is the symbol `b` when dynamic."""
    if dynamic_batch:
        (b,) = export.symbolic_shape("b")
        spec = jax.ShapeDtypeStruct((b, *spec.shape[1:]), spec.dtype)
    try:
        closed = jax.make_jaxpr(apply)(params, spec)
    except Jax2TfjsError:
        raise
    except Exception as err:  # the user's code failed under tracing: say so in their terms
        symbolic = "Inconclusive" in type(err).__name__ or "symbolic" in str(err).lower()
        raise ModelInputError(
            f"tracing the model on an input of shape {tuple(str(d) for d in spec.shape)} {spec.dtype} failed: "
            f"{type(err).__name__}: {str(err)[:400]}",
            fix=(
                "the model computes with the batch size (e.g. x.shape[0] // 2); pass dynamic_batch=False "
                "to export a fixed batch"
                if symbolic
                else "check input_spec (shape with the batch first, dtype) and that params match the model "
                "(same keys and shapes as model.init returns)"
            ),
        ) from err
    if len(closed.out_avals) != 1:
        raise ModelInputError(
            f"the model returns {len(closed.out_avals)} arrays; an export has exactly one output",
            fix="return one array (e.g. the logits), or export each output with its own function",
        )
    return closed


def weight_names(params: Any) -> list[str]:
    names = []
    for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]:
        names.append(re.sub(r"[^A-Za-z0-9_/.-]", "_", key_path(path)) or "param")
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
            (output,) = lower_closed_jaxpr(self.ctx, closed, [*(w.read_value() for w in self.weights), x])
            return {OUTPUT_NAME: output}

        self.serve = tf.function(serve, input_signature=signature, autograph=False)
        self.concrete = self.serve.get_concrete_function()

    def op_types(self) -> list[str]:
        return sorted({op.type for op in self.concrete.graph.get_operations()})
