"""Calls with a nested jaxpr are inlined: jit (formerly pjit), closed_call, custom_jvp_call,
custom_vjp_call, remat2 (jax.checkpoint), composite, custom_vmap_call, linear_call and the forward
solve of custom_linear_solve. relu, softmax, log_softmax, silu and gelu all arrive wrapped in these.
platform_index (lax.platform_dependent, which jnp.diagonal uses) becomes the cpu (else default) branch's index.

At inference only the primal computation matters, so custom derivative rules are dropped. The
rules emit no TF op themselves: the nested equations emit theirs, charged to their own lines.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_batching import custom_vmap
from jax.custom_derivatives import linear_call
from jax.extend.core.primitives import closed_call_p

from jax2tfjs.lowering.interpreter import constant, eval_jaxpr, raw_inputs
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
    key = next(k for k in ("jaxpr", "call_jaxpr", "fun_jaxpr", "call", "callee") if k in eqn.params)
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


def _composite(x):
    """A named composite (jax.lax.composite): inlined through its decomposition."""
    return jax.lax.composite(lambda y: jnp.sin(y) * 2.0, name="jax2tfjs.scaled_sin")(x)


@custom_vmap
def _custom_vmapped(x):
    return jnp.tanh(x) + 1.0


_custom_vmapped.def_vmap(lambda axis_size, in_batched, x: (jnp.tanh(x) + 1.0, in_batched[0]))


def _linear_call(x):
    """jax.custom_derivatives.linear_call: the callee is the forward pass; its transpose is dropped."""
    offset = jnp.arange(6.0)
    return linear_call(lambda r, y: y * r + offset, lambda r, t: t * r, 2.0, x)


def _linear_solve(b):
    """lax.custom_linear_solve (what iterative solvers such as jax.scipy.sparse.linalg.cg build):
    its forward value is the `solve` function applied to b."""
    diag = jnp.linspace(1.0, 3.0, 6)
    return jax.lax.custom_linear_solve(
        lambda v: diag * v, b, solve=lambda matvec, v: v / diag, symmetric=True
    )


rule(
    "composite",
    tf_ops=(),
    limits="lowered through its decomposition (the `jaxpr` JAX keeps beside the name)",
    cases=[Case("composite", _composite, [X])],
)(inline_call)


rule(
    "custom_vmap_call",
    tf_ops=(),
    limits="the custom batching rule is dropped; the function is lowered as written",
    cases=[Case("custom_vmap", _custom_vmapped, [X])],
)(inline_call)


rule(
    "linear_call",
    tf_ops=(),
    limits="the callee is lowered; the transpose (used only by gradients) is dropped",
    cases=[Case("linear_call", _linear_call, [X])],
)(inline_call)


@raw_inputs
def lower_custom_linear_solve(ctx, eqn, *args):
    """The forward value of custom_linear_solve is solve(matvec, b): the `solve` jaxpr applied to
    its own constants and b. Operands: the constants of matvec, vecmat, solve, transpose_solve (in
    that order, `const_lengths` each), then b."""
    lengths = eqn.params["const_lengths"]
    start = lengths.matvec + lengths.vecmat
    solve_consts = args[start : start + lengths.solve]
    rhs = args[sum(lengths) :]
    solve = eqn.params["jaxprs"].solve
    return eval_jaxpr(ctx, solve.jaxpr, solve.consts, [*solve_consts, *rhs])


rule(
    "custom_linear_solve",
    tf_ops=(),
    limits="the forward solve is lowered; matvec and the transpose solve only matter for gradients",
    cases=[Case("linear_solve", _linear_solve, [X])],
)(lower_custom_linear_solve)


def export_platform_branch(platforms) -> int:
    """The branch an exported model takes: the 'cpu' one (TF.js computes float32 on the host, like
    JAX's CPU programs that verification compares against), else the portable default (None).
    Never the converting machine's platform: the export must not depend on where it was made (the
    folding pass leaves calls.py's rules alone, so JAX never evaluates platform_index here)."""
    for index, names in enumerate(platforms):
        if names is not None and "cpu" in names:
            return index
    for index, names in enumerate(platforms):
        if names is None:
            return index
    raise ValueError(
        f"lax.platform_dependent offers only {platforms} and no default branch: TF.js runs none of "
        "these platforms; add a cpu= or default= branch"
    )


@raw_inputs
def lower_platform_index(ctx, eqn, *args):
    return constant(ctx, export_platform_branch(eqn.params["platforms"]), np.int32)


def _platform_dependent(x):
    return jax.lax.platform_dependent(x, tpu=jnp.cos, cuda=jnp.exp, default=jnp.sin)


rule(
    "platform_index",
    tf_ops=(),
    limits="the cpu branch of lax.platform_dependent (else its default one), whatever machine converts; "
    "a constant, so the cond that reads it keeps only that branch",
    cases=[
        Case("platform_dependent", _platform_dependent, [X]),
        # jnp.diagonal of a square 2-D array goes through lax.platform_dependent (default vs mosaic)
        Case("diagonal", jnp.diagonal, [Arg((3, 3), batched=False)], batched=False),
    ],
)(lower_platform_index)
