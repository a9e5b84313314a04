"""Control flow (lowering/loops.py, lowering/conditionals.py) beyond the rules' parity cases: which
form a scan takes, loop bodies that must not leak into the outer graph, and exports with a loop
frame that run in TF.js cpu and wasm after the converter and our graph passes."""

from __future__ import annotations

import json
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from bench.parity import all_cases, lower_case, run_case
from conftest import ROOT
from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.browser.session import BrowserRuns, ChromiumSession
from jax2tfjs.errors import MissingTfjsOpError
from jax2tfjs.export import tfjs_convert
from jax2tfjs.lowering import loops
from jax2tfjs.lowering.registry import Arg, Case
from jax2tfjs.tfjs_runtime import NODE_DIR, check_setup, run_in_tfjs

CASES = {key: case for key, (_, case) in all_cases().items()}
LOOP_OPS = {"Enter", "Merge", "Switch", "LoopCond", "NextIteration", "Exit"}


def _graph_types(case: Case) -> set[str]:
    return {kind for _, kind in lower_case(case).graph_ops}


@pytest.mark.parametrize("key", ["loops/rnn_loop", "loops/reverse_loop_with_weight"])
def test_long_scans_take_the_loop_form(key):
    assert "StatelessWhile" in _graph_types(CASES[key])
    assert "Unpack" not in _graph_types(CASES[key])


@pytest.mark.parametrize("key", ["loops/rnn_unrolled", "loops/reverse_two_carries", "loops/map"])
def test_short_scans_are_unrolled(key):
    types = _graph_types(CASES[key])
    assert "StatelessWhile" not in types and {"Unpack", "Pack"} <= types


def test_the_budget_decides_and_unroll_true_overrides_it():
    body = jax.make_jaxpr(lambda c, x: (jnp.tanh(c * 0.5 + x), c))(1.0, 1.0).jaxpr
    per_step = loops.count_equations(body)
    steps = loops.UNROLL_EQUATION_BUDGET // per_step
    assert loops.should_unroll(steps, body, 1)
    assert not loops.should_unroll(steps + 1, body, 1)
    assert loops.should_unroll(steps + 1, body, True)
    assert loops.should_unroll(steps + 1, body, steps + 1)


def test_nested_equations_count_toward_the_budget():
    inner = jax.make_jaxpr(lambda x: jax.jit(lambda y: jnp.sin(y) * 2.0 + 1.0)(x))(1.0).jaxpr
    assert loops.count_equations(inner) == 4  # the jit equation and its three


def test_a_batch_dim_first_needed_inside_a_loop_is_rebuilt_outside():
    """The context caches the batch dim's tensor; one built inside a while body belongs to the body's
    graph, and the use after the loop must not read it."""

    def fn(x):
        grow = lambda c: c + 0.1 * x.shape[0]  # noqa: E731  (the batch size as a value)
        y = lax.while_loop(lambda c: jnp.max(c) < 5.0, grow, x)
        return y * x.shape[0]

    case = Case("dim_in_body", fn, [Arg((3, 3), fill="positive")])
    expected, actual = run_case(case)
    np.testing.assert_allclose(actual[0], expected[0], rtol=1e-5)


def test_ops_after_a_loop_with_the_same_names_are_still_attributed():
    """Ops are attributed by name: a body's ops (under TF's `while/` scope) and the outer graph's
    `Mul` after the loop must each name their own equation."""

    def fn(x):
        y = lax.while_loop(lambda c: jnp.sum(c) < 30.0, lambda c: c * 1.5 + 1.0, x)
        return jnp.tanh(y * 2.0 + 1.0)

    lowered = lower_case(Case("names", fn, [Arg((3, 2), fill="positive")]))
    assert lowered.unattributed_ops() == []
    assert {"Mul", "AddV2", "Tanh"} <= {e.op_type for e in lowered.emissions if e.origin.primitive != "while"}


def test_a_constant_predicate_lowers_only_its_branch():
    emitted = lower_case(CASES["conditionals/cond_constant_predicate"]).emitted_ops()
    assert "Log" not in emitted.get("log", set()) and "SelectV2" not in emitted.get("cond", set())


def test_an_op_tfjs_lacks_inside_a_loop_body_is_refused():
    with pytest.raises(MissingTfjsOpError, match=r"Lgamma from .lgamma. at model\.py:3"):
        tfjs_convert.check_ops(["StatelessWhile", "Placeholder"], {"Lgamma": ["'lgamma' at model.py:3"]})


