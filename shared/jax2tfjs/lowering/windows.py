"""The generic reduce_window: a jaxpr body over one or more operands (lax.reduce_window with a
computation JAX does not map to reduce_window_sum/_max/_min, or an init value that is not the op's
identity).

Each output's body must be one monoid op of its accumulator and element (reduction_bodies); each is
then reduced like reduce_window_sum/_max/_min (pooling). XLA combines the init value once per window
and skips padding (measured on jax 0.10.2's CPU backend: a window sum with init 5 over [1, 2] is 8,
a window wholly in padding is 5), so a non-identity init is combined once afterwards.
"""

from __future__ import annotations

import numpy as np
from jax import lax

from jax2tfjs.lowering.context import constant_value, materialize
from jax2tfjs.lowering.interpreter import raw_inputs
from jax2tfjs.lowering.pooling import SLICE_OPS, reduce_window_with
from jax2tfjs.lowering.reduction_bodies import body_text, monoids_of
from jax2tfjs.lowering.registry import Arg, Case, rule
from jax2tfjs.lowering.window_slices import Window

B = 2


def _window(operands, inits, body, dims, strides, padding, base=None, dilation=None):
    return lax.reduce_window(operands, inits, body, dims, strides, padding, base, dilation)


@rule(
    "reduce_window",
    tf_ops=(
        "MaxPool",
        "AvgPool",
        "Neg",
        "Squeeze",
        "Maximum",
        "Mul",
        "AddV2",
        "LogicalAnd",
        "LogicalOr",
        "NotEqual",
        "PadV2",
        *SLICE_OPS,
    ),
    limits=(
        "bodies where each output is one add, mul, max, min, and, or (or a boolean xor) of its accumulator "
        "and element; others (e.g. a windowed argmax pair) are refused. A non-identity init is combined "
        "once per window, as XLA does"
    ),
    cases=[
        Case(  # init 5 is not add's identity: XLA adds it once per window, empty windows give 5
            "sum_init_five",
            lambda x: _window(x, 5.0, lax.add, (1, 2, 2), (1, 2, 1), ((0, 0), (2, 2), (0, 1))),
            [Arg((B, 4, 3))],
        ),
        Case(
            "product",
            lambda x: _window(x, 1.0, lax.mul, (1, 2, 2), (1, 1, 1), ((0, 0), (1, 0), (0, 0))),
            [Arg((B, 4, 5), fill="unit")],
        ),
        Case(  # max with a floor of 0.5: a clipped max pool
            "max_floor",
            lambda x: _window(x, 0.5, lax.max, (1, 3, 1), (1, 2, 1), "SAME"),
            [Arg((B, 7, 2))],
        ),
        Case(
            "min_and_sum_pair",
            lambda x: _window(
                (x, x),
                (np.float32(np.inf), np.float32(0.0)),
                lambda a, b: (lax.min(a[0], b[0]), lax.add(b[1], a[1])),
                (1, 2, 2, 1),
                (1, 1, 2, 1),
                "VALID",
            ),
            [Arg((B, 5, 6, 2))],
        ),
        Case(  # "any in the window" and "all in the window" over booleans, dilated
            "any_all_bool",
            lambda x: (
                lambda m: _window(
                    (m, m),
                    (False, True),
                    lambda a, b: (a[0] | b[0], a[1] & b[1]),
                    (1, 2),
                    (1, 1),
                    ((0, 0), (1, 1)),
                    (1, 1),
                    (1, 2),
                )
            )(x > 0),
            [Arg((B, 6))],
        ),
        Case(  # parity of the window's trues
            "xor_bool",
            lambda x: _window(x > 0, False, lax.bitwise_xor, (1, 3), (1, 1), "VALID"),
            [Arg((B, 6))],
        ),
        Case(
            "int_window_product_traced_init",
            lambda x: _window(x, x[0, 0], lax.mul, (1, 2), (1, 2), ((0, 0), (1, 0))),
            [Arg((B, 5), "int32", "int", high=4)],
        ),
    ],
)
@raw_inputs
def lower_reduce_window(ctx, eqn, *values):
    count = len(eqn.outvars)
    operands, inits = values[:count], values[count:]
    body = eqn.params["jaxpr"]
    monoids = monoids_of(body, count)
    if monoids is None:
        raise NotImplementedError(
            "reduce_window bodies must combine each accumulator with its element by one add, mul, max, "
            f"min, and, or or xor; this one computes: {body_text(body)}"
        )
    window = Window.of(eqn.params)
    outputs = []
    for k, monoid in enumerate(monoids):
        x = materialize(operands[k])
        y = reduce_window_with(ctx, x, eqn.invars[k].aval.shape, eqn.outvars[k].aval.shape, window, monoid)
        init = constant_value(inits[k])
        if init is None or not np.array_equal(init, monoid.identity_value(x.dtype)):
            y = monoid.combine(materialize(y), materialize(inits[k]))
        outputs.append(y)
    return outputs
