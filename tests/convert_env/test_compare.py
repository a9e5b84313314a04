"""The one comparison rule (jax2tfjs.compare): relative error, its edge cases, and the exit codes."""

from __future__ import annotations

import numpy as np
import pytest

from jax2tfjs import compare
from jax2tfjs.errors import EXIT_INTERRUPTED, EXIT_MEMORY_LIMIT, EXIT_USER_ERROR


def test_small_outputs_are_held_to_the_absolute_difference():
    reference = np.array([[0.1, 0.9], [0.5, 0.5]])
    result = compare.compare(reference + 1e-3, reference)
    assert result.max_abs_diff == pytest.approx(1e-3)
    assert result.rel_err == pytest.approx(1e-3)
    assert not result.within() and compare.compare(reference + 5e-5, reference).within()


def test_large_outputs_are_scaled_by_the_largest_reference_value():
    reference = np.array([[100.0, -500.0, 3.0]])
    result = compare.compare(reference + 0.05, reference)
    assert result.max_abs_diff == pytest.approx(0.05)
    assert result.rel_err == pytest.approx(0.05 / 500)


def test_mismatched_shapes_and_new_nans_are_infinite_but_shared_nans_agree():
    reference = np.array([[1.0, np.nan]])
    assert compare.compare(np.array([[1.0, np.nan]]), reference).rel_err == 0.0
    assert compare.compare(np.array([[np.nan, np.nan]]), reference).rel_err == float("inf")
    assert compare.compare(np.ones((2, 2)), np.ones((2, 3))) == compare.MISMATCH


def test_argmax_agreement_and_accuracy():
    reference = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.8], [0.9, 0.1]])
    flipped = reference.copy()
    flipped[0] = [1.0, 0.0]
    assert compare.compare(flipped, reference).argmax_agreement == 0.75
    assert compare.compare(np.ones(4), np.ones(4)).argmax_agreement is None  # no class axis
    assert compare.accuracy(reference, [1, 0, 1, 1]) == 0.75
    assert compare.drop_points(0.98, 0.975) == pytest.approx(0.5)


def test_exit_codes_are_one_table_that_agrees_with_the_errors_module():
    assert compare.EXIT_CODES[EXIT_USER_ERROR] and compare.EXIT_CODES[EXIT_MEMORY_LIMIT]
    assert compare.EXIT_THRESHOLDS_MISSED == 4 and 4 in compare.EXIT_CODES
    assert compare.EXIT_CODES[EXIT_INTERRUPTED]
    assert set(compare.EXIT_CODES) == {0, 1, 2, 4, 86, 130, 137, 141, 143}


def test_golden_limits_per_quantization_are_the_ones_verify_judges_with():
    from jax2tfjs.verify.thresholds import Thresholds

    assert compare.golden_limit("none") == compare.TOLERANCE
    assert compare.golden_limit("float16") == 2e-3 and compare.golden_limit("uint16") == 5e-4
    assert compare.golden_limit("uint8") == 5e-2
    assert compare.golden_limit("int4") == compare.TOLERANCE  # unknown: held to the strictest
    for quantization in compare.GOLDEN_LIMITS:
        assert Thresholds().max_rel_err(quantization) == compare.golden_limit(quantization)
