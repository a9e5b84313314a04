"""scan (lax.scan, lax.fori_loop with static bounds, lax.map, nn.scan/nnx.scan, nn.RNN) and while
(lax.while_loop, fori_loop with traced bounds).

scan is unrolled when its work is small: the body is lowered once per step, inline, with the carry
threaded through, xs split by one Unpack and ys joined by one Pack. The graph stays a plain
dataflow graph: TF.js runs it with `execute()` (no executeAsync), grappler and our passes fuse it
like any other, and per step no loop bookkeeping runs. Past UNROLL_EQUATION_BUDGET (steps × body
equations) it becomes a StatelessWhile whose body reads xs[i] with GatherV2 and writes ys into a
TensorList. The tensorflowjs converter turns a StatelessWhile into TF's v1 loop frame (Enter, Merge,
Switch, LoopCond, NextIteration, Exit; no function library is left), which TF.js runs only with
`executeAsync()` (the Node runner, the browser runner and the web page switch to it by themselves
when a graph holds those ops).

A scan over a dynamic axis (its `length` a symbolic dim, e.g. a sequence length exported dynamic)
is always a loop, its trip count read from the input's shape.

scan's other params: `unroll=True` (or a factor covering every step) forces unrolling, a smaller
factor is ignored (the budget decides); `linear` and `_split_transpose` only matter for autodiff.

while is data-dependent in general (its trip count is a value), so it is always a StatelessWhile.
A fori_loop with static bounds reaches us as a scan, and is unrolled as one.

Measured on a linen LSTM (hidden 32, 16 steps, batch 4; docs/control_flow.md has the table):
unrolled, 346 TF.js ops, 8.4 ms on cpu and 7.0 ms on wasm; as a loop, 114 ops, 48 ms and 63 ms.
TF.js's executor pays for every loop iteration (v1 frames: Enter/Merge/Switch/NextIteration per
loop variable, each iteration awaited), so unrolling is the default up to the budget; the loop
form converts faster (3.0 s vs 5.2 s) and is the only form for data-dependent trip counts.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.context import Origin, hints, is_static, materialize
from jax2tfjs.lowering.interpreter import eval_jaxpr, raw_inputs
from jax2tfjs.lowering.registry import Arg, Case, rule

# Steps × body equations (nested ones counted) up to which a scan is unrolled. Measured here (2 cores,
# shared, 2026-11-30): a linen LSTMCell(32) body is 29 equations; unrolled, conversion grows by about
# 0.27 s per step (16 steps 7.9 s, 64 steps 17.7 s, 128 steps 38.9 s, 2,698 TF.js ops), while TF.js
# runs the 16-step LSTM 5-9x faster unrolled than as a loop (docs/control_flow.md). 2,000 keeps
# conversion near 20 s at most (a 69-step LSTM). Tests and benchmarks patch it to force either form.
UNROLL_EQUATION_BUDGET = 2000

B = 3


def count_equations(jaxpr: Any) -> int:
    """Equations of `jaxpr`, those of nested jaxprs (calls, loops, branches) included."""
    total = 0
    for eqn in jaxpr.eqns:
        total += 1
        for param in eqn.params.values():
            for inner in param if isinstance(param, tuple | list) else (param,):
                if hasattr(inner, "eqns") or hasattr(inner, "jaxpr"):
                    total += count_equations(getattr(inner, "jaxpr", inner))
    return total


def should_unroll(length: int, jaxpr: Any, unroll: Any) -> bool:
    """Unroll when the user asked for it (`unroll=True`, or a factor covering every step) or the
    unrolled graph stays within the budget."""
    if unroll is True or (not isinstance(unroll, bool) and int(unroll) >= max(length, 2)):
        return True
    return length * max(count_equations(jaxpr), 1) <= UNROLL_EQUATION_BUDGET


def _shape_invariant(aval: Any) -> tf.TensorShape:
    """A loop variable's shape across iterations: static dims as they are, symbolic ones (the batch)
    unknown, so TF accepts the body's output as the same variable."""
    return tf.TensorShape([int(d) if is_static(d) else None for d in aval.shape])


def _loop_value(value: Any, aval: Any) -> tf.Tensor:
    """`value` as a loop variable of `aval`'s shape. A rule may return a tensor whose static shape TF
    does not know (a reshape to a shape tensor); the jaxpr does, and tf.while_loop needs the body's
    outputs as specific as its invariants, so the static shape is stated (no op is added)."""
    tensor = materialize(value)
    tensor.set_shape(_shape_invariant(aval))
    return tensor


