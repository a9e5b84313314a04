"""Every lowering rule against JAX: one generated test per parity case in the rule registry.

Each case runs at two batch sizes through one graph with a dynamic batch dim. Outputs must come
back in the dtype the export promises (`exported_dtype`: TF.js has no uint8/int8/int16, so those
arrive as int32), and integers and booleans must then equal JAX's values exactly: no cast on the
TF side that could hide a missing wraparound.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.parity import all_cases, batch_sizes, run_case
from jax2tfjs.lowering.context import exported_dtype

CASES = {key: case for key, (_, case) in all_cases().items()}


def assert_matches_jax(want: np.ndarray, got: np.ndarray, atol: float, rtol: float) -> None:
    assert got.shape == want.shape
    assert got.dtype == exported_dtype(want.dtype), f"JAX gives {want.dtype}, the export {got.dtype}"
    if want.dtype == np.bool_ or np.issubdtype(want.dtype, np.integer):
        # JAX's values in the exported dtype: widening is exact, so a uint8 200 must be int32 200.
        np.testing.assert_array_equal(got, want.astype(got.dtype))
    else:
        # |tf - jax| <= atol + rtol * |jax|: atol scaled to the magnitude of the outputs.
        scale = max(1.0, float(np.nanmax(np.abs(want)))) if want.size else 1.0
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_lowering_matches_jax(case):
    for batch in batch_sizes(case):
        expected, actual = run_case(case, batch)
        assert len(expected) == len(actual)
        for want, got in zip(expected, actual, strict=True):
            assert_matches_jax(want, got, case.atol, case.rtol)


def test_narrow_ints_are_compared_in_the_exported_dtype_without_a_cast():
    want = np.array([200, 7], np.uint8)
    assert_matches_jax(want, np.array([200, 7], np.int32), 0, 0)
    with pytest.raises(AssertionError):  # 456 is 200 + 256: the wraparound is missing
        assert_matches_jax(want, np.array([456, 7], np.int32), 0, 0)
    with pytest.raises(AssertionError, match="the export uint8"):  # not what the export promises
        assert_matches_jax(want, want, 0, 0)


def test_batched_cases_run_at_two_batch_sizes():
    sizes = {key: batch_sizes(case) for key, case in CASES.items()}
    assert sizes["dot/dense"] == (3, 1)
    assert all(len(set(s)) == 2 for key, s in sizes.items() if CASES[key].batched), sizes
