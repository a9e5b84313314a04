"""A fully masked attention row (every logit jnp.finfo(float32).min, BERT's padding rows) must give
JAX's uniform softmax on TF.js webgl too, whose Max reduction starts from -1e20 (export/softmax_guard.py).
Runs in headless Chromium (WebGL2 on SwiftShader) and on Node's cpu and wasm."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.browser.session import BrowserRuns, ChromiumSession
from jax2tfjs.tfjs_runtime import run_in_tfjs

RNG = np.random.default_rng(0)
W = RNG.standard_normal((4, 5)).astype(np.float32)


def masked_attention(w, x):
    logits = x @ w  # (b, 5)
    keep = jnp.arange(5)[None, :] < jnp.floor(x[:, :1] * 5)  # row i keeps floor(5 x[i, 0]) logits
    return jax.nn.softmax(jnp.where(keep, logits, jnp.finfo(jnp.float32).min))


def unmasked(w, x):
    return jax.nn.softmax(x @ w)


def _ops(out) -> list[str]:
    return [n["op"] for n in json.loads((out / "model.json").read_text())["modelTopology"]["node"]]


@pytest.fixture(scope="module")
def masked_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("guard") / "masked"
    to_tensorflowjs(
        masked_attention, W, input_spec=jax.ShapeDtypeStruct((1, 4), jnp.float32), out_dir=out, progress=False
    )
    return out


def _inputs():
    x = RNG.uniform(0.3, 1.0, (4, 4)).astype(np.float32)
    x[0, 0] = 0.0  # row 0 keeps no logit: fully masked, uniform in JAX
    return x


def test_a_fully_masked_row_is_uniform_on_webgl_as_in_jax(masked_export):
    x = _inputs()
    want = np.asarray(masked_attention(W, x))
    np.testing.assert_allclose(want[0], np.full(5, 0.2), rtol=1e-6)
    with ChromiumSession(repeats=1, warmup=0) as browser:
        (outcome,) = browser.run("webgl", [BrowserRuns(masked_export, {"x": {"input": x}})])
    assert outcome.error is None, outcome.error
    (got,) = outcome.outputs["x"].values()
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_the_floor_keeps_node_backends_equal_to_jax(masked_export):
    assert "Maximum" in _ops(masked_export) and "Softmax" in _ops(masked_export)
    x = _inputs()
    for backend in ("cpu", "wasm"):
        got, _ = run_in_tfjs(masked_export, x, backend)
        np.testing.assert_allclose(got, np.asarray(masked_attention(W, x)), atol=1e-6, err_msg=backend)


def test_an_unmasked_softmax_gets_no_floor(tmp_path):
    out = tmp_path / "plain"
    to_tensorflowjs(
        unmasked, W, input_spec=jax.ShapeDtypeStruct((1, 4), jnp.float32), out_dir=out, progress=False
    )
    assert "Maximum" not in _ops(out) and "Softmax" in _ops(out)