class _BodyScope:
    """Builds a loop body's ops in its own FuncGraph without leaking them into the outer lowering.

    The context caches symbolic dims' tensors (`dim_values`) the first time a rule needs them: one
    first built inside a body belongs to the body's graph and must not be reused outside. Ops the
    loop itself adds in the body (the counter, xs[i], the TensorList write) are charged to the
    loop's equation. (Ops are attributed by name; TF names a body's ops under the loop's own unique
    scope, `while_1/Mul`, so they never collide with the outer graph's.)"""

    def __init__(self, ctx: Any, kind: str):
        self.ctx = ctx
        self.origin = ctx.origin or Origin(kind, ctx.current_source)

    def run(self, build: Any) -> Any:
        saved_dims = dict(self.ctx.dim_values)
        try:
            with self.ctx.emitting(self.origin):
                return build()
        finally:
            self.ctx.dim_values = saved_dims


def _scan_unrolled(ctx, eqn, consts, carry, xs):
    params = eqn.params
    length, closed = params["length"], params["jaxpr"]
    steps = [tf.unstack(materialize(x), num=length, axis=0) for x in xs]
    order = range(length - 1, -1, -1) if params["reverse"] else range(length)
    ys_by_step: dict[int, list[Any]] = {}
    for step in order:
        outputs = eval_jaxpr(ctx, closed.jaxpr, closed.consts, [*consts, *carry, *(s[step] for s in steps)])
        carry, ys_by_step[step] = outputs[: len(carry)], outputs[len(carry) :]
    ys_avals = [v.aval for v in eqn.outvars[len(carry) :]]
    if length == 0:
        ys = [tf.zeros(ctx.shape(aval.shape), ctx.tf_dtype(aval.dtype)) for aval in ys_avals]
    else:
        ys = [
            tf.stack([materialize(ys_by_step[step][k]) for step in range(length)], axis=0)
            for k in range(len(ys_avals))
        ]
    return [*carry, *ys]


def _scan_loop(ctx, eqn, consts, carry, xs):
    """The scan as a StatelessWhile: loop variables (step, carry…, ys TensorLists…)."""
    params = eqn.params
    closed, reverse = params["jaxpr"], params["reverse"]
    length = ctx.dim(params["length"])  # a symbolic length (a dynamic sequence) as a TF scalar, built outside
    num_carry = len(carry)
    carry_avals = [v.aval for v in eqn.invars[len(consts) :][:num_carry]]
    consts = [materialize(c) for c in consts]
    carry = [_loop_value(c, aval) for c, aval in zip(carry, carry_avals, strict=True)]
    xs = [materialize(x) for x in xs]
    ys_avals = [v.aval for v in eqn.outvars[num_carry:]]
    ys_lists = [
        tf.TensorArray(ctx.tf_dtype(a.dtype), size=length, element_shape=_shape_invariant(a)[1:])
        for a in ys_avals
    ]
    scope = _BodyScope(ctx, "scan")

    def body(step, *state):
        def build():
            index = length - 1 - step if reverse else step
            slices = [tf.gather(x, index, axis=0) for x in xs]
            outputs = eval_jaxpr(ctx, closed.jaxpr, closed.consts, [*consts, *state[:num_carry], *slices])
            new_carry = [_loop_value(v, a) for v, a in zip(outputs[:num_carry], carry_avals, strict=True)]
            new_lists = [
                ys.write(index, materialize(y))
                for ys, y in zip(state[num_carry:], outputs[num_carry:], strict=True)
            ]
            return (step + 1, *new_carry, *new_lists)

        return scope.run(build)

    invariants = [tf.TensorShape([]), *(_shape_invariant(aval) for aval in carry_avals)]
    invariants += [tf.TensorShape(None)] * len(ys_lists)
    final = tf.while_loop(
        lambda step, *state: scope.run(lambda: step < length),
        body,
        [tf.constant(0, tf.int32), *carry, *ys_lists],
        shape_invariants=invariants,
    )
    final_carry, final_lists = final[1 : 1 + num_carry], final[1 + num_carry :]
    return [*final_carry, *(ys.stack() for ys in final_lists)]


