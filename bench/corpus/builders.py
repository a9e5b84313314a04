"""Builders of the error corpus: each takes a scratch folder and returns the broken `Setup` of one
case (`corpus.CASES` names them with their expected codes). A fixable case also returns `reference`,
the intended model's outputs, so a "fix" that converts but computes something else fails.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax.core import FrozenDict

from bench.corpus.models import (
    CNN_SPEC,
    MLP,
    MLP_SPEC,
    BatchNormCNN,
    SameChannelsConv,
    Setup,
    TinyCNN,
    gamma_cdf_features,
    host_callback_features,
    linen_setup,
    map_kernels,
    nhwc_features,
    optimizer_state,
    permuted_linear,
    registry_setup,
    write_checkpoint,
)
from jax2tfjs import checkpoints

# ---- parameter keys -------------------------------------------------------------------------------


def trainstate_dict(_: Path) -> Setup:
    variables, ref = linen_setup(TinyCNN(), CNN_SPEC)
    state = {"step": 300, "params": variables["params"], "opt_state": optimizer_state(variables["params"])}
    return Setup(TinyCNN(), state, CNN_SPEC, ref)


def double_params(_: Path) -> Setup:
    variables, ref = linen_setup(TinyCNN(), CNN_SPEC)
    return Setup(TinyCNN(), FrozenDict({"params": FrozenDict(variables)}), CNN_SPEC, ref)


def renamed(_: Path) -> Setup:
    variables, ref = linen_setup(TinyCNN(), CNN_SPEC)
    p = variables["params"]
    names = {"Conv_0": "conv1", "Conv_1": "conv2", "Dense_0": "dense1", "Dense_1": "dense2"}
    return Setup(TinyCNN(), {"params": {names[k]: v for k, v in p.items()}}, CNN_SPEC, ref)


def twins_numbered(_: Path) -> Setup:
    module, spec = MLP((8, 8, 4)), jax.ShapeDtypeStruct((1, 8), jnp.float32)
    variables, ref = linen_setup(module, spec)
    p = variables["params"]
    return Setup(module, {"layer1": p["Dense_0"], "layer2": p["Dense_1"], "head": p["Dense_2"]}, spec, ref)


def twins_unnumbered(_: Path) -> Setup:
    module, spec = MLP((8, 8, 4)), jax.ShapeDtypeStruct((1, 8), jnp.float32)
    variables, _ = linen_setup(module, spec)
    p = variables["params"]
    return Setup(module, {"encoder": p["Dense_0"], "decoder": p["Dense_1"], "head": p["Dense_2"]}, spec)


def haiku(_: Path) -> Setup:
    variables, ref = linen_setup(MLP(), MLP_SPEC)
    p = variables["params"]
    flat = {
        f"mlp/~/linear_{i}": {"w": p[f"Dense_{i}"]["kernel"], "b": p[f"Dense_{i}"]["bias"]} for i in range(3)
    }
    return Setup(MLP(), flat, MLP_SPEC, ref)


def _torch_linear(kernel: np.ndarray, bias: np.ndarray) -> dict:
    return {"weight": np.asarray(kernel).T, "bias": bias}


def torch_state_dict(_: Path) -> Setup:
    """A real PyTorch CNN's state_dict: fc1's columns follow PyTorch's C, H, W flatten order, so
    transposing (out, in) alone would give a wrong model: auto-fix must refuse."""
    variables, _ = linen_setup(TinyCNN(), CNN_SPEC)
    p = variables["params"]
    fc1 = np.asarray(p["Dense_0"]["kernel"])  # Flax: rows in H, W, C order (4 × 4 × 8)
    fc1_chw = fc1.reshape(4, 4, 8, -1).transpose(3, 2, 0, 1).reshape(fc1.shape[1], -1)  # (out, C·H·W)
    torch_like = {
        "conv1": {"weight": np.transpose(p["Conv_0"]["kernel"], (3, 2, 0, 1)), "bias": p["Conv_0"]["bias"]},
        "conv2": {"weight": np.transpose(p["Conv_1"]["kernel"], (3, 2, 0, 1)), "bias": p["Conv_1"]["bias"]},
        "fc1": {"weight": fc1_chw, "bias": p["Dense_0"]["bias"]},
        "fc2": _torch_linear(p["Dense_1"]["kernel"], p["Dense_1"]["bias"]),
    }
    as_float64 = jax.tree.map(lambda a: np.asarray(a, np.float64), torch_like)
    return Setup(TinyCNN(), {"state_dict": as_float64}, CNN_SPEC)


def torch_mlp_state_dict(_: Path) -> Setup:
    """A PyTorch MLP's state_dict (fc1.weight (out, in), …) in float64: renames, transposes, casts."""
    variables, ref = linen_setup(MLP(), MLP_SPEC)
    p = variables["params"]
    torch_like = {
        f"fc{i + 1}": _torch_linear(p[f"Dense_{i}"]["kernel"], p[f"Dense_{i}"]["bias"]) for i in range(3)
    }
    return Setup(
        MLP(), {"state_dict": jax.tree.map(lambda a: np.asarray(a, np.float64), torch_like)}, MLP_SPEC, ref
    )


