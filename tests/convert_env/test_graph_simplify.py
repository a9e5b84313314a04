"""Shorter graphs (export/fold_affine.py, export/simplify.py): each rewrite leaves the op the issue
expects and no other, and every rewritten export still computes what JAX computes on TF.js cpu and
wasm. The cases where a rewrite must NOT apply (a shared weight, a reduction read elsewhere, softmax
over another axis) are converted too, and must stay correct."""

from __future__ import annotations

import base64
import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.tfjs_runtime import run_in_tfjs

RNG = np.random.default_rng(0)


def _nodes(model_dir) -> list[dict]:
    return json.loads((model_dir / "model.json").read_text())["modelTopology"]["node"]


def _compute_ops(model_dir) -> list[str]:
    return sorted(n["op"] for n in _nodes(model_dir) if n["op"] not in ("Const", "Placeholder", "Identity"))


def _fused(model_dir) -> list[tuple[str, list[str]]]:
    found = []
    for node in _nodes(model_dir):
        ops = node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])
        if ops:
            found.append((node["op"], [base64.b64decode(op).decode() for op in ops]))
    return found


def _convert(tmp_path, name, fn, params, shape):
    out = tmp_path / name
    to_tensorflowjs(
        fn, params, input_spec=jax.ShapeDtypeStruct(shape, jnp.float32), out_dir=out, progress=False
    )
    return out


def _runs_like_jax(model_dir, fn, params, x):
    want = jax.tree.leaves(fn(params, x))
    for backend in ("cpu", "wasm"):
        got, _ = run_in_tfjs(model_dir, x, backend)
        got = [got[k] for k in sorted(got)] if isinstance(got, dict) else [got]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, np.asarray(w), atol=3e-5, rtol=1e-5, err_msg=backend)


def _with_drawn_batch_stats(variables):
    """Flax initialises mean 0 and variance 1, which would hide a fold that ignored them."""
    stats = jax.tree.map(
        lambda v: jnp.asarray(RNG.uniform(0.5, 2.0, v.shape), v.dtype), variables["batch_stats"]
    )
    params = jax.tree.map(lambda v: jnp.asarray(RNG.standard_normal(v.shape), v.dtype), variables["params"])
    return {"params": params, "batch_stats": stats}


