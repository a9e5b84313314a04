"""Normalisation: BatchNorm in inference mode (running statistics redrawn, so ignoring them shows),
LayerNorm and GroupNorm, in the three styles."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from flax import nnx

from bench.zoo.forms import function_built, linen_built, nnx_built
from bench.zoo.registry import Built, InputSpec, ZooEntry, register
from bench.zoo.weights import normal

IMAGE = InputSpec((1, 12, 12, 3))
FEATURES = InputSpec((1, 24))


class BatchNormCNN(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        for features in (8, 16):
            x = nn.Conv(features, (3, 3), use_bias=False)(x)
            x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(x))
        x = x.mean(axis=(1, 2))
        return nn.Dense(10)(x)


class BatchNormMLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(24, 32, rngs=rngs)
        self.norm = nnx.BatchNorm(32, rngs=rngs)
        self.out = nnx.Linear(32, 5, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return nnx.softmax(self.out(jnp.tanh(self.norm(self.hidden(x)))))


class GroupNormCNN(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.silu(nn.GroupNorm(num_groups=4)(nn.Conv(16, (3, 3))(x)))
        x = nn.silu(nn.GroupNorm(num_groups=2)(nn.Conv(8, (3, 3), strides=(2, 2))(x)))
        return nn.Dense(6)(x.reshape((x.shape[0], -1)))


class NormsNNX(nnx.Module):
    """GroupNorm over conv features, then LayerNorm over the pooled vector."""

    def __init__(self, rngs: nnx.Rngs):
        self.conv = nnx.Conv(3, 12, (3, 3), rngs=rngs)
        self.group_norm = nnx.GroupNorm(12, num_groups=3, rngs=rngs)
        self.layer_norm = nnx.LayerNorm(12, rngs=rngs)
        self.out = nnx.Linear(12, 4, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = nnx.relu(self.group_norm(self.conv(x)))
        x = nnx.max_pool(x, (2, 2), strides=(2, 2)).mean(axis=(1, 2))
        return self.out(self.layer_norm(x))


def _layer_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, eps: float = 1e-5) -> jax.Array:
    mean = x.mean(-1, keepdims=True)
    var = jnp.square(x - mean).mean(-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * scale + bias


def _layernorm_mlp(params: dict, x: jax.Array) -> jax.Array:
    h = _layer_norm(x @ params["w1"] + params["b1"], params["scale1"], params["shift1"])
    h = jax.nn.gelu(h, approximate=True)
    h = _layer_norm(h @ params["w2"] + params["b2"], params["scale2"], params["shift2"])
    return jax.nn.log_softmax(h @ params["w3"])


def _build_layernorm_mlp(seed: int) -> Built:
    rng = np.random.default_rng(seed)
    params = {
        "w1": normal(rng, (24, 32)),
        "b1": normal(rng, (32,), 0.2),
        "scale1": 1 + normal(rng, (32,), 0.3),
        "shift1": normal(rng, (32,), 0.2),
        "w2": normal(rng, (32, 16)),
        "b2": normal(rng, (16,), 0.2),
        "scale2": 1 + normal(rng, (16,), 0.3),
        "shift2": normal(rng, (16,), 0.2),
        "w3": normal(rng, (16, 3)),
    }
    return function_built(_layernorm_mlp, params)


register(
    ZooEntry(
        name="batchnorm_cnn_linen",
        style="linen",
        description="linen CNN: conv (no bias) + BatchNorm (running averages, train=False) + relu, twice; global mean",
        tags=("cnn", "batchnorm", "same_padding"),
        input=IMAGE,
        build=lambda seed: linen_built(BatchNormCNN(), IMAGE, seed, train=False),
        fast=True,
    )
)
register(
    ZooEntry(
        name="batchnorm_mlp_nnx",
        style="nnx",
        description="nnx MLP: Linear + BatchNorm (eval mode) + tanh, softmax",
        tags=("mlp", "batchnorm", "tanh", "softmax"),
        input=FEATURES,
        build=lambda seed: nnx_built(BatchNormMLP, seed),
    )
)
register(
    ZooEntry(
        name="groupnorm_cnn_linen",
        style="linen",
        description="linen CNN: conv + GroupNorm(4) + SiLU, stride-2 conv + GroupNorm(2) + SiLU, dense",
        tags=("cnn", "groupnorm", "silu", "strides"),
        input=IMAGE,
        build=lambda seed: linen_built(GroupNormCNN(), IMAGE, seed),
    )
)
register(
    ZooEntry(
        name="norms_cnn_nnx",
        style="nnx",
        description="nnx CNN: conv + GroupNorm(3) + relu, max pool, global mean, LayerNorm, linear",
        tags=("cnn", "groupnorm", "layernorm", "max_pool"),
        input=IMAGE,
        build=lambda seed: nnx_built(NormsNNX, seed),
    )
)
register(
    ZooEntry(
        name="layernorm_mlp_jax",
        style="jax",
        description="pure-JAX MLP with hand-written LayerNorm (rsqrt), tanh-approximate GELU, log_softmax",
        tags=("mlp", "layernorm", "gelu_approx", "log_softmax"),
        input=FEATURES,
        build=_build_layernorm_mlp,
    )
)