def keras_names(_: Path) -> Setup:
    """Weights exported from a Keras model of the same architecture: Keras names, same layouts."""
    variables, ref = linen_setup(TinyCNN(), CNN_SPEC)
    p = variables["params"]
    names = {"Conv_0": "conv2d", "Conv_1": "conv2d_1", "Dense_0": "dense", "Dense_1": "dense_1"}
    return Setup(TinyCNN(), {names[k]: dict(v) for k, v in p.items()}, CNN_SPEC, ref)


def params_with_ema(_: Path) -> Setup:
    """A training state holding the params and their moving average side by side."""
    variables, ref = linen_setup(TinyCNN(), CNN_SPEC)
    ema = jax.tree.map(lambda a: np.asarray(a) * 0.5, variables["params"])
    return Setup(TinyCNN(), {"params": variables["params"], "ema_params": ema}, CNN_SPEC, ref)


def trainstate_bfloat16(_: Path) -> Setup:
    """A TrainState from bfloat16 training: nested keys and a dtype TF.js lacks, both to fix."""
    variables, _ = linen_setup(TinyCNN(), CNN_SPEC)
    bf16 = jax.tree.map(lambda a: jnp.asarray(a, jnp.bfloat16), variables["params"])
    as_float32 = jax.tree.map(lambda a: np.asarray(a, np.float32), bf16)

    def reference(x: jax.Array) -> np.ndarray:  # the intended model: the bfloat16 weights, in float32
        return np.asarray(TinyCNN().apply({"params": as_float32}, x))

    return Setup(
        TinyCNN(), {"step": 7, "params": bf16, "opt_state": optimizer_state(bf16)}, CNN_SPEC, reference
    )


def batchnorm_trainstate(_: Path) -> Setup:
    variables, ref = linen_setup(BatchNormCNN(), CNN_SPEC)
    state = {
        "step": 40,
        "params": variables["params"],
        "batch_stats": variables["batch_stats"],
        "opt_state": optimizer_state(variables["params"]),
    }
    return Setup(BatchNormCNN(), state, CNN_SPEC, ref)


def missing_layer(_: Path) -> Setup:
    variables, _ = linen_setup(TinyCNN(), CNN_SPEC)
    return Setup(TinyCNN(), {k: v for k, v in variables["params"].items() if k != "Dense_1"}, CNN_SPEC)


def ckpt_trainstate(scratch: Path) -> Setup:
    params, ref = registry_setup("flax_mlp")
    state = {"step": np.int32(10), "params": params, "opt_state": optimizer_state(params)}
    return Setup(write_checkpoint(scratch, "flax_mlp", state), reference=ref)


def ckpt_port(scratch: Path) -> Setup:
    params, ref = registry_setup("jax_cnn")
    flax_names = {"conv0": "Conv_0", "conv1": "Conv_1", "dense0": "Dense_0", "dense1": "Dense_1"}
    renamed = {flax_names[k]: v for k, v in params.items()}
    return Setup(
        write_checkpoint(scratch, "jax_cnn", {"params": renamed, "opt_state": optimizer_state(params)}),
        reference=ref,
    )


