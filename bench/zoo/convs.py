"""CNNs: max and average pooling, strides, SAME / VALID / explicit padding, dilation,
depthwise-separable and transposed convolutions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from flax import nnx
from jax import lax

from bench.zoo.forms import function_built, linen_built, nnx_built
from bench.zoo.registry import Built, InputSpec, ZooEntry, register
from bench.zoo.weights import normal

IMAGE = InputSpec((1, 16, 16, 3))
NHWC = ("NHWC", "HWIO", "NHWC")


class PoolingCNN(nn.Module):
    """SAME conv, 2×2/2 max pool, VALID conv, 3×3/2 SAME average pool (JAX divides by the full
    window, zeros included; TF's AvgPool 'SAME' by the valid count), softmax."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.Conv(8, (3, 3), padding="SAME")(x))
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
        x = nn.relu(nn.Conv(16, (3, 3), padding="VALID")(x))
        x = nn.avg_pool(x, (3, 3), strides=(2, 2), padding="SAME")
        x = x.reshape((x.shape[0], -1))
        return nn.softmax(nn.Dense(10)(x))


def _dilated_cnn(params: dict, x: jax.Array) -> jax.Array:
    """lax convolutions with explicit asymmetric padding and dilation, a stride-2 SAME conv (it
    arrives as explicit pads ((0, 1), (0, 1))), max pooling with explicit padding, global mean."""
    y = lax.conv_general_dilated(
        x, params["w1"], (1, 1), ((2, 1), (0, 3)), rhs_dilation=(2, 2), dimension_numbers=NHWC
    )
    y = jnp.tanh(y + params["b1"])
    y = lax.conv_general_dilated(y, params["w2"], (2, 2), "SAME", dimension_numbers=NHWC)
    y = jax.nn.relu(y + params["b2"])
    y = lax.reduce_window(y, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), ((0, 0), (1, 1), (0, 1), (0, 0)))
    y = jnp.mean(y, axis=(1, 2))
    return y @ params["w3"] + params["b3"]


def _build_dilated(seed: int) -> Built:
    rng = np.random.default_rng(seed)
    params = {
        "w1": normal(rng, (3, 3, 3, 8)),
        "b1": normal(rng, (8,), 0.2),
        "w2": normal(rng, (3, 3, 8, 12)),
        "b2": normal(rng, (12,), 0.2),
        "w3": normal(rng, (12, 4)),
        "b3": normal(rng, (4,), 0.2),
    }
    return function_built(_dilated_cnn, params)


def _unet(params: dict, x: jax.Array) -> jax.Array:
    """A one-level U-Net: stride-2 conv down, nearest-neighbour upsampling back (jax.image.resize
    lowers to gathers on the spatial axes), the skip joined by concatenation, a 1×1 conv, sigmoid."""
    down = jax.nn.relu(lax.conv_general_dilated(x, params["down"], (2, 2), "SAME", dimension_numbers=NHWC))
    up = jax.image.resize(down, (x.shape[0], *x.shape[1:3], down.shape[-1]), "nearest")
    joined = jnp.concatenate([x, up], axis=-1)
    y = lax.conv_general_dilated(joined, params["mix"], (1, 1), "VALID", dimension_numbers=NHWC)
    return jax.nn.sigmoid(y + params["bias"])


def _build_unet(seed: int) -> Built:
    rng = np.random.default_rng(seed)
    params = {
        "down": normal(rng, (3, 3, 3, 6)),
        "mix": normal(rng, (1, 1, 9, 2)),
        "bias": normal(rng, (2,), 0.2),
    }
    return function_built(_unet, params)


