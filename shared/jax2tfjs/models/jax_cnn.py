"""`jax_cnn`: the MNIST CNN in pure JAX, parameters held by hand as a dict of arrays.

conv 32 3×3 → relu → 2×2 avg pool → conv 64 3×3 → relu → 2×2 avg pool → dense 128 → relu → dense 10,
NHWC throughout, convolutions via `lax.conv_general_dilated`, pooling via `lax.reduce_window`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from jax2tfjs.models.cnn_config import CNNConfig
from jax2tfjs.models.registry import ModelDef, register

DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def lecun_normal(rng: jax.Array, shape: tuple[int, ...], fan_in: int) -> jax.Array:
    """Truncated-free LeCun normal, the default initialiser of Flax's Conv and Dense."""
    return jax.random.normal(rng, shape, jnp.float32) * jnp.sqrt(1.0 / fan_in)


def init_params(config: CNNConfig, rng: jax.Array) -> dict:
    keys = iter(jax.random.split(rng, len(config.conv_features) + 2))
    params, channels = {}, 1
    for i, features in enumerate(config.conv_features):
        shape = (config.kernel_size, config.kernel_size, channels, features)
        params[f"conv{i}"] = {
            "kernel": lecun_normal(next(keys), shape, config.kernel_size**2 * channels),
            "bias": jnp.zeros((features,), jnp.float32),
        }
        channels = features
    side = 28 // 2 ** len(config.conv_features)
    flat = side * side * channels
    params["dense0"] = {
        "kernel": lecun_normal(next(keys), (flat, config.dense_features), flat),
        "bias": jnp.zeros((config.dense_features,), jnp.float32),
    }
    params["dense1"] = {
        "kernel": lecun_normal(
            next(keys), (config.dense_features, config.num_classes), config.dense_features
        ),
        "bias": jnp.zeros((config.num_classes,), jnp.float32),
    }
    return params


def avg_pool_2x2(x: jax.Array) -> jax.Array:
    summed = lax.reduce_window(x, 0.0, lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    return summed / 4.0


def apply(config: CNNConfig, params: dict, x: jax.Array) -> jax.Array:
    for i in range(len(config.conv_features)):
        layer = params[f"conv{i}"]
        x = lax.conv_general_dilated(x, layer["kernel"], (1, 1), "SAME", dimension_numbers=DIMENSIONS)
        x = avg_pool_2x2(jax.nn.relu(x + layer["bias"]))
    x = x.reshape((x.shape[0], -1))
    x = jax.nn.relu(x @ params["dense0"]["kernel"] + params["dense0"]["bias"])
    return x @ params["dense1"]["kernel"] + params["dense1"]["bias"]


@register("jax_cnn")
def build() -> ModelDef:
    config = CNNConfig()
    return ModelDef(
        name="jax_cnn",
        style="jax",
        description="CNN in pure JAX (lax.conv_general_dilated, lax.reduce_window)",
        config=config,
        init=lambda rng: init_params(config, rng),
        apply=lambda params, x: apply(config, params, x),
    )
