"""Run one parity case: JAX's output vs the lowered TF function's, with a dynamic batch dim."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import tensorflow as tf
from jax import export

from jax2tfjs.lowering.context import LoweringContext
from jax2tfjs.lowering.interpreter import lower_closed_jaxpr
from jax2tfjs.lowering.registry import Case


def trace_with_batch(fn: Any, specs: list[jax.ShapeDtypeStruct], batched: list[bool]) -> Any:
    """make_jaxpr with the first dim of each batched spec symbolic (`b`)."""
    (b,) = export.symbolic_shape("b")
    specs = [
        jax.ShapeDtypeStruct((b, *s.shape[1:]), s.dtype) if flag else s
        for s, flag in zip(specs, batched, strict=True)
    ]
    return jax.make_jaxpr(fn)(*specs)


def run_case(case: Case, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray], LoweringContext]:
    """(jax outputs, tf outputs, context) for `case` on random inputs."""
    rng = np.random.default_rng(seed)
    inputs = [arg.sample(rng) for arg in case.args]
    expected = jax.tree.leaves(case.fn(*inputs))
    specs = [jax.ShapeDtypeStruct(x.shape, x.dtype) for x in inputs]
    batched = [case.batched and arg.batched for arg in case.args]
    closed = trace_with_batch(case.fn, specs, batched)
    ctx = LoweringContext()
    signature = [
        tf.TensorSpec([None, *x.shape[1:]] if flag else list(x.shape), ctx.tf_dtype(x.dtype))
        for x, flag in zip(inputs, batched, strict=True)
    ]
    function = tf.function(
        lambda *args: lower_closed_jaxpr(ctx, closed, args), input_signature=signature, autograph=False
    )
    actual = [
        t.numpy()
        for t in function(*[tf.constant(x, dtype=s.dtype) for x, s in zip(inputs, signature, strict=True)])
    ]
    return [np.asarray(e) for e in expected], actual, ctx
