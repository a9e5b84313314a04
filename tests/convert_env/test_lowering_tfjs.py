"""Every lowering rule's parity cases in real TF.js (Node, cpu and wasm), not only in TensorFlow.

bench/parity_tfjs.py batches the cases into a few graph models, converted once per session with the
project's converter, and runs each backend in one Node process at the cases' two batch sizes. Each
case and backend is still its own test (`test_rule_in_tfjs[wasm-dot/dense]`), compared with JAX as
test_lowering_parity compares TensorFlow: the export's dtype, integers and booleans exactly, floats
within the case's tolerance scaled to the outputs' magnitude.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import pytest
from test_lowering_parity import assert_matches_jax

from bench.parity import all_cases
from bench.parity_tfjs import CHUNK_CASES, TfjsParity
from jax2tfjs.lowering.registry import Arg, Case

BACKENDS = ("cpu", "wasm")
CASES = {key: case for key, (_, case) in all_cases().items()}
# (backend, case) → the TF.js error measured for a case that backend cannot run for a reason outside
# jax2tfjs. Such a case gets a graph model of its own, so its chunk still runs whole. Empty today:
# the one case that failed (dot/int_dot_to_float on wasm, no integer BatchMatMul) was fixed in the
# lowering by casting the operands first.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}
# This test checks how the whole suite is batched: with it selected, every case is converted.
WHOLE_SUITE_TEST = "test_every_case_runs_at_two_batch_sizes_in_few_models"


@pytest.fixture(scope="session")
def tfjs_parity(request, tmp_path_factory) -> TfjsParity:
    """The parity cases this session's tests ask for (all of them, unless -k chose some), converted
    once for the whole session (lazily, by the first test)."""
    chosen = {
        item.callspec.params["key"]
        for item in request.session.items
        if "key" in getattr(getattr(item, "callspec", None), "params", {})
    }
    if any(item.originalname == WHOLE_SUITE_TEST for item in request.session.items):
        chosen = set(CASES)
    alone = {key for _, key in KNOWN_FAILURES}
    cases = {key: case for key, case in CASES.items() if key in chosen}
    return TfjsParity(tmp_path_factory.mktemp("parity-tfjs"), cases, alone=alone)


def _params() -> list:
    params = []
    for backend in BACKENDS:
        for key in CASES:
            reason = KNOWN_FAILURES.get((backend, key))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(backend, key, marks=marks, id=f"{backend}-{key}"))
    return params


def check_outcome(parity: TfjsParity, backend: str, key: str) -> None:
    outcome = parity.outcomes(backend)[key]
    assert outcome.error is None, outcome.error
    case = parity.cases[key].case
    assert outcome.runs, "no run compared"
    for batch, expected, actual in outcome.runs:
        assert len(actual) == len(expected)
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            try:
                assert_matches_jax(want, got, case.atol, case.rtol)
            except AssertionError as err:
                raise AssertionError(f"{backend}, batch {batch}, output {index}: {err}") from None


@pytest.mark.parametrize(("backend", "key"), _params())
def test_rule_in_tfjs(tfjs_parity, backend, key):
    check_outcome(tfjs_parity, backend, key)


def test_every_case_runs_at_two_batch_sizes_in_few_models(tfjs_parity):
    models = tfjs_parity.models()
    # Batched, not one model per case: full chunks of CHUNK_CASES, the known failures alone.
    assert len(models) <= math.ceil(len(CASES) / CHUNK_CASES) + len(KNOWN_FAILURES), [
        len(m.cases) for m in models
    ]
    assert all(m.error is None for m in models), [m.error for m in models if m.error]
    outcome = tfjs_parity.outcomes("cpu")["dot/dense"]
    assert [batch for batch, _, _ in outcome.runs] == [3, 1]


# A chunk that breaks must still name its case: one whose lowering fails (schur has no TF.js form),
# and one that converts but that TF.js refuses to run (here: fed an input of the wrong rank).
DENSE = Case("dense", lambda x, w: x @ w, [Arg((3, 6)), Arg((6, 4), batched=False)])
TANH = Case("tanh", jnp.tanh, [Arg((3, 5))])
SCHUR = Case("schur", lambda x: jax.scipy.linalg.schur(x)[0], [Arg((3, 3), batched=False)], batched=False)


def test_a_case_that_breaks_its_chunks_conversion_is_named_and_the_others_still_run(tmp_path):
    parity = TfjsParity(tmp_path, {"t/dense": DENSE, "t/schur": SCHUR})
    (chunk,) = parity.models()
    assert chunk.error and "schur" in chunk.error
    outcomes = parity.outcomes("cpu")
    assert "conversion failed" in outcomes["t/schur"].error
    assert "schur" in outcomes["t/schur"].error
    check_outcome(parity, "cpu", "t/dense")


def test_a_case_tfjs_cannot_run_is_named_and_the_others_still_run(tmp_path):
    parity = TfjsParity(tmp_path, {"t/dense": DENSE, "t/tanh": TANH})
    (chunk,) = parity.models()
    assert chunk.error is None
    tanh_input = parity.cases["t/tanh"].input_names()[0]
    runs = parity._runs

    def misfed(model):  # tanh's input with a rank too many, in its chunk and alone
        planned = runs(model)
        for named in planned.inputs.values():
            if tanh_input in named:
                named[tanh_input] = named[tanh_input][None]
        return planned

    parity._runs = misfed
    outcomes = parity.outcomes("wasm")
    assert "TF.js (wasm) failed" in outcomes["t/tanh"].error
    check_outcome(parity, "wasm", "t/dense")
