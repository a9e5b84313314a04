"""Each TF op names the equation that really made it, so J2T303 points at the right user line.

A deferred value (here a broadcast onto the dynamic batch) is built only when a later equation
reads it; its ops belong to the line that asked for the broadcast, not to the reader's line.
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import pytest

from bench.parity import lower_case
from jax2tfjs.errors import LoweringError, MissingTfjsOpError
from jax2tfjs.export import tfjs_convert
from jax2tfjs.lowering import RULES
from jax2tfjs.lowering.context import LoweringContext, Origin
from jax2tfjs.lowering.interpreter import raw_inputs
from jax2tfjs.lowering.registry import Arg, Case, Rule


def _widen_then_use(x, v):
    wide = jnp.broadcast_to(v, (x.shape[0], 3, 4))  # the broadcast's line
    return jnp.tanh(wide).reshape(x.shape[0], 12) + x  # the line that reads it


def _line(marker: str) -> int:
    lines = Path(__file__).read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.rstrip().endswith(marker))


CASE = Case("widen_then_use", _widen_then_use, [Arg((2, 12)), Arg((4,), batched=False)])


def test_a_deferred_broadcast_is_charged_to_its_own_line():
    lowered = lower_case(CASE)
    (broadcast,) = [e for e in lowered.emissions if e.op_type == "BroadcastTo"]
    assert broadcast.origin.primitive == "broadcast_in_dim"
    assert f"{__file__}:{_line('# the broadcast' + chr(39) + 's line')}:" in broadcast.origin.source
    (tanh,) = [e for e in lowered.emissions if e.op_type == "Tanh"]
    assert f"{__file__}:{_line('# the line that reads it')}:" in tanh.origin.source


def test_missing_tfjs_op_error_names_the_line_that_made_the_op(monkeypatch):
    lowered = lower_case(CASE)
    without_broadcast = tfjs_convert.tfjs_op_names() - {"BroadcastTo"}
    monkeypatch.setattr(tfjs_convert, "tfjs_op_names", lambda: without_broadcast)
    with pytest.raises(MissingTfjsOpError) as err:
        tfjs_convert.check_ops([kind for _, kind in lowered.graph_ops], lowered.ctx.op_sources)
    line = _line("# the broadcast" + chr(39) + "s line")
    assert f"BroadcastTo from 'broadcast_in_dim' at {__file__}:{line}:" in str(err.value)


def _failing_widen(ctx, eqn, x):
    """A rule for sin whose deferred value fails when built, as a rule meeting parameters it
    cannot express would: the failure happens inside sin's equation, on tanh's read."""

    def build():
        raise ValueError("cannot widen")

    return ctx.defer(build)


def _defer_then_read(x):
    deferred = jnp.sin(x)  # the deferring line
    return jnp.tanh(deferred)  # the reading line


def test_a_deferred_failure_names_both_the_producer_and_the_reader(monkeypatch):
    monkeypatch.setitem(RULES, "sin", Rule("sin", raw_inputs(_failing_widen), ("Sin",), "", group=("sin",)))
    with pytest.raises(LoweringError) as err:
        lower_case(Case("defer_then_read", _defer_then_read, [Arg((2, 3))]))
    message = str(err.value)
    reader = f"lowering 'tanh' at {__file__}:{_line('# the reading line')}:"
    producer = f"building the value deferred by 'sin' at {__file__}:{_line('# the deferring line')}:"
    assert reader in message, message
    assert producer in message and "ValueError: cannot widen" in message


def test_a_deferred_failure_in_the_output_names_its_producer(monkeypatch):
    monkeypatch.setitem(RULES, "sin", Rule("sin", raw_inputs(_failing_widen), ("Sin",), "", group=("sin",)))
    with pytest.raises(LoweringError) as err:
        lower_case(Case("defer_to_output", _defer_to_output, [Arg((2, 3))]))
    line = _line("# deferred into the output")
    assert f"building the model's output, deferred by 'sin' at {__file__}:{line}:" in str(err.value)


def _defer_to_output(x):
    return jnp.sin(x)  # deferred into the output


def test_the_innermost_equation_of_a_failure_is_kept():
    # A deferred value whose build reads another deferred value fails in the inner one; the
    # outer equations the same exception passes through must not claim it.
    ctx = LoweringContext()
    inner, outer = Origin("mul", "inner.py:2"), Origin("add", "outer.py:1")
    with pytest.raises(ValueError) as err, ctx.emitting(outer), ctx.emitting(inner):
        raise ValueError("inner fails")
    assert ctx.failed_in(err.value) == inner
    assert ctx.failed_in(ValueError("another error")) is None
    assert (ctx.origin, ctx.current_source) == (None, "<unknown>")