def ckpt_oihw(scratch: Path) -> Setup:
    params, ref = registry_setup("jax_cnn")
    torch_layout = map_kernels(params, lambda _, k: np.transpose(k, (3, 2, 0, 1)) if k.ndim == 4 else k)
    return Setup(
        write_checkpoint(scratch, "jax_cnn", {"params": torch_layout, "opt_state": optimizer_state(params)}),
        reference=ref,
    )


def ckpt_flat_input(scratch: Path) -> Setup:
    params, ref = registry_setup("jax_cnn")
    step_dir = write_checkpoint(scratch, "jax_cnn", {"params": params, "opt_state": optimizer_state(params)})
    return Setup(
        step_dir,
        input_spec=jax.ShapeDtypeStruct((1, 784), jnp.float32),
        reference=lambda x: ref(x.reshape(-1, 28, 28, 1)),
    )


def ckpt_partial(scratch: Path) -> Setup:
    params, _ = registry_setup("flax_mlp")
    step_dir = write_checkpoint(scratch, "flax_mlp", {"params": params, "opt_state": optimizer_state(params)})
    for path in sorted((step_dir / checkpoints.STATE_ITEM).rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (step_dir / checkpoints.STATE_ITEM).rmdir()
    return Setup(step_dir)


def ckpt_corrupt(scratch: Path) -> Setup:
    params, _ = registry_setup("flax_mlp")
    step_dir = write_checkpoint(scratch, "flax_mlp", {"params": params, "opt_state": optimizer_state(params)})
    for path in (step_dir / checkpoints.STATE_ITEM).rglob("*"):
        if path.is_file():
            path.write_bytes(b"\x00garbage" * 16)  # a disk error, or a copy that went wrong
    return Setup(step_dir)


# ---- parameter shapes -----------------------------------------------------------------------------


def cnn_kernels(transform: Callable[[str, np.ndarray], np.ndarray]) -> Callable[[Path], Setup]:
    def build(_: Path) -> Setup:
        variables, ref = linen_setup(TinyCNN(), CNN_SPEC)
        return Setup(TinyCNN(), map_kernels(variables["params"], transform), CNN_SPEC, ref)

    return build


def conv_only(perm: tuple[int, ...]) -> Callable[[str, np.ndarray], np.ndarray]:
    return lambda _, k: np.transpose(k, perm) if k.ndim == 4 else k


def dense_transposed(_: Path) -> Setup:
    variables, ref = linen_setup(MLP(), MLP_SPEC)
    return Setup(MLP(), map_kernels(variables["params"], lambda _, k: k.T), MLP_SPEC, ref)


def bias_2d(_: Path) -> Setup:
    variables, ref = linen_setup(MLP(), MLP_SPEC)
    p = variables["params"]
    return Setup(MLP(), {k: {**v, "bias": v["bias"][None, :]} for k, v in p.items()}, MLP_SPEC, ref)


def square_ambiguous(_: Path) -> Setup:
    module = MLP((8, 8, 4))
    variables, _ = linen_setup(module, MLP_SPEC)
    return Setup(module, map_kernels(variables["params"], lambda _, k: k.T), MLP_SPEC)


def same_channels_ambiguous(_: Path) -> Setup:
    spec = jax.ShapeDtypeStruct((1, 6, 6, 4), jnp.float32)
    variables, _ = linen_setup(SameChannelsConv(), spec)
    return Setup(SameChannelsConv(), map_kernels(variables["params"], conv_only((3, 2, 0, 1))), spec)


def other_width(_: Path) -> Setup:
    variables, _ = linen_setup(MLP((13, 6, 4)), MLP_SPEC)
    return Setup(MLP(), variables, MLP_SPEC)


# ---- dtypes ---------------------------------------------------------------------------------------


def cast_mlp(dtype: Any) -> Callable[[Path], Setup]:
    def build(_: Path) -> Setup:
        module = MLP()
        variables, _ = linen_setup(module, MLP_SPEC)
        stored = jax.tree.map(lambda a: np.asarray(a).astype(dtype), variables)
        # The intended model: the stored values, in float32 (exact for float16/bfloat16).
        exact = jax.tree.map(lambda a: np.asarray(a, np.float32), stored)
        return Setup(module, stored, MLP_SPEC, lambda x: np.asarray(module.apply(exact, x)))

    return build


float64_params = cast_mlp(np.float64)
bfloat16_params = cast_mlp(jnp.bfloat16)
float16_params = cast_mlp(np.float16)


def int64_indices(_: Path) -> Setup:
    rng = np.random.default_rng(0)
    params = {
        "order": rng.permutation(16),
        "w": rng.normal(size=(16, 3)).astype(np.float32),
        "b": np.ones(3, np.float32),
    }
    return Setup(permuted_linear, params, MLP_SPEC, lambda x: np.asarray(permuted_linear(params, x)))


def complex_params(_: Path) -> Setup:
    weights = (np.ones((16, 3)) + 1j * np.ones((16, 3))).astype(np.complex64)
    return Setup(lambda p, x: jnp.real(x @ p["w"]), {"w": weights}, MLP_SPEC)


def complex_compute(_: Path) -> Setup:
    return Setup(lambda p, x: jnp.abs(jnp.fft.fft(x)) @ p["w"], {"w": np.ones((16, 3), np.float32)}, MLP_SPEC)


def primitive(fn: Callable) -> Callable[[Path], Setup]:
    return lambda _: Setup(fn, {"w": np.ones((16, 3), np.float32)}, MLP_SPEC)


host_callback = primitive(host_callback_features)
igamma = primitive(gamma_cdf_features)


# ---- input spec -----------------------------------------------------------------------------------


def flat_input(_: Path) -> Setup:
    variables, ref = linen_setup(TinyCNN(), CNN_SPEC)
    return Setup(
        TinyCNN(),
        variables,
        jax.ShapeDtypeStruct((1, 64), jnp.float32),
        lambda x: ref(x.reshape(-1, 8, 8, 1)),
    )


def no_channel_dim(_: Path) -> Setup:
    variables, ref = linen_setup(TinyCNN(), CNN_SPEC)
    return Setup(
        TinyCNN(), variables, jax.ShapeDtypeStruct((1, 8, 8), jnp.float32), lambda x: ref(x[..., None])
    )


def nchw_spec(_: Path) -> Setup:
    params = {"k": np.ones((3, 3, 3, 4), np.float32) / 9, "w": np.ones((4, 2), np.float32)}
    return Setup(nhwc_features, params, jax.ShapeDtypeStruct((1, 3, 8, 8), jnp.float32))


# ---- exports (checked by doctor) ------------------------------------------------------------------


def export(scratch: Path) -> Path:
    from jax2tfjs.api import to_tensorflowjs

    variables, _ = linen_setup(MLP(), MLP_SPEC)
    out = scratch / "mlp" / "none"
    to_tensorflowjs(MLP(), variables, input_spec=MLP_SPEC, out_dir=out, progress=False)
    return out


def xla_export(scratch: Path) -> Setup:
    """What jax2tf / convert_jax produce on current JAX: one XlaCallModule op."""
    out = export(scratch)
    model_json = json.loads((out / "model.json").read_text())
    for node in model_json["modelTopology"]["node"]:
        if node["op"] not in ("Const", "Placeholder", "Identity"):
            node["op"] = "XlaCallModule"
    (out / "model.json").write_text(json.dumps(model_json))
    return Setup(out)


def truncated_shard(scratch: Path) -> Setup:
    out = export(scratch)
    shard = next(out.glob("group1-shard*.bin"))
    shard.write_bytes(shard.read_bytes()[:-100])  # an interrupted copy or upload
    return Setup(out)


# ---- memory ---------------------------------------------------------------------------------------


def memory(_: Path) -> Setup:
    """A conversion under a memory limit smaller than TensorFlow's import needs."""
    code = textwrap.dedent(
        """
        import numpy as np
        from jax2tfjs.jobkit import run_job

        def work():
            from jax2tfjs.api import to_tensorflowjs
            to_tensorflowjs(lambda p, x: x * p, np.float32(2.0), input_spec=np.ones((1, 4), np.float32),
                            out_dir="unused", progress=False)
            return {}

        run_job("convert", work, memory_limit_gb=0.15, report_path=None)
        """
    )
    return Setup(command=[sys.executable, "-c", code])
