"""Residual networks: a small ResNet (identity and projection shortcuts, BatchNorm) and a pre-norm
residual MLP with dropout."""

from __future__ import annotations

import jax
from flax import linen as nn
from flax import nnx

from bench.zoo.forms import linen_built, nnx_built
from bench.zoo.registry import InputSpec, ZooEntry, register

IMAGE = InputSpec((1, 16, 16, 3))
FEATURES = InputSpec((1, 16))


class ResidualBlock(nn.Module):
    features: int
    strides: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        norm = lambda: nn.BatchNorm(use_running_average=not train)  # noqa: E731
        y = nn.relu(norm()(nn.Conv(self.features, (3, 3), self.strides, use_bias=False)(x)))
        y = norm()(nn.Conv(self.features, (3, 3), use_bias=False)(y))
        if x.shape[-1] != self.features or self.strides != 1:  # projection shortcut
            x = norm()(nn.Conv(self.features, (1, 1), self.strides, use_bias=False)(x))
        return nn.relu(x + y)


class TinyResNet(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        x = nn.relu(nn.Conv(8, (3, 3))(x))
        x = ResidualBlock(8)(x, train)
        x = ResidualBlock(16, strides=2)(x, train)
        return nn.softmax(nn.Dense(10)(x.mean(axis=(1, 2))))


class ResidualMLP(nnx.Module):
    """x + W2 · gelu(W1 · LayerNorm(x)), twice, with dropout on each branch."""

    def __init__(self, rngs: nnx.Rngs, width: int = 16, blocks: int = 2):
        self.blocks = blocks
        for i in range(blocks):
            setattr(self, f"norm{i}", nnx.LayerNorm(width, rngs=rngs))
            setattr(self, f"up{i}", nnx.Linear(width, 4 * width, rngs=rngs))
            setattr(self, f"down{i}", nnx.Linear(4 * width, width, rngs=rngs))
        self.drop = nnx.Dropout(0.1, rngs=rngs)
        self.out = nnx.Linear(width, 3, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        for i in range(self.blocks):
            branch = nnx.gelu(getattr(self, f"up{i}")(getattr(self, f"norm{i}")(x)), approximate=False)
            x = x + self.drop(getattr(self, f"down{i}")(branch))
        return self.out(x)


register(
    ZooEntry(
        name="resnet_linen",
        style="linen",
        description="linen ResNet: stem conv, identity block, stride-2 block with 1×1 projection; BatchNorm; softmax",
        tags=("cnn", "residual", "batchnorm", "strides", "softmax"),
        input=IMAGE,
        build=lambda seed: linen_built(TinyResNet(), IMAGE, seed, train=False),
    )
)
register(
    ZooEntry(
        name="residual_mlp_nnx",
        style="nnx",
        description="nnx pre-LayerNorm residual MLP: 2 blocks of LayerNorm, 4× expansion, exact GELU, dropout",
        tags=("mlp", "residual", "layernorm", "gelu_exact", "dropout"),
        input=FEATURES,
        build=lambda seed: nnx_built(ResidualMLP, seed),
    )
)
