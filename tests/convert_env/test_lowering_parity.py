"""Every lowering rule against JAX: one generated test per parity case in the rule registry."""

from __future__ import annotations

import numpy as np
import pytest

from bench.parity import run_case
from jax2tfjs.lowering import NOT_SUPPORTED, RULES, registry

CASES = {}
for _rule in RULES.values():
    for _case in _rule.cases:
        CASES.setdefault(f"{_rule.module.rsplit('.', 1)[-1]}/{_case.name}", _case)

# Rules whose primitive current JAX no longer emits; kept so older jaxprs still lower.
LEGACY = {"expand_dims", "pjit", "closed_call", "core_call", "checkpoint", "custom_vjp_call_jaxpr"}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_lowering_matches_jax(case):
    expected, actual, _ = run_case(case)
    assert len(expected) == len(actual)
    for want, got in zip(expected, actual, strict=True):
        assert got.shape == want.shape
        if want.dtype == np.bool_ or np.issubdtype(want.dtype, np.integer):
            np.testing.assert_array_equal(got.astype(want.dtype), want)
        else:
            # |tf - jax| <= atol + rtol * |jax|: atol scaled to the magnitude of the outputs.
            np.testing.assert_allclose(
                got, want, rtol=case.rtol, atol=case.atol * max(1.0, float(np.nanmax(np.abs(want))))
            )


def test_every_rule_has_a_parity_case_unless_legacy():
    missing = sorted(name for name, rule in RULES.items() if not rule.cases and name not in LEGACY)
    assert missing == []


def test_a_primitive_is_either_lowered_or_refused_never_both():
    assert not set(RULES) & set(NOT_SUPPORTED)


def test_registering_a_primitive_twice_raises():
    with pytest.raises(ValueError, match="registered twice"):
        registry.rule("add", tf_ops=("AddV2",))(lambda ctx, eqn, x, y: x)
