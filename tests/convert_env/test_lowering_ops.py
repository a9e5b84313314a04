"""What each parity case really traces and emits, checked against the registry and TF.js.

A case must trace its rule's primitive (else it tests something else); every TF op an equation
emits must be declared in that primitive's rule and exist in TF.js's op list; every op of the
graph must name the equation that made it (MissingTfjsOpError points users at that line).
"""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import tensorflow as tf

from bench.parity import (
    all_cases,
    lower_case,
    measured_ops,
    misses_its_primitive,
    ops_tfjs_lacks,
    undeclared_ops,
)
from jax2tfjs.export.tfjs_convert import tfjs_op_names
from jax2tfjs.lowering import RULES
from jax2tfjs.lowering.registry import Arg, Case, Rule

CASES = all_cases()


@pytest.mark.parametrize("key", CASES.keys())
def test_case_traces_its_rules_primitive(key):
    primitive, case = CASES[key]
    lowered = lower_case(case)
    assert not misses_its_primitive(RULES[primitive], lowered), (
        f"{key} traces {sorted(lowered.primitives)}, none of its rule's {RULES[primitive].group}"
    )


@pytest.mark.parametrize("key", CASES.keys())
def test_case_emits_only_declared_ops(key):
    assert undeclared_ops(lower_case(CASES[key][1]), RULES) == {}, (
        "add them to the rule's tf_ops, or stop emitting them"
    )


@pytest.mark.parametrize("key", CASES.keys())
def test_case_emits_only_ops_tfjs_has(key):
    assert ops_tfjs_lacks(lower_case(CASES[key][1]), tfjs_op_names()) == {}


# The checks above, fed bad cases on purpose: each must report what is wrong.


def _sin_rule(lower=lambda ctx, eqn, x: tf.sin(x), tf_ops=("Sin",)):
    return Rule("sin", lower, tf_ops, limits="", group=("sin",))


def test_an_undeclared_op_is_reported():
    lowered = lower_case(Case("sin", jnp.sin, [Arg((2, 3))]))
    declared_cos_only = {**RULES, "sin": _sin_rule(tf_ops=("Cos",))}
    assert undeclared_ops(lowered, declared_cos_only) == {"sin": ["Sin"]}


def test_an_op_tfjs_lacks_is_reported(monkeypatch):
    # A rule that lowers sin through Lgamma, an op TF.js's op list does not have.
    monkeypatch.setitem(RULES, "sin", _sin_rule(lambda ctx, eqn, x: tf.math.lgamma(x), ("Lgamma",)))
    lowered = lower_case(Case("sin_via_lgamma", jnp.sin, [Arg((2, 3))]))
    assert "Lgamma" not in tfjs_op_names()
    assert ops_tfjs_lacks(lowered, tfjs_op_names()) == {"sin": ["Lgamma"]}


def test_a_case_that_misses_its_rules_primitive_is_reported():
    lowered = lower_case(Case("cos_not_sin", jnp.cos, [Arg((2, 3))]))
    assert misses_its_primitive(_sin_rule(), lowered)
    assert not misses_its_primitive(RULES["cos"], lowered)


@pytest.mark.parametrize("key", CASES.keys())
def test_every_op_names_the_equation_that_made_it(key):
    assert lower_case(CASES[key][1]).unattributed_ops() == []


def test_every_primitive_of_a_rule_is_traced_by_one_of_its_cases():
    untraced = [
        name for name, rule in RULES.items() if not any(name in lower_case(c).primitives for c in rule.cases)
    ]
    assert untraced == []


def test_every_declared_op_is_emitted_by_some_case():
    # A declared op no case emits is either stale or untested: both make docs/coverage.md lie.
    measured = measured_ops()
    stale = {}
    for rule in {r.group: r for r in RULES.values()}.values():
        emitted = set().union(*(measured.get(p, set()) for p in rule.group))
        if set(rule.tf_ops) - emitted:
            stale[rule.group] = sorted(set(rule.tf_ops) - emitted)
    assert stale == {}