class ConvBatchNorm(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.Conv(4, (3, 3))(x)
        return nn.relu(nn.BatchNorm(use_running_average=True)(x))


def test_conv_with_bias_from_a_folded_batchnorm_is_one_fused_conv(tmp_path):
    model = ConvBatchNorm()
    variables = _with_drawn_batch_stats(model.init(jax.random.key(0), jnp.ones((1, 6, 6, 2))))
    fn = lambda v, x: model.apply(v, x)  # noqa: E731
    out = _convert(tmp_path, "conv_bn", fn, variables, (1, 6, 6, 2))
    assert _compute_ops(out) == ["_FusedConv2D"]
    assert _fused(out) == [("_FusedConv2D", ["BiasAdd", "Relu"])]
    _runs_like_jax(out, fn, variables, RNG.standard_normal((3, 6, 6, 2)).astype(np.float32))


def test_dense_then_batchnorm_folds_into_the_matmul(tmp_path):
    class DenseBatchNorm(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.BatchNorm(use_running_average=True)(nn.Dense(5)(x))

    model = DenseBatchNorm()
    variables = _with_drawn_batch_stats(model.init(jax.random.key(0), jnp.ones((1, 6))))
    fn = lambda v, x: model.apply(v, x)  # noqa: E731
    out = _convert(tmp_path, "dense_bn", fn, variables, (1, 6))
    assert _compute_ops(out) == ["_FusedMatMul"]
    _runs_like_jax(out, fn, variables, RNG.standard_normal((3, 6)).astype(np.float32))


def test_a_weight_read_twice_is_not_folded_and_stays_correct(tmp_path):
    params = {
        "w": RNG.standard_normal((6, 5)).astype(np.float32),
        "s": RNG.uniform(0.5, 2, 5).astype(np.float32),
    }

    def shared(p, x):
        return (x @ p["w"]) * p["s"] - 1.0, jnp.tanh(x @ p["w"])

    out = _convert(tmp_path, "shared", shared, params, (1, 6))
    assert "Mul" in _compute_ops(out)  # the scale stays an op: folding it would change the second use
    _runs_like_jax(out, shared, params, RNG.standard_normal((3, 6)).astype(np.float32))


def test_softmax_and_log_softmax_over_the_last_axis_are_one_op_each(tmp_path):
    params = {"w": RNG.standard_normal((6, 5)).astype(np.float32)}

    def heads(p, x):
        logits = x @ p["w"]
        return jax.nn.softmax(logits), jax.nn.log_softmax(logits * 2.0)

    out = _convert(tmp_path, "softmax", heads, params, (1, 6))
    ops = _compute_ops(out)
    assert ops.count("Softmax") == 1 and ops.count("LogSoftmax") == 1
    assert not {"Exp", "Max", "Sum", "Log", "RealDiv"} & set(ops), ops
    _runs_like_jax(out, heads, params, 4 * RNG.standard_normal((3, 6)).astype(np.float32))


def test_softmax_over_another_axis_is_left_as_it_is_and_stays_correct(tmp_path):
    def columns(p, x):
        return jax.nn.softmax(x * p, axis=1)

    out = _convert(tmp_path, "softmax_axis1", columns, np.float32(1.5), (1, 4, 3))
    assert "Softmax" not in _compute_ops(out)
    _runs_like_jax(out, columns, np.float32(1.5), RNG.standard_normal((2, 4, 3)).astype(np.float32))


def test_layernorm_keeps_reduced_dims_instead_of_reshaping(tmp_path):
    model = nn.LayerNorm()
    variables = model.init(jax.random.key(0), jnp.ones((1, 5, 8)))
    variables = jax.tree.map(lambda v: jnp.asarray(RNG.standard_normal(v.shape), v.dtype), variables)
    fn = lambda v, x: model.apply(v, x)  # noqa: E731
    out = _convert(tmp_path, "layernorm", fn, variables, (1, 5, 8))
    ops = _compute_ops(out)
    assert "Reshape" not in ops and ops.count("Mean") == 2 and "Sum" not in ops, ops
    _runs_like_jax(out, fn, variables, 3 + RNG.standard_normal((2, 5, 8)).astype(np.float32))


def test_a_reduction_that_is_also_an_output_keeps_its_shape(tmp_path):
    def centred(p, x):
        total = x.sum(-1)
        return x - total[..., None] * p, total

    out = _convert(tmp_path, "centred", centred, np.float32(0.25), (1, 4))
    assert "Reshape" in _compute_ops(out)  # the output needs the reduced shape
    _runs_like_jax(out, centred, np.float32(0.25), RNG.standard_normal((3, 4)).astype(np.float32))


def test_conv_then_scale_by_division_and_subtraction_from_a_constant_folds(tmp_path):
    """The chain's other forms: c - y and y / c."""
    params = {
        "w": RNG.standard_normal((3, 3, 2, 4)).astype(np.float32),
        "c": RNG.uniform(1, 2, 4).astype(np.float32),
    }

    def conv(p, x):
        y = lax.conv_general_dilated(x, p["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jax.nn.relu((p["c"] - y) / p["c"])

    out = _convert(tmp_path, "conv_affine", conv, params, (1, 5, 5, 2))
    assert _compute_ops(out) == ["_FusedConv2D"]
    _runs_like_jax(out, conv, params, RNG.standard_normal((2, 5, 5, 2)).astype(np.float32))


def test_a_reduction_times_a_vector_is_not_given_kept_dims(tmp_path):
    """(sum(x, -1) * v)[..., None]: with kept dims, v would broadcast across the kept axis instead."""
    v = RNG.standard_normal(4).astype(np.float32)

    def shifted(p, x):
        return x - (x.sum(-1) * p)[..., None]

    out = _convert(tmp_path, "vector_leaf", shifted, v, (1, 4, 3))
    _runs_like_jax(out, shifted, v, RNG.standard_normal((2, 4, 3)).astype(np.float32))


def test_a_one_element_slice_then_squeeze_is_one_strided_slice(tmp_path):
    def pairs(p, x):
        return (x[:, 0] - x[:, 2]) * p, x[:, 1:3].sum(-1)

    out = _convert(tmp_path, "pairs", pairs, np.float32(2.0), (1, 4))
    ops = _compute_ops(out)
    assert "Squeeze" not in ops and ops.count("StridedSlice") == 3, ops
    _runs_like_jax(out, pairs, np.float32(2.0), RNG.standard_normal((3, 4)).astype(np.float32))


def _cell_fn(cell):
    """The cell as fn(params, x) over one array: the carry's parts (8 wide each), then the input (4)."""
    carry = cell.initialize_carry(jax.random.key(1), (1, 4))
    variables = cell.init(jax.random.key(0), carry, jnp.ones((1, 4)))
    variables = jax.tree.map(lambda v: jnp.asarray(RNG.standard_normal(v.shape) * 0.5, v.dtype), variables)
    if isinstance(carry, tuple):  # LSTM: (c, h)
        return variables, lambda v, x: cell.apply(v, (x[:, :8], x[:, 8:16]), x[:, 16:])
    return variables, lambda v, x: cell.apply(v, x[:, :8], x[:, 8:])


def test_an_lstm_gate_is_one_matmul_over_the_concatenated_input_and_carry(tmp_path):
    """flax's LSTMCell adds dense_i(x) and dense_h(h) per gate: merged, each gate is one fused MatMul."""
    variables, fn = _cell_fn(nn.LSTMCell(8))
    out = _convert(tmp_path, "lstm", fn, variables, (1, 20))
    ops = _compute_ops(out)
    assert ops.count("ConcatV2") == 1 and "MatMul" not in ops and ops.count("_FusedMatMul") == 4, ops
    _runs_like_jax(out, fn, variables, RNG.standard_normal((3, 20)).astype(np.float32))


def test_a_gru_cell_stays_correct_with_its_gates_merged(tmp_path):
    variables, fn = _cell_fn(nn.GRUCell(8))
    out = _convert(tmp_path, "gru", fn, variables, (1, 12))
    assert "ConcatV2" in _compute_ops(out)
    _runs_like_jax(out, fn, variables, RNG.standard_normal((3, 12)).astype(np.float32))


def test_rewrites_read_the_right_output_of_a_split(tmp_path):
    """softmax(b) and sum(b) * 0.5 where b is a split's second output: the rewrites must name `split:1`
    (output 0 is `a`, 2 wide: 0.5 would pass for its mean)."""

    def halves(p, x):
        a, b = jnp.split(x * p, [2], axis=-1)
        return jax.nn.softmax(b), b.sum(-1) * 0.5, a

    out = _convert(tmp_path, "split", halves, np.float32(1.5), (1, 6))
    assert "Softmax" in _compute_ops(out) and "Mean" not in _compute_ops(out)
    _runs_like_jax(out, halves, np.float32(1.5), RNG.standard_normal((3, 6)).astype(np.float32))