class SeparableCNN(nnx.Module):
    """Depthwise (feature_group_count = in_features, channel multiplier 2) then pointwise 1×1."""

    def __init__(self, rngs: nnx.Rngs):
        self.depthwise1 = nnx.Conv(3, 6, (3, 3), feature_group_count=3, rngs=rngs)
        self.pointwise1 = nnx.Conv(6, 16, (1, 1), rngs=rngs)
        self.depthwise2 = nnx.Conv(
            16, 16, (3, 3), strides=2, padding="VALID", feature_group_count=16, rngs=rngs
        )
        self.pointwise2 = nnx.Conv(16, 24, (1, 1), rngs=rngs)
        self.out = nnx.Linear(24, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = nnx.relu(self.pointwise1(self.depthwise1(x)))
        x = nnx.avg_pool(x, (2, 2), strides=(2, 2))
        x = nnx.relu(self.pointwise2(self.depthwise2(x)))
        return self.out(x.mean(axis=(1, 2)))


class StridedCNN(nnx.Module):
    """Stride-2 conv with explicit padding, a dilated VALID conv, SAME max pooling, log_softmax."""

    def __init__(self, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(3, 8, (5, 5), strides=2, padding=((1, 2), (2, 1)), rngs=rngs)
        self.conv2 = nnx.Conv(8, 16, (3, 3), padding="VALID", kernel_dilation=2, rngs=rngs)
        self.out = nnx.Linear(16 * 2 * 2, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = nnx.relu(self.conv1(x))  # 16 → 8
        x = nnx.gelu(self.conv2(x), approximate=False)  # 8 → 4
        x = nnx.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")  # 4 → 2
        return nnx.log_softmax(self.out(x.reshape((x.shape[0], -1))))


class UpsamplingCNN(nn.Module):
    """An encoder-decoder: stride-2 conv down, then nn.ConvTranspose up twice (SAME and VALID)."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.Conv(12, (3, 3), strides=(2, 2))(x))  # 16 → 8
        x = nn.relu(nn.ConvTranspose(8, (3, 3), strides=(2, 2), padding="SAME")(x))  # 8 → 16
        x = nn.ConvTranspose(2, (2, 2), strides=(1, 1), padding="VALID")(x)  # 16 → 17
        return nn.sigmoid(x)


register(
    ZooEntry(
        name="cnn_pools_linen",
        style="linen",
        description="linen CNN: SAME conv, max pool 2/2, VALID conv, SAME avg pool 3/2, dense, softmax",
        tags=("cnn", "max_pool", "avg_pool", "strides", "same_padding", "valid_padding", "softmax"),
        input=IMAGE,
        build=lambda seed: linen_built(PoolingCNN(), IMAGE, seed),
    )
)
register(
    ZooEntry(
        name="cnn_dilated_jax",
        style="jax",
        description="pure-JAX CNN: dilated conv with explicit asymmetric pads, stride-2 SAME conv, padded max pool, global mean",
        tags=("cnn", "explicit_padding", "dilation", "strides", "same_padding", "max_pool", "tanh"),
        input=IMAGE,
        build=_build_dilated,
    )
)
register(
    ZooEntry(
        name="unet_nearest_jax",
        style="jax",
        description="pure-JAX one-level U-Net: stride-2 conv, nearest-neighbour jax.image.resize up, skip concat, 1×1 conv, sigmoid",
        tags=("cnn", "upsampling", "skip_concat", "strides", "same_padding", "valid_padding", "sigmoid"),
        input=IMAGE,
        build=_build_unet,
    )
)
register(
    ZooEntry(
        name="separable_cnn_nnx",
        style="nnx",
        description="nnx depthwise-separable CNN: depthwise 3×3 (multiplier 2) + pointwise 1×1, twice; avg pool",
        tags=("cnn", "depthwise_separable", "avg_pool", "strides", "valid_padding"),
        input=IMAGE,
        build=lambda seed: nnx_built(SeparableCNN, seed),
    )
)
register(
    ZooEntry(
        name="cnn_strided_nnx",
        style="nnx",
        description="nnx CNN: 5×5 stride-2 conv with explicit pads, dilated 3×3 VALID conv, SAME max pool, log_softmax",
        tags=("cnn", "strides", "explicit_padding", "dilation", "max_pool", "gelu_exact", "log_softmax"),
        input=IMAGE,
        build=lambda seed: nnx_built(StridedCNN, seed),
    )
)
register(
    ZooEntry(
        name="conv_transpose_linen",
        style="linen",
        description="linen encoder-decoder: stride-2 conv, ConvTranspose 3×3/2 SAME, ConvTranspose 2×2 VALID, sigmoid",
        tags=("cnn", "conv_transpose", "strides", "same_padding", "valid_padding", "sigmoid"),
        input=IMAGE,
        build=lambda seed: linen_built(UpsamplingCNN(), IMAGE, seed),
        fast=True,
    )
)
