"""Calls with a nested jaxpr are inlined: jit (formerly pjit), closed_call, custom_jvp_call,
custom_vjp_call, remat2 (jax.checkpoint). relu, softmax, log_softmax, silu and gelu all arrive
wrapped in these.

At inference only the primal computation matters, so custom derivative rules are dropped. The
rules emit no TF op themselves: the nested equations emit theirs, charged to their own lines.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.extend.core.primitives import closed_call_p

from jax2tfjs.lowering.interpreter import eval_jaxpr, raw_inputs
from jax2tfjs.lowering.registry import Arg, Case, rule

X = Arg((3, 6))


@jax.custom_vjp
def _scaled_sin(x):
    return jnp.sin(x) * 2.0


_scaled_sin.defvjp(lambda x: (_scaled_sin(x), x), lambda x, g: (g * 2.0 * jnp.cos(x),))


def _closed_call(x):
    """sin(x) * 2 behind a closed_call equation. JAX emits closed_call itself where it rewrites a
    jaxpr (dead-code elimination of an optimised custom_vjp, jax/_src/custom_derivatives.py); no
    public function emits it directly, so the case binds the primitive the way JAX's own
    jaxpr evaluator does."""
    inner = jax.make_jaxpr(lambda y: jnp.sin(y) * 2.0)(x)
    (out,) = closed_call_p.bind(x, **closed_call_p.get_bind_params({"call_jaxpr": inner}))
    return out


@raw_inputs
def inline_call(ctx, eqn, *args):
    """Lower the call's jaxpr in place (ClosedJaxpr under jaxpr/call_jaxpr/fun_jaxpr, or a bare
    Jaxpr for remat); custom derivative rules are ignored."""
    key = next(k for k in ("jaxpr", "call_jaxpr", "fun_jaxpr") if k in eqn.params)
    inner = eqn.params[key]
    jaxpr, consts = (inner.jaxpr, inner.consts) if hasattr(inner, "consts") else (inner, ())
    return eval_jaxpr(ctx, jaxpr, consts, args)


rule(
    "jit",
    tf_ops=(),
    cases=[
        Case("jit", lambda x: jax.jit(lambda y: jnp.tanh(y) * 3.0)(x), [X]),
        Case("nested_jit", lambda x: jax.jit(lambda y: jax.jit(jnp.exp)(y) + 1.0)(x), [X]),
        Case("silu", jax.nn.silu, [X]),
        Case("log_softmax", jax.nn.log_softmax, [X]),
    ],
)(inline_call)


rule(
    "closed_call",
    tf_ops=(),
    cases=[Case("closed_call", _closed_call, [X])],
)(inline_call)


rule(
    "custom_jvp_call",
    tf_ops=(),
    limits="the custom JVP rule is dropped; the primal function is lowered",
    cases=[
        Case("relu", jax.nn.relu, [X]),
        Case("softplus", jax.nn.softplus, [X]),
    ],
)(inline_call)


rule(
    "custom_vjp_call",
    tf_ops=(),
    limits="the custom VJP rule is dropped; the primal function is lowered",
    cases=[Case("custom_vjp", _scaled_sin, [X])],
)(inline_call)


rule(
    "remat2",
    tf_ops=(),
    limits="rematerialisation only matters for gradients; inlined",
    cases=[Case("remat", lambda x: jax.checkpoint(lambda y: jnp.sin(y) * y)(x), [X])],
)(inline_call)