class _Params:
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((6, 6)) * 0.2).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32) * 0.1
    u = rng.standard_normal((5, 6)).astype(np.float32) * 0.5
    head = rng.standard_normal((6, 3)).astype(np.float32)
    scale = (rng.random(3) + 0.5).astype(np.float32)


def _looping_model(params, x):
    """A data-dependent while (Dense + bias + tanh inside), a cond, then an affine head our graph
    passes fuse and fold: every pass meets a loop frame."""
    drive = x @ params["u"]

    def keep_going(state):
        _, change, count = state
        return (change > 1e-5) & (count < 40)

    def refine(state):
        h, _, count = state
        new = jnp.tanh(h @ params["w"] + params["b"] + drive)
        return new, jnp.max(jnp.abs(new - h)), count + 1

    h, _, count = lax.while_loop(keep_going, refine, (jnp.zeros_like(drive), jnp.float32(1.0), 0))
    h = lax.cond(jnp.mean(h) > 0, lambda z: z * 2.0, lambda z: z - 1.0, h)
    return {"logits": (h @ params["head"]) * params["scale"] + 0.5, "steps": count}


@pytest.fixture(scope="module")
def loop_export(tmp_path_factory):
    """The looping model exported (dynamic batch), its params, and an input of 4 rows."""
    params = {k: getattr(_Params, k) for k in ("w", "b", "u", "head", "scale")}
    folder = tmp_path_factory.mktemp("loop-export") / "e"
    report = to_tensorflowjs(
        _looping_model, params, input_spec=np.zeros((2, 5), np.float32), out_dir=folder, progress=False
    )
    x = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    return report, params, x


def test_an_export_with_a_loop_frame_runs_in_tfjs_like_jax(loop_export):
    report, params, x = loop_export
    assert set(report.tfjs_ops) >= LOOP_OPS  # the converter's v1 loop frame: TF.js needs executeAsync
    want = jax.jit(_looping_model)(params, x)
    for backend in ("cpu", "wasm"):
        got, info = run_in_tfjs(report.out_dir, x, backend, timing_batches=(1, 4), repeats=2)
        assert info["golden_max_abs_diff"] < 1e-4
        assert set(info["timings"]) == {"1", "4"}  # timing awaits executeAsync too
        np.testing.assert_allclose(got["logits"], np.asarray(want["logits"]), atol=1e-4)
        assert int(got["steps"]) == int(want["steps"]) > 1


def test_an_export_with_a_loop_frame_runs_in_chromium_webgl_and_wasm(loop_export):
    report, params, x = loop_export
    want = {k: np.asarray(v) for k, v in jax.jit(_looping_model)(params, x).items()}
    runs = [BrowserRuns(report.out_dir, {"x": {"input": x}}, "x")]
    with ChromiumSession(repeats=2) as browser:
        for backend in ("webgl", "wasm"):
            (outcome,) = browser.run(backend, runs)
            assert outcome.error is None, outcome.error
            got = outcome.outputs["x"]
            np.testing.assert_allclose(got["logits"], want["logits"], atol=1e-4)
            assert int(got["steps"]) == int(want["steps"])


# The web page's Classifier (web/js/model.js, an ES module over a global `tf`) in Node on the cpu
# backend: the export loaded by the Node runner's file handler, then checked against golden.json.
PAGE_SELF_CHECK = """
import { loadGraphModel, startTfjs, tf } from '%(io)s';
await startTfjs(process.argv[2], 'cpu');
globalThis.tf = tf;
const { Classifier } = await import('%(page)s');
const classifier = new Classifier(await loadGraphModel(process.argv[3]), ['a', 'b', 'c']);
const golden = JSON.parse((await import('node:fs')).readFileSync(process.argv[3] + '/golden.json', 'utf8'));
const pending = classifier.selfCheck(golden);
const diff = await pending;
const again = await classifier.selfCheck(golden); // the weights survive the first check
console.log(JSON.stringify({ needsAsync: classifier.needsAsync, promise: pending instanceof Promise, diff, again }));
"""


def test_the_web_pages_classifier_self_checks_a_loop_export_with_execute_async(loop_export, tmp_path):
    report, _, _ = loop_export
    node, runtime = check_setup()
    script = tmp_path / "page_self_check.mjs"
    script.write_text(
        PAGE_SELF_CHECK % {"io": NODE_DIR / "graph_model_io.mjs", "page": ROOT / "web" / "js" / "model.js"}
    )
    done = subprocess.run(
        [node, str(script), str(runtime), str(report.out_dir)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["needsAsync"] and result["promise"]
    assert result["diff"] < 1e-4 and result["again"] < 1e-4
