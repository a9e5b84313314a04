"""Every primitive of the installed JAX is accounted for: lowered, folded only, refused with a reason,
or in a named group of primitives that cannot appear in a one-device inference graph."""

from __future__ import annotations

import jax
import pytest

from bench import coverage_doc
from bench.parity import lower_case
from jax2tfjs.errors import UnsupportedPrimitiveError
from jax2tfjs.lowering import NOT_SUPPORTED, RULES
from jax2tfjs.lowering.inference_scope import FOLDED_ONLY, OUTSIDE_INFERENCE, group_of
from jax2tfjs.lowering.primitives import live_primitives
from jax2tfjs.lowering.registry import Arg, Case


def test_every_live_primitive_is_in_exactly_one_class():
    classes = coverage_doc.scope()
    seen = [name for names in classes.values() for name in names]
    assert sorted(seen) == sorted(coverage_doc.installed_primitives())
    assert coverage_doc.installed_primitives() <= live_primitives()  # this process may have more
    assert len(seen) == len(set(seen))


def test_groups_hold_live_primitives_without_rules_and_do_not_overlap():
    live = coverage_doc.installed_primitives()
    grouped = [name for group in OUTSIDE_INFERENCE for name in group.names]
    assert len(grouped) == len(set(grouped))
    assert sorted(set(grouped) - live) == []
    assert sorted(set(grouped) & set(RULES)) == []
    assert sorted(FOLDED_ONLY - live) == [] and sorted(FOLDED_ONLY & set(RULES)) == []
    assert sorted(FOLDED_ONLY & set(grouped)) == []


def test_every_refused_or_folded_only_primitive_has_a_reason():
    classes = coverage_doc.scope()
    assert [name for name in classes["refused"] + classes["folded"] if name not in NOT_SUPPORTED] == []


def test_at_least_nine_in_ten_inference_possible_primitives_convert():
    classes = coverage_doc.scope()
    possible = len(classes["lowered"]) + len(classes["folded"]) + len(classes["refused"])
    converted = len(classes["lowered"]) + len(classes["folded"])
    assert converted / possible >= 0.9, coverage_doc.headline(classes)


def test_a_primitive_outside_inference_is_refused_with_its_groups_reason():
    def printing(x):
        jax.debug.print("x = {}", x)  # DEBUG LINE
        return x * 2.0

    assert group_of("debug_print") is not None
    with pytest.raises(UnsupportedPrimitiveError) as err:
        lower_case(Case("printing", printing, [Arg((2, 3))]))
    message = str(err.value)
    assert "J2T301" in message and "debug_print" in message
    assert "calls back into Python" in message and "test_inference_scope.py:" in message
