"""Materials for the error corpus: small Flax models, their inputs, parameters with realistic values,
and checkpoints written the way jobs/train writes them. `corpus_builders` breaks them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jax2tfjs import checkpoints
from jax2tfjs.models import get_model


@dataclass
class Setup:
    """What the case hands over: to_tensorflowjs(model, params, input_spec=…), a folder for
    doctor, or a command for a job."""

    model: Any = None
    params: Any = None
    input_spec: Any = None
    reference: Callable[[np.ndarray], np.ndarray] | None = None
    command: list[str] | None = None


class TinyCNN(nn.Module):
    """8×8×1 → conv 4 → conv 8 stride 2 → dense 12 → dense 10."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.Conv(4, (3, 3))(x))
        x = nn.relu(nn.Conv(8, (3, 3), strides=(2, 2))(x))
        x = nn.relu(nn.Dense(12)(x.reshape((x.shape[0], -1))))
        return nn.Dense(10)(x)


class MLP(nn.Module):
    features: tuple[int, ...] = (12, 6, 4)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.features[:-1]:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.features[-1])(x)


class SameChannelsConv(nn.Module):
    """A 4 → 4 channel convolution: OIHW and IOHW give the same shape."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.Conv(4, (3, 3))(x))
        return nn.Dense(3)(x.mean(axis=(1, 2)))


class BatchNormCNN(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.BatchNorm(use_running_average=True)(nn.Conv(4, (3, 3))(x)))
        return nn.Dense(10)(x.reshape((x.shape[0], -1)))


CNN_SPEC = jax.ShapeDtypeStruct((1, 8, 8, 1), jnp.float32)

MLP_SPEC = jax.ShapeDtypeStruct((1, 16), jnp.float32)


def perturbed(tree: Any, seed: int) -> Any:
    """The initial values plus noise (biases and statistics too), so a misplaced array shows."""
    rng = np.random.default_rng(seed)

    def nudge(path: tuple, leaf: Any) -> np.ndarray:
        value = np.asarray(leaf, np.float32)
        noise = rng.standard_normal(value.shape).astype(np.float32) * 0.1
        # BatchNorm variances must stay positive.
        return value + (np.abs(noise) if "var" in jax.tree_util.keystr(path) else noise)

    return jax.tree_util.tree_map_with_path(nudge, tree)


def linen_setup(module: nn.Module, spec: jax.ShapeDtypeStruct, seed: int = 0) -> tuple[dict, Callable]:
    """(variables with random values, the intended model as x → outputs)."""
    variables = perturbed(module.init(jax.random.key(seed), jnp.zeros(spec.shape, spec.dtype)), seed)
    return variables, lambda x: np.asarray(module.apply(variables, x))


def map_kernels(params: dict, fn: Callable[[str, np.ndarray], np.ndarray]) -> dict:
    """A copy of a params dict with fn(layer, kernel) applied to every 'kernel'."""
    return {
        layer: {name: fn(layer, value) if name == "kernel" else value for name, value in leaves.items()}
        for layer, leaves in params.items()
    }


def optimizer_state(params: Any) -> list:
    """What optax.adam's state looks like once saved: a chain whose moments are shaped like the params."""
    return [{"count": np.int32(3), "mu": params, "nu": params}]


def write_checkpoint(root: Path, model_name: str, state: Any, step: int = 10) -> Path:
    """A finished Orbax checkpoint with the metadata jobs/train writes; returns the step folder."""
    model = get_model(model_name)
    metadata = {
        "format": 1,
        "model": model.describe(),
        "train_config": {"model": model.name},
        "epoch": 1,
        "step": step,
        "metrics": [],
        "dataset": None,
        "packages": {},
        "wall_s": 0.0,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    manager = checkpoints.open_manager(root / model.name)
    checkpoints.save(manager, step, state, metadata)
    manager.close()
    return root / model.name / str(step)


def registry_setup(model_name: str, seed: int = 0) -> tuple[Any, Callable]:
    model = get_model(model_name)
    params = perturbed(model.init(jax.random.key(seed)), seed)
    return params, lambda x: np.asarray(model.apply(params, x))


def permuted_linear(params: dict, x: jax.Array) -> jax.Array:
    """Features reordered by an index table (numpy's default int64), then a dense layer."""
    return x[:, params["order"]] @ params["w"] + params["b"]


def host_callback_features(params: dict, x: jax.Array) -> jax.Array:
    """Features computed by host Python code (jax.pure_callback): no exported graph can hold it."""
    features = jax.pure_callback(np.tanh, jax.ShapeDtypeStruct(x.shape, x.dtype), x)
    return features @ params["w"]


def gamma_cdf_features(params: dict, x: jax.Array) -> jax.Array:
    """The gamma distribution's CDF (lax.igamma: refused, no TF.js op and no approximation yet)."""
    return jax.scipy.special.gammainc(2.0, jnp.abs(x)) @ params["w"]


def nhwc_features(params: dict, x: jax.Array) -> jax.Array:
    y = lax.conv_general_dilated(x, params["k"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y.mean(axis=(1, 2)) @ params["w"]
