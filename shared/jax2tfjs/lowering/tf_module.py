"""Trace a model with symbolic dims and lower its jaxpr into a tf.Module ready to save.

Parameters become tf.Variables named by their pytree path (the tfjs converter freezes them into
weights with those names); the inputs follow them as the traced function's last arguments, and the
serving function takes them by name and returns a dict of named outputs. Being variables, not
constants, the parameters are never folded at conversion (lowering/folding.py folds only what
literals, closed-over constants and PRNG keys determine); the tensorflowjs converter's grappler
folds equations on them (a kernel's transpose) once it has frozen them.
"""

from __future__ import annotations

import re
from typing import Any

import jax
import numpy as np
import tensorflow as tf

from jax2tfjs.errors import Jax2TfjsError, ModelInputError
from jax2tfjs.keypaths import key_path
from jax2tfjs.lowering.context import LoweringContext
from jax2tfjs.lowering.interpreter import lower_closed_jaxpr

_MISSING_ARGUMENT = re.compile(r"missing (?:\d+ )?required (?:positional |keyword-only )?arguments?: (.+)$")


def _missing_argument(err: Exception) -> str | None:
    """The argument names a TypeError says the model's call lacks ('rngs'), or None."""
    found = _MISSING_ARGUMENT.search(str(err)) if isinstance(err, TypeError) else None
    return found[1] if found else None


def _trace_failed(err: Exception, inputs: Any) -> ModelInputError:
    """A trace failure in the user's terms: a missing argument, a dim the model computes with, or
    an input that does not fit."""
    missing = _missing_argument(err)
    described = inputs.describe()
    if missing:
        return ModelInputError(
            f"the model's call lacks the argument {missing} (called with the inputs {described})",
            fix=(
                f"if {missing} is an input, add it to input_spec (a tuple in call order, or a dict keyed by "
                f"argument name); if it is a setting, pass it in apply_kwargs, e.g. apply_kwargs="
                f"{{{missing.split(',')[0].strip()}: None}}"
            ),
        )
    text = str(err)
    symbols = [s for s in inputs.symbols if re.search(rf"\b{re.escape(s)}\b", text)]
    if re.search(r"\b(?:min|max)\(", text) and symbols:
        return ModelInputError(
            f"tracing the model on inputs {described} failed: {type(err).__name__}: {text[:400]}",
            fix=(
                f"JAX cannot bound the dynamic dim {symbols[-1]} (the min/max in the message): state its range "
                f"with dim_constraints, e.g. dim_constraints=['{symbols[-1]} <= 64'] for a model of 64 positions"
            ),
        )
    batched = [name for name, dims in zip(inputs.names, inputs.dims, strict=True) if dims and dims[0] == "b"]
    if "b" in symbols and len(batched) > 1:
        # The default gives every input of rank >= 1 the batch: a bias or a table has none.
        return ModelInputError(
            f"tracing the model on inputs {described} failed: {type(err).__name__}: {text[:400]}",
            fix=(
                "every input of rank >= 1 gets the dynamic batch b at dim 0 by default; an input without a "
                f"batch (a bias, a table) keeps its dims static with dynamic_axes, e.g. dynamic_axes="
                f"{{'{batched[-1]}': ()}}; or pass dynamic_batch=False"
            ),
        )
    symbolic = "Inconclusive" in type(err).__name__ or "symbolic" in text.lower()
    return ModelInputError(
        f"tracing the model on inputs {described} failed: {type(err).__name__}: {str(err)[:400]}",
        fix=(
            "the model computes with a dynamic dim (e.g. x.shape[0] // 2): pass dynamic_batch=False to export "
            "a fixed batch, or state the dims with dynamic_axes"
            if symbolic
            else "check input_spec (shapes, batch first, dtypes; several inputs as a tuple in call order or a "
            "dict by argument name) and that params match the model (the keys and shapes model.init returns)"
        ),
    )


def trace(apply: Any, params: Any, inputs: Any) -> tuple[Any, Any]:
    """(ClosedJaxpr, output pytree of shapes) of apply(params, inputs); dynamic dims are symbols
    (`inputs`: prepare.signatures.Inputs)."""
    try:
        return jax.make_jaxpr(apply, return_shape=True)(params, inputs.symbolic())
    except Jax2TfjsError:
        raise
    except Exception as err:  # the user's code failed under tracing: say so in their terms
        raise _trace_failed(err, inputs) from err


def weight_names(params: Any) -> list[str]:
    names = []
    for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]:
        names.append(re.sub(r"[^A-Za-z0-9_/.-]", "_", key_path(path)) or "param")
    return names


def used_inputs(closed: Any) -> list[bool]:
    """Which of the jaxpr's inputs any equation or output reads: parameters a model never uses (the
    decoder of an autoencoder exported with method='encode') are left out of the export."""
    read = {id(v) for eqn in closed.jaxpr.eqns for v in eqn.invars}
    read |= {id(v) for v in closed.jaxpr.outvars}
    return [id(v) in read for v in closed.jaxpr.invars]


class ExportModule(tf.Module):
    """Holds the weights as variables and the lowered `serve` function: named inputs (the TF.js
    dtypes of the model's own) in, a dict of named outputs out."""

    def __init__(self, closed: Any, params: Any, inputs: Any, output_names: list[str]):
        super().__init__(name="jax2tfjs")
        self.ctx = LoweringContext()
        leaves = jax.tree.leaves(params)
        kept = used_inputs(closed)[: len(leaves)]
        self.unused_params = [name for name, keep in zip(weight_names(params), kept, strict=True) if not keep]
        self.weights = [
            tf.Variable(np.asarray(leaf), name=name, trainable=False)
            for leaf, name, keep in zip(leaves, weight_names(params), kept, strict=True)
            if keep
        ]
        self.signature = [
            tf.TensorSpec(
                [d if isinstance(d, int) else None for d in dims], self.ctx.tf_dtype(spec.dtype), name=name
            )
            for spec, dims, name in zip(inputs.specs, inputs.dims, inputs.names, strict=True)
        ]
        self.input_names = list(inputs.names)
        self.output_names = list(output_names)

        def serve(*tensors):
            weights = iter(self.weights)
            params = [next(weights).read_value() if keep else None for keep in kept]
            outputs = lower_closed_jaxpr(self.ctx, closed, [*params, *tensors])
            return dict(zip(self.output_names, outputs, strict=True))

        self.serve = tf.function(serve, input_signature=self.signature, autograph=False)
        self.concrete = self.serve.get_concrete_function()

    def op_types(self) -> list[str]:
        return sorted({op.type for op in self.concrete.graph.get_operations()})
