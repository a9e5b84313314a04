"""Math rules beyond their parity cases: special functions on dense grids, reduce_precision and
nextafter bit-exact on many values (denormals too, in TF.js), integer refusals.

The same graphs run in TensorFlow and in TF.js (Node, cpu and wasm). Special functions are measured
against scipy in float64 ("truth") and against JAX (float32): the error is |got - ref| / max(1, |ref|)
(absolute below 1, relative above). Measured here (jax 0.10.2, tfjs 4.22), max over each grid:

| function (grid) | TF | TF.js cpu | TF.js wasm | JAX itself | TF vs JAX |
| --- | --- | --- | --- | --- | --- |
| erf_inv, 26,001 points in (-1, 1), tails to 1 - 6e-8 | 1.9e-7 | 1.9e-7 | 1.9e-7 | 5.7e-6 | 5.7e-6 |
| lgamma, 44,962 points in [-30, 1e6], poles excluded | 7.1e-7 | 7.1e-7 | 7.1e-7 | 3.0e-6 | 2.9e-6 |
| digamma, the same grid | 7.3e-7 | 6.7e-7 | 6.7e-7 | 1.1e-6 | 1.1e-6 |
| bessel_i0e, 24,001 points in [-1e4, 1e4] | 1.3e-7 | 1.1e-7 | 1.1e-7 | 3.0e-7 | 3.0e-7 |
| bessel_i1e, the same grid | 6.3e-8 | 5.8e-8 | 5.8e-8 | 1.3e-7 | 1.3e-7 |

(Columns but the last are against scipy's float64 value; JAX's own float32 kernels are the less
accurate side. `-s` prints these numbers and the worst point; MEASURED_BOUND checks them.)
reduce_precision (bfloat16, float16, e4m3, e5m2, e3m1 on 20,000 random bit patterns, 9,000
halfway-and-neighbour values, the edges) and nextafter (4,000 random pairs, denormals, ±0, ±inf,
NaN) are bit-exact against JAX in TF.js cpu and wasm, and in TF except for denormals (TF's CPU
kernels flush them). TF.js wasm traps measured on the way: its Sign returns 0 for |x| <= 1e-7, and a
SelectV2 choosing between two boolean tensors read out of bounds and broke every later model in
the Node process.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
from jax import lax

from bench.parity import lower_case, run_case
from bench.parity_tfjs import TfjsParity
from jax2tfjs.errors import Jax2TfjsError
from jax2tfjs.lowering.registry import NOT_SUPPORTED, Arg, Case

BACKENDS = ("cpu", "wasm")
SMALLEST_NORMAL = np.float32(2.0**-126)


def grid_case(name: str, fn, grid: np.ndarray) -> Case:
    """`fn` applied to a constant grid (added to an input times 0, so nothing folds it away)."""
    grid = np.asarray(grid, np.float32)
    return Case(name, lambda d: fn(d * 0.0 + grid), [Arg((1,), batched=False)], batched=False)


def _special_grids() -> dict[str, tuple[Case, np.ndarray, np.ndarray]]:
    """name → (case, grid, float64 truth)."""
    near_one = 1.0 - np.logspace(-7.2, -1, 3000)
    erf_grid = np.concatenate([np.linspace(-0.999, 0.999, 20001), near_one, -near_one]).astype(np.float32)
    positive = np.concatenate([np.logspace(-6, 6, 20000), np.linspace(0.5, 12, 5000)]).astype(np.float32)
    negative = (-np.linspace(0.01, 30, 20000)).astype(np.float32)
    negative = negative[np.abs(negative - np.round(negative)) > 1e-3]  # away from the poles
    lgamma_grid = np.concatenate([positive, negative])
    bessel_grid = np.concatenate(
        [np.linspace(-40, 40, 16001), np.logspace(-3, 4, 4000), -np.logspace(-3, 4, 4000)]
    )
    bessel_grid = bessel_grid.astype(np.float32)
    grids = {
        "erf_inv": (lax.erf_inv, erf_grid, scipy.special.erfinv),
        "lgamma": (lax.lgamma, lgamma_grid, scipy.special.gammaln),
        "digamma": (lax.digamma, lgamma_grid, scipy.special.digamma),
        "bessel_i0e": (lax.bessel_i0e, bessel_grid, scipy.special.i0e),
        "bessel_i1e": (lax.bessel_i1e, bessel_grid, scipy.special.i1e),
    }
    return {
        name: (grid_case(f"{name}_grid", fn, grid), grid, truth(grid.astype(np.float64)))
        for name, (fn, grid, truth) in grids.items()
    }


GRIDS = _special_grids()
# Upper bounds on the mixed error (absolute below 1, relative above) over each grid, measured.
MEASURED_BOUND = {
    "erf_inv": 5e-7,
    "lgamma": 1.5e-6,
    "digamma": 1.5e-6,
    "bessel_i0e": 2e-6,
    "bessel_i1e": 2e-6,
}


def mixed_errors(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.abs(got.astype(np.float64) - ref) / np.maximum(1.0, np.abs(ref))


def mixed_error(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(mixed_errors(got, ref)))


@pytest.fixture(scope="module")
def tfjs_special(tmp_path_factory) -> TfjsParity:
    cases = {f"math/{name}": case for name, (case, _, _) in GRIDS.items()}
    return TfjsParity(tmp_path_factory.mktemp("math-special"), cases)


@pytest.mark.parametrize("name", GRIDS)
def test_special_functions_are_accurate_in_tf_and_tfjs(name, tfjs_special):
    case, grid, truth = GRIDS[name]
    (expected,), (tf_got,) = run_case(case)
    errors = {"jax": mixed_error(np.asarray(expected), truth), "tf": mixed_error(tf_got, truth)}
    for backend in BACKENDS:
        outcome = tfjs_special.outcomes(backend)[f"math/{name}"]
        assert outcome.error is None, outcome.error
        ((_, _, (got,)),) = outcome.runs
        got = np.asarray(got, np.float32)
        errors[f"tfjs {backend}"] = mixed_error(got, truth)
        worst = int(np.argmax(mixed_errors(got, truth)))
        print(f"{name} {backend}: worst at x={grid[worst]!r}: {got[worst]!r} vs {truth[worst]!r}")
    errors["tf vs jax"] = mixed_error(tf_got, np.asarray(expected, np.float64))
    print(
        f"{name}: max error over {grid.size} points: " + ", ".join(f"{k} {v:.2e}" for k, v in errors.items())
    )
    assert max(v for k, v in errors.items() if k not in ("jax", "tf vs jax")) <= MEASURED_BOUND[name], errors


def _random_floats(count: int, seed: int) -> np.ndarray:
    """float32s from uniformly random bit patterns (every exponent, denormals included), finite."""
    bits = np.random.default_rng(seed).integers(0, 2**32, count, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    return values[np.isfinite(values)]


def _halfway_floats(mantissa_bits: int, seed: int) -> np.ndarray:
    """Values exactly halfway between two neighbours at `mantissa_bits` (odd and even ones), and
    one float32 ulp either side of halfway."""
    rng = np.random.default_rng(seed)
    kept = rng.integers(2**mantissa_bits, 2 ** (mantissa_bits + 1), 3000).astype(np.float64)
    exponents = rng.integers(-30, 30, 3000)
    halfway = np.ldexp(kept + 0.5, exponents - mantissa_bits).astype(np.float32)
    signs = np.where(rng.random(3000) < 0.5, -1, 1).astype(np.float32)
    halfway = halfway * signs
    return np.concatenate([halfway, np.nextafter(halfway, np.inf), np.nextafter(halfway, -np.inf)])


FORMATS = {"bfloat16": (8, 7), "float16": (5, 10), "e4m3": (4, 3), "e5m2": (5, 2), "e3m1": (3, 1)}


def _precision_cases() -> dict[str, tuple[Case, np.ndarray]]:
    cases = {}
    for fmt, (exponent_bits, mantissa_bits) in FORMATS.items():
        values = np.concatenate(
            [
                _random_floats(20000, 1),
                _halfway_floats(mantissa_bits, 2),
                np.float32(
                    [0.0, -0.0, np.inf, -np.inf, np.nan, 65504, 65520, -65520, 3.4028235e38, -3.14159]
                ),
            ]
        )

        def fn(x, e=exponent_bits, m=mantissa_bits):
            return lax.reduce_precision(x, exponent_bits=e, mantissa_bits=m)

        cases[fmt] = (grid_case(f"reduce_precision_{fmt}", fn, values), values)
    return cases


PRECISION = _precision_cases()


@pytest.fixture(scope="module")
def tfjs_precision(tmp_path_factory) -> TfjsParity:
    cases = {f"math/{fmt}": case for fmt, (case, _) in PRECISION.items()}
    cases["math/nextafter"] = NEXTAFTER
    return TfjsParity(tmp_path_factory.mktemp("math-precision"), cases)


def assert_same_floats(got: np.ndarray, want: np.ndarray, where: str) -> None:
    got, want = np.asarray(got, np.float32), np.asarray(want, np.float32)
    same = (got == want) & (np.signbit(got) == np.signbit(want)) | (np.isnan(got) & np.isnan(want))
    wrong = np.flatnonzero(~same)
    assert wrong.size == 0, f"{where}: {wrong.size} differ, e.g. got {got[wrong[:5]]}, JAX {want[wrong[:5]]}"


@pytest.mark.parametrize("fmt", PRECISION)
def test_reduce_precision_is_bit_exact_in_tf_and_tfjs(fmt, tfjs_precision):
    case, values = PRECISION[fmt]
    (want,), (tf_got,) = run_case(case)
    want = np.asarray(want)
    # TF's CPU kernels flush denormals (FTZ/DAZ): compare TF where neither side is one.
    normal = (np.abs(values) >= SMALLEST_NORMAL) | (values == 0) | ~np.isfinite(values)
    normal &= (np.abs(want) >= SMALLEST_NORMAL) | (want == 0) | ~np.isfinite(want)
    assert_same_floats(tf_got[normal], want[normal], f"TF, {fmt}")
    for backend in BACKENDS:
        outcome = tfjs_precision.outcomes(backend)[f"math/{fmt}"]
        assert outcome.error is None, outcome.error
        ((_, _, (got,)),) = outcome.runs
        assert_same_floats(got, want, f"TF.js {backend}, {fmt}")


def test_reduce_precision_rounds_pi_as_jax_does():
    case = grid_case("pi", lambda x: lax.reduce_precision(x, exponent_bits=8, mantissa_bits=7), [-3.14159])
    (_, (got,)) = run_case(case)
    assert got.tolist() == [-3.140625]


_NEXT_X = np.float32(
    [0, 0, -0.0, 2**-149, -(2**-149), 2**-126, 2**-126, 1e-40, 1, 1, 3.4028235e38, np.inf, 2, 2]
)
_NEXT_Y = np.float32([1, -1, 1, 0, 0, 0, 1, 1, 0, 2, np.inf, 0, 0, np.nan])
_NEXT_RANDOM = _random_floats(4000, 3)
NEXTAFTER = Case(
    "nextafter_denormals",
    lambda d: lax.nextafter(
        d * 0.0 + np.concatenate([_NEXT_X, _NEXT_RANDOM]),
        d * 0.0 + np.concatenate([_NEXT_Y, np.roll(_NEXT_RANDOM, 1)]),
    ),
    [Arg((1,), batched=False)],
    batched=False,
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nextafter_is_exact_in_tfjs_denormals_included(backend, tfjs_precision):
    outcome = tfjs_precision.outcomes(backend)["math/nextafter"]
    assert outcome.error is None, outcome.error
    ((_, (want,), (got,)),) = outcome.runs
    assert_same_floats(got, want, f"TF.js {backend}")


def test_complex_numbers_are_refused_with_what_tfjs_really_lacks():
    case = Case("complex", lambda x: jnp.abs(lax.complex(x, x)), [Arg((2, 3))])
    with pytest.raises(Jax2TfjsError, match="J2T301") as err:
        lower_case(case)
    assert "wasm has no complex kernels" in str(err.value)
    assert "wasm backend has no FFT kernel" in NOT_SUPPORTED["fft"]


def test_random_draws_refusal_says_constant_keys_fold():
    reason = NOT_SUPPORTED["random_bits"]
    assert "constant key are folded" in reason and "pass noise as an input" in reason


def test_special_function_poles_match_jax():
    values = np.float32([0.0, -0.0, -1.0, -2.0, -(2.0**24), np.inf, -np.inf, np.nan, 1.0, 2.0])
    for fn in (lax.lgamma, lax.digamma):
        (want,), (got,) = run_case(grid_case("poles", fn, values))
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        finite = np.isfinite(want)
        np.testing.assert_allclose(got[finite], np.asarray(want)[finite], atol=3e-6)
    assert jax.numpy.isinf(lax.lgamma(jnp.float32(-3.0)))
