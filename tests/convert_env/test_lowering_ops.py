"""What each parity case really traces and emits, checked against the registry and TF.js.

A case must trace its rule's primitive (else it tests something else); every TF op an equation
emits must be declared in that primitive's rule and exist in TF.js's op list; every op of the
graph must name the equation that made it (MissingTfjsOpError points users at that line).
"""

from __future__ import annotations

import pytest

from bench.parity import all_cases, lower_case, measured_ops
from jax2tfjs.export.tfjs_convert import tfjs_op_names
from jax2tfjs.lowering import RULES

CASES = all_cases()


@pytest.mark.parametrize("key", CASES.keys())
def test_case_traces_its_rules_primitive(key):
    primitive, case = CASES[key]
    group = RULES[primitive].group
    traced = lower_case(case).primitives
    assert set(group) & traced, f"{key} traces {sorted(traced)}, none of its rule's {group}"


@pytest.mark.parametrize("key", CASES.keys())
def test_case_emits_only_declared_ops(key):
    emitted = lower_case(CASES[key][1]).emitted_ops()
    undeclared = {p: sorted(ops - set(RULES[p].tf_ops)) for p, ops in emitted.items()}
    assert not {p: ops for p, ops in undeclared.items() if ops}, (
        "add them to the rule's tf_ops, or stop emitting them"
    )


@pytest.mark.parametrize("key", CASES.keys())
def test_case_emits_only_ops_tfjs_has(key):
    missing = {p: sorted(ops - tfjs_op_names()) for p, ops in lower_case(CASES[key][1]).emitted_ops().items()}
    assert not {p: ops for p, ops in missing.items() if ops}


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