def _lstm_like(x, w):
    """A tanh RNN over a (batch, steps, features) sequence, as nn.RNN traces: the scan runs over
    axis 1 after a transpose, with a closed-over weight as a const."""

    def cell(h, xt):
        h = jnp.tanh(xt @ w + h)
        return h, h * 2.0

    h0 = jnp.zeros((x.shape[0], w.shape[1]), x.dtype)
    h, ys = lax.scan(cell, h0, jnp.swapaxes(x, 0, 1))
    return h, jnp.swapaxes(ys, 0, 1)


def _reverse_two_carries(x):
    def step(c, xt):
        total, count = c
        return (total * 0.5 + xt, count + 1), jnp.sin(total)

    return lax.scan(step, (jnp.zeros_like(x[:, 0]), 0), jnp.swapaxes(x, 0, 1), reverse=True)


# Steps enough that even a 4-equation body is past UNROLL_EQUATION_BUDGET: these cases take the
# StatelessWhile form (tests/convert_env/test_lowering_control_flow.py checks they do).
LOOP_STEPS = 600


def _long_rnn(x):
    """A (batch, LOOP_STEPS) sequence through a 4-equation tanh cell: a scan past the budget."""

    def cell(h, xt):
        h = jnp.tanh(xt * 0.9 + h * 0.5)
        return h, h

    return lax.scan(cell, jnp.zeros_like(x[:, 0]), jnp.swapaxes(x, 0, 1))


def _long_reverse_with_weight(x, w):
    """Reverse, a closed-over weight (a const of the loop), two carries (one int)."""

    def cell(c, xt):
        h, count = c
        h = jnp.tanh(xt[:, None] * w + h * 0.5)
        return (h, count + 1), h.sum(axis=-1)

    h0 = jnp.zeros((x.shape[0], w.shape[0]), x.dtype)
    return lax.scan(cell, (h0, 0), jnp.swapaxes(x, 0, 1), reverse=True)


@rule(
    "scan",
    tf_ops=(
        "Unpack",  # unrolled: xs split once
        "Pack",  # unrolled: ys joined once
        "StatelessWhile",  # past the budget
        "TensorListReserve",
        "TensorListSetItem",
        "TensorListStack",
        "GatherV2",  # xs[i] in the loop
        "AddV2",  # the loop's step counter
        "Sub",  # reverse: length - 1 - step
        "Less",  # the loop's condition
        "Shape",  # a dynamic length, read from the input
        "StridedSlice",
    ),
    limits=(
        f"unrolled (Unpack, the body per step, Pack) up to {UNROLL_EQUATION_BUDGET} steps × body equations or "
        "when unroll=True; beyond, a StatelessWhile with TensorLists (TF.js then needs executeAsync)"
    ),
    cases=[
        Case("rnn_unrolled", _lstm_like, [Arg((B, 5, 4)), Arg((4, 6), batched=False)], atol=1e-5),
        Case("reverse_two_carries", _reverse_two_carries, [Arg((B, 4))]),
        Case("fori_loop_static", lambda x: lax.fori_loop(0, 4, lambda i, c: c * 0.5 + i, x), [Arg((B, 3))]),
        Case("map", lambda x: lax.map(jnp.sin, x), [Arg((B, 3))], batched=False),
        Case(  # length = the dynamic batch: a loop whose trip count is read from the input's shape
            "over_a_dynamic_axis",
            lambda x: lax.scan(lambda c, r: (c * 0.5 + r, jnp.tanh(c)), jnp.zeros(3), x, reverse=True),
            [Arg((B, 3))],
        ),
        Case("rnn_loop", _long_rnn, [Arg((B, LOOP_STEPS))], atol=1e-5),
        Case(
            "reverse_loop_with_weight",
            _long_reverse_with_weight,
            [Arg((B, LOOP_STEPS), fill="unit"), Arg((3,), batched=False)],
            atol=1e-5,
        ),
    ],
)
@raw_inputs
def lower_scan(ctx, eqn, *inputs):
    params = eqn.params
    num_consts, num_carry = params["num_consts"], params["num_carry"]
    consts, carry, xs = (
        inputs[:num_consts],
        inputs[num_consts : num_consts + num_carry],
        inputs[num_consts + num_carry :],
    )
    length = params["length"]
    # A PRNG key in the carry or consts (a sampler's fori_loop) has no TF form, so it cannot be a
    # loop variable: such a scan is unrolled at any length, and its key work folds step by step.
    keys = any(hints(value).prng_key is not None for value in (*consts, *carry))
    unroll = is_static(length) and should_unroll(int(length), params["jaxpr"].jaxpr, params.get("unroll", 1))
    if unroll or (is_static(length) and keys):
        return _scan_unrolled(ctx, eqn, list(consts), list(carry), list(xs))
    return _scan_loop(ctx, eqn, list(consts), list(carry), list(xs))


