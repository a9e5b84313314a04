"""Each TF op names the equation that really made it, so J2T303 points at the right user line.

A deferred value (here a broadcast onto the dynamic batch) is built only when a later equation
reads it; its ops belong to the line that asked for the broadcast, not to the reader's line.
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import pytest

from bench.parity import lower_case
from jax2tfjs.errors import MissingTfjsOpError
from jax2tfjs.export import tfjs_convert
from jax2tfjs.lowering.registry import Arg, Case


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
