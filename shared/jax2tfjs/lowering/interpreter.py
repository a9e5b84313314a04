"""Interpret a jaxpr with TensorFlow ops: each equation is handed to its rule in the registry.

An equation whose inputs are all constants is first offered to folding.py, which evaluates it in
JAX at conversion (PRNG keys, random bits from a constant key, iota, static masks) and hands back
constants. Nested jaxprs (jit, custom_jvp_call, custom_vjp_call, closed_call, remat) are
interpreted inline by their rules through `eval_jaxpr`, so no call boundary survives into the TF
graph, and their constant equations fold one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from jax._src import source_info_util
from jax.extend import core as jcore

from jax2tfjs.errors import Jax2TfjsError, LoweringError, UnsupportedPrimitiveError
from jax2tfjs.lowering.context import Deferred, Hints, LoweringContext, Origin, materialize
from jax2tfjs.lowering.folding import (
    fold_equation,
    folded_constant,
    is_prng_key,
    key_refusal,
    remember_values,
)
from jax2tfjs.lowering.inference_scope import group_of
from jax2tfjs.lowering.registry import NOT_SUPPORTED, RULES


def source_line(eqn: Any) -> str:
    """The user's source line that produced `eqn` (JAX's own summary: file:line:col (function))."""
    return source_info_util.summarize(eqn.source_info) or "<no user source line: inside JAX>"


def constant(ctx: LoweringContext, value: Any, dtype: Any = None) -> Deferred:
    """A literal or constant. Its TF dtype is chosen when it is built: a uint32 literal that only
    folded equations read (the random bits' `shift_right_logical x 9:u32[]`) warns about nothing.
    A closed-over PRNG key stays a JAX value (folding.py)."""
    if is_prng_key(value):
        return folded_constant(ctx, value)
    array = np.asarray(value, dtype=dtype)
    return ctx.defer(
        lambda: tf.constant(array, dtype=ctx.tf_dtype(array.dtype)), Hints(constant=array), per_graph=True
    )


def eval_jaxpr(ctx: LoweringContext, jaxpr: Any, consts: Sequence[Any], args: Sequence[Any]) -> list[Any]:
    """Lower `jaxpr` applied to `args` (TF tensors or Deferred values); returns raw values."""
    env: dict[Any, Any] = {}

    def read(var: Any) -> Any:
        if isinstance(var, jcore.Literal):
            return constant(ctx, var.val, var.aval.dtype)
        return env[var]

    for var, value in zip(jaxpr.constvars, consts, strict=True):
        env[var] = value if isinstance(value, tf.Tensor | Deferred) else constant(ctx, value)
    for var, value in zip(jaxpr.invars, args, strict=True):
        env[var] = value

    for eqn in jaxpr.eqns:
        origin = Origin(eqn.primitive.name, source_line(eqn))
        with ctx.emitting(origin):
            inputs = [read(v) for v in eqn.invars]
            outputs = fold_equation(ctx, eqn, origin, inputs)
            if outputs is None:
                outputs = _lower_equation(ctx, eqn, origin, inputs)
                if not eqn.primitive.multiple_results:
                    outputs = [outputs]
                outputs = remember_values(ctx, eqn, inputs, outputs)
        for var, value in zip(eqn.outvars, outputs, strict=True):
            env[var] = value
    return [read(v) for v in jaxpr.outvars]


def _lower_equation(ctx: LoweringContext, eqn: Any, origin: Origin, inputs: list[Any]) -> Any:
    """Run `eqn`'s rule; the ops it builds are charged to `eqn` (MissingTfjsOpError names its line)."""
    name = eqn.primitive.name
    rule = RULES.get(name)
    if rule is None:
        group = group_of(name)
        reason = NOT_SUPPORTED.get(name) or (group and f"{group.title}: {group.why}")
        raise key_refusal(eqn, origin) or UnsupportedPrimitiveError(
            f"JAX primitive '{name}' at {origin.source} has no TF.js lowering"
            + (f": {reason}" if reason else ""),
            fix=(
                "rewrite that line without it (see docs/coverage.md for what is supported)"
                if reason
                else "rewrite that line with supported operations (docs/coverage.md), or add a rule in jax2tfjs/lowering"
            ),
        )
    try:
        # Materialising builds an earlier rule's deferred ops, so its failures belong here too.
        if not getattr(rule.lower, "raw_inputs", False):
            inputs = [materialize(x) for x in inputs]
        return rule.lower(ctx, eqn, *inputs)
    except Jax2TfjsError:
        raise
    except Exception as err:  # a rule met parameters it cannot express: say where and what
        failed = ctx.failed_in(err) or origin
        raise LoweringError(
            f"lowering {origin}{_deferred_by(failed, origin)} failed: {type(err).__name__}: {err}",
            fix=f"see the limits of {_names(failed, origin)} in docs/coverage.md; rewrite the line if it is outside them",
        ) from err


def _deferred_by(failed: Origin, reader: Origin) -> str:
    """Where the failing ops were asked for, when that is not the equation reading them: a
    deferred value is built on a later equation's read, inside its own producer's equation."""
    return "" if failed == reader else f", building the value deferred by {failed},"


def _names(failed: Origin, reader: Origin) -> str:
    if failed.primitive == reader.primitive:
        return f"'{reader.primitive}'"
    return f"'{failed.primitive}' and '{reader.primitive}'"


def lower_closed_jaxpr(ctx: LoweringContext, closed: Any, args: Sequence[tf.Tensor]) -> list[tf.Tensor]:
    """Lower a top-level ClosedJaxpr: bind symbolic dims from the inputs, return plain tensors.

    Each call is one trace (TF may retrace, e.g. when saving): tensors of an earlier trace's graph
    must not leak into this one, so the per-trace state starts empty."""
    ctx.start_trace()
    for var, tensor in zip(closed.jaxpr.invars, args, strict=True):
        ctx.bind_dims(var.aval.shape, tensor)
    outputs = eval_jaxpr(ctx, closed.jaxpr, closed.consts, args)
    try:
        return [materialize(v) for v in outputs]
    except Exception as err:  # a deferred op built only for the output
        failed = ctx.failed_in(err)
        where = f"deferred by {failed}" if failed else "deferred by an unknown equation"
        raise LoweringError(
            f"building the model's output, {where}, failed: {type(err).__name__}: {err}",
            fix="see the limits in docs/coverage.md for the operations on that line",
        ) from err


def raw_inputs(lower: Any) -> Any:
    """Mark a rule that reads Deferred values (hints) instead of plain tensors."""
    lower.raw_inputs = True
    return lower
