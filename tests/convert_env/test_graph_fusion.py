"""Our contraction fusion (export/fusion.py, run in place of grappler's CPU-dependent remapper): it fuses
what every TF.js backend runs, keeps the rest as separate ops, and a fused op no backend runs is
split off again by the legality pass (tests/convert_env/test_backend_legality.py) instead of failing
later in a browser."""

from __future__ import annotations

import base64
import json

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.tfjs_runtime import run_in_tfjs

RNG = np.random.default_rng(0)


def _fused(model_dir) -> list[tuple[str, list[str]]]:
    """(op, fused_ops) of every fused node in the export's model.json."""
    nodes = json.loads((model_dir / "model.json").read_text())["modelTopology"]["node"]
    found = []
    for node in nodes:
        ops = node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])
        if ops:
            found.append((node["op"], [base64.b64decode(op).decode() for op in ops]))
    return found


def _ops(model_dir) -> list[str]:
    return [n["op"] for n in json.loads((model_dir / "model.json").read_text())["modelTopology"]["node"]]


def _runs_like_jax_on_cpu_and_wasm(model_dir, fn, params, x):
    want = np.asarray(fn(params, x))
    for backend in ("cpu", "wasm"):
        got, _ = run_in_tfjs(model_dir, x, backend)
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5, err_msg=backend)


def test_dense_then_tanh_keeps_tanh_separate_and_runs_on_every_backend(tmp_path):
    params = {
        "w": RNG.standard_normal((6, 5)).astype(np.float32),
        "b": RNG.standard_normal(5).astype(np.float32),
    }

    def dense_tanh(p, x):
        return jnp.tanh(x @ p["w"] + p["b"])

    out = tmp_path / "dense_tanh"
    to_tensorflowjs(
        dense_tanh, params, input_spec=jax.ShapeDtypeStruct((1, 6), jnp.float32), out_dir=out, progress=False
    )
    assert _fused(out) == [("_FusedMatMul", ["BiasAdd"])]
    assert "Tanh" in _ops(out)
    _runs_like_jax_on_cpu_and_wasm(out, dense_tanh, params, RNG.standard_normal((3, 6)).astype(np.float32))


def test_dense_then_relu_fuses_the_activation(tmp_path):
    params = {
        "w": RNG.standard_normal((6, 5)).astype(np.float32),
        "b": RNG.standard_normal(5).astype(np.float32),
    }

    def dense_relu(p, x):
        return jax.nn.relu(x @ p["w"] + p["b"])

    out = tmp_path / "dense_relu"
    to_tensorflowjs(
        dense_relu, params, input_spec=jax.ShapeDtypeStruct((1, 6), jnp.float32), out_dir=out, progress=False
    )
    assert _fused(out) == [("_FusedMatMul", ["BiasAdd", "Relu"])]
    _runs_like_jax_on_cpu_and_wasm(out, dense_relu, params, RNG.standard_normal((3, 6)).astype(np.float32))


def test_conv_with_a_broadcast_bias_fuses_with_a_rank_1_bias_that_wasm_runs(tmp_path):
    """A bias added as [1, 1, 1, C] (the way a folded norm or a hand-written conv adds it): the wasm
    backend refuses a fused rank-4 bias, so the fused op must carry it as [C]."""
    params = {
        "w": RNG.standard_normal((3, 3, 2, 4)).astype(np.float32),
        "b": RNG.standard_normal((1, 1, 1, 4)).astype(np.float32),
    }

    def conv_bias(p, x):
        y = lax.conv_general_dilated(x, p["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jax.nn.sigmoid(y + p["b"])

    out = tmp_path / "conv_bias"
    to_tensorflowjs(
        conv_bias,
        params,
        input_spec=jax.ShapeDtypeStruct((1, 5, 5, 2), jnp.float32),
        out_dir=out,
        progress=False,
    )
    assert _fused(out) == [("_FusedConv2D", ["BiasAdd", "Sigmoid"])]
    _runs_like_jax_on_cpu_and_wasm(
        out, conv_bias, params, RNG.standard_normal((2, 5, 5, 2)).astype(np.float32)
    )