def _refine_until_converged(x):
    """Newton's square root of |x| + 1, until every element moved less than 1e-4 or 50 steps:
    the trip count depends on the data, the guard bounds it."""

    def keep_going(state):
        _, delta, step = state
        return (delta > 1e-4) & (step < 50)

    def refine(state):
        y, _, step = state
        better = 0.5 * (y + (jnp.abs(x) + 1.0) / y)
        return better, jnp.max(jnp.abs(better - y)), step + 1

    y, _, steps = lax.while_loop(keep_going, refine, (jnp.ones_like(x), jnp.float32(1.0), 0))
    return y, steps


def _fori_traced_bound(n, x):
    """fori_loop with a bound that is an input: traced as while (counter, bound, carry)."""
    return lax.fori_loop(0, n, lambda i, c: c * 0.5 + i.astype(c.dtype), x)


@rule(
    "while",
    tf_ops=("StatelessWhile", "Any", "SelectV2", "ExpandDims"),
    limits="always a StatelessWhile (its trip count is data): TF.js runs the graph with executeAsync",
    cases=[
        Case("while_converge", _refine_until_converged, [Arg((B, 4), fill="positive")], atol=1e-4, rtol=1e-4),
        Case(
            "fori_traced_bound",
            _fori_traced_bound,
            [Arg((), "int32", "int", high=6, batched=False), Arg((B, 3))],
        ),
        Case(  # vmapped: one flag per example; finished examples keep their carry
            "while_vmapped",
            lambda x: jax.vmap(
                lambda v: lax.while_loop(
                    lambda c: c[1] < jnp.abs(c[0]).sum() * 2, lambda c: (c[0] * 0.5, c[1] + 1.0), (v, 0.0)
                )
            )(x),
            [Arg((B, 4))],
        ),
        Case(
            "while_closed_over_weight",
            lambda x, w: lax.while_loop(lambda c: jnp.sum(c * w) < 20.0, lambda c: c * 1.5 + w, x),
            [Arg((B, 3), fill="positive"), Arg((3,), fill="positive", batched=False)],
            rtol=1e-4,
        ),
    ],
)
@raw_inputs
def lower_while(ctx, eqn, *inputs):
    params = eqn.params
    cond_closed, body_closed = params["cond_jaxpr"], params["body_jaxpr"]
    cond_n, body_n = params["cond_nconsts"], params["body_nconsts"]
    values = [materialize(v) for v in inputs[: cond_n + body_n]]
    cond_consts, body_consts = values[:cond_n], values[cond_n:]
    avals = [v.aval for v in eqn.invars[cond_n + body_n :]]
    init = [_loop_value(v, aval) for v, aval in zip(inputs[cond_n + body_n :], avals, strict=True)]
    scope = _BodyScope(ctx, "while")

    # jax.vmap of a while_loop whose test depends on the batched value leaves one flag per example
    # (cond_jaxpr returns bool[n]): loop while any is true, and keep the finished examples' carries,
    # as JAX's own lowering does (every carry then has the flag's shape in front).
    per_example = len(cond_closed.out_avals[0].shape) > 0

    def flag_of(state):
        (flag,) = eval_jaxpr(ctx, cond_closed.jaxpr, cond_closed.consts, [*cond_consts, *state])
        return materialize(flag)

    def keep_going(*state):
        return scope.run(lambda: tf.reduce_any(flag_of(state)) if per_example else flag_of(state))

    def body(*state):
        def build():
            outputs = eval_jaxpr(ctx, body_closed.jaxpr, body_closed.consts, [*body_consts, *state])
            new = [_loop_value(v, aval) for v, aval in zip(outputs, avals, strict=True)]
            if not per_example:
                return new
            flag = flag_of(state)
            return [
                tf.where(_leading(flag, aval), n, old) for n, old, aval in zip(new, state, avals, strict=True)
            ]

        return scope.run(build)

    invariants = [_shape_invariant(aval) for aval in avals]
    return list(tf.while_loop(keep_going, body, init, shape_invariants=invariants))


def _leading(flag, aval):
    """A per-example flag with size-1 axes appended, to select over a carry of `aval`'s rank."""
    for _ in range(len(aval.shape) - flag.shape.rank):
        flag = tf.expand_dims(flag, -1)
    return flag
