"""bitcast_convert_type on denormals, in TF.js, and the widths it refuses: what the parity cases cannot say.

TensorFlow's CPU kernels flush denormals to zero, so the registered cases (run in TF too) hold none;
TF.js's cpu and wasm backends keep them, and there the bits must be exact.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from test_lowering_tfjs import check_outcome

from bench.parity import lower_case
from bench.parity_tfjs import TfjsParity
from jax2tfjs.errors import Jax2TfjsError
from jax2tfjs.lowering.registry import Arg, Case

# 2**-149 (the smallest), 0x007fffff (the largest), 0x00400000, and their negatives, and one between.
_DENORMAL_PATTERNS = [1, 0x007FFFFF, 0x00400000, -(2**31) + 1, -(2**31) + 0x007FFFFF, 0x00012345]
_DENORMALS = np.array(_DENORMAL_PATTERNS, np.int32).view(np.float32).tolist()


def _ints(x):
    return x * 0 + jnp.array(_DENORMAL_PATTERNS, jnp.int32)


def _floats(x):
    """Selected, not computed: XLA's CPU arithmetic flushes denormals too (measured: (x * 0 + 1) * d
    gave JAX ±0's bits), while a select passes them through."""
    return jnp.where(jnp.isnan(x), x, jnp.array(_DENORMALS, jnp.float32))


DENORMAL_CASES = {
    "bits/float_to_int": Case(
        "float_to_int", lambda x: lax.bitcast_convert_type(_floats(x), jnp.int32), [Arg((3, 6))]
    ),
    "bits/int_to_float": Case(
        "int_to_float",
        lambda x: lax.bitcast_convert_type(_ints(x), jnp.float32),
        [Arg((3, 6), "int32", "int")],
        atol=0,
        rtol=0,
    ),
    "bits/roundtrip": Case(
        "roundtrip",
        lambda x: lax.bitcast_convert_type(lax.bitcast_convert_type(_ints(x), jnp.float32), jnp.uint32),
        [Arg((3, 6), "int32", "int")],
    ),
}


@pytest.fixture(scope="module")
def denormal_parity(tmp_path_factory) -> TfjsParity:
    return TfjsParity(tmp_path_factory.mktemp("bit-casts"), DENORMAL_CASES)


def test_the_denormal_patterns_are_denormals():
    assert all(0 < abs(value) < 2.0**-126 for value in _DENORMALS)


@pytest.mark.parametrize("backend", ["cpu", "wasm"])
@pytest.mark.parametrize("key", DENORMAL_CASES)
def test_denormal_bits_are_exact_in_tfjs(denormal_parity, backend, key):
    check_outcome(denormal_parity, backend, key)


@pytest.mark.parametrize(
    ("fn", "arg"),
    [
        (lambda x: lax.bitcast_convert_type(x, jnp.uint8), Arg((3, 4))),  # a new minor dim of 4 bytes
        (lambda x: lax.bitcast_convert_type(x, jnp.int16), Arg((3, 4), "float16")),
        (lambda x: lax.bitcast_convert_type(x, jnp.uint16), Arg((3, 4), "int16", "int")),
    ],
    ids=["float32_to_uint8", "float16_to_int16", "int16_to_uint16"],
)
def test_other_widths_and_dtypes_are_refused_with_the_reason(fn, arg):
    with pytest.raises(Jax2TfjsError, match="only float32 <-> int32/uint32 and int32 <-> uint32"):
        lower_case(Case("refused", fn, [arg]))
