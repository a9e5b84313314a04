"""cond (lax.cond, lax.switch, jnp.where-free branching) → every branch inline, picked by SelectV2.

A predicate known at conversion (a literal, or a value constant folding made constant) lowers only
the branch it picks. Otherwise every branch is lowered and each output is chosen with SelectV2 on
the branch index: no StatelessIf, so the graph runs with TF.js's synchronous `execute()` on every
backend and stays fusable. The cost: every branch runs on every call (two branches of equal size
cost twice one). A value an unchosen branch computes never reaches the output, NaN or not.

An index out of range runs the last branch, as XLA's conditional does (lax.switch clamps its index
before the cond; a cond bound directly does not): `index == k` selects over the last branch's
outputs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import tensorflow as tf
from jax import lax
from jax._src.lax.control_flow.conditionals import cond_p

from jax2tfjs.lowering.context import constant_value, materialize
from jax2tfjs.lowering.interpreter import eval_jaxpr, raw_inputs
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3
X = Arg((B, 4))


def _cond_on_sum(x):
    """Both branches' ops run; the sum's sign (a scalar over the whole batch) picks one."""
    return lax.cond(jnp.sum(x) > 0, lambda y: jnp.tanh(y) * 2.0, lambda y: y - 1.0, x)


def _switch_three(i, x):
    return lax.switch(i, [lambda y: y * 2.0, lambda y: y - 1.0, jnp.sin], x)


def _cond_per_example_carry(x, w):
    """Several operands and outputs, an int output, and a closed-over weight."""
    return lax.cond(
        x[0, 0] > 0,
        lambda a, b: (a @ b, jnp.argmax(a, axis=-1)),
        lambda a, b: (a @ (b * 0.5), jnp.argmin(a, axis=-1)),
        x,
        w,
    )


def _cond_bound_out_of_range(i, x):
    """cond_p bound directly with an index in -2..4 over three branches: out of range runs the last."""
    branches = tuple(jax.make_jaxpr(f)(x) for f in (lambda y: y * 2.0, lambda y: y - 1.0, jnp.sin))
    (out,) = cond_p.bind(i - 2, x, branches=branches)
    return out


def _cond_constant_predicate(x):
    """A predicate fixed at trace time inside a nested function: only the taken branch is lowered."""
    return lax.cond(True, lambda y: y * 3.0, lambda y: jnp.log(jnp.abs(y)), x)


@rule(
    "cond",
    tf_ops=("Equal", "SelectV2"),
    limits=(
        "every branch is lowered and runs; SelectV2 on the index picks each output (out of range: the last "
        "branch, as XLA). A "
        "predicate constant at conversion lowers only its branch. No StatelessIf: execute() works"
    ),
    cases=[
        Case("cond_select", _cond_on_sum, [X]),
        Case("switch_three", _switch_three, [Arg((), "int32", "int", high=5, batched=False), X]),
        Case("switch_negative_clamps", lambda x: _switch_three(-2, x), [X]),
        Case("cond_several_outputs", _cond_per_example_carry, [X, Arg((4, 5), batched=False)]),
        Case("cond_constant_predicate", _cond_constant_predicate, [X]),
        Case(
            "cond_index_out_of_range",
            _cond_bound_out_of_range,
            [Arg((), "int32", "int", high=7, batched=False), X],
        ),
    ],
)
@raw_inputs
def lower_cond(ctx, eqn, index, *operands):
    branches = eqn.params["branches"]
    last = len(branches) - 1
    known = constant_value(index)
    if known is not None:
        chosen_index = int(known)
        taken = branches[chosen_index if 0 <= chosen_index <= last else last]
        return eval_jaxpr(ctx, taken.jaxpr, taken.consts, operands)
    outputs = [
        [materialize(v) for v in eval_jaxpr(ctx, branch.jaxpr, branch.consts, operands)]
        for branch in branches
    ]
    index = materialize(index)
    chosen = list(outputs[last])
    for k in range(last - 1, -1, -1):
        take = tf.equal(index, k)
        chosen = [tf.where(take, new, old) for new, old in zip(outputs[k], chosen, strict=True)]
    return chosen
