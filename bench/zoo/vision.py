"""Vision models beyond the plain CNN: a ViT with a class token, and a 3-D (video) CNN."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn

from bench.zoo.forms import linen_built
from bench.zoo.registry import InputSpec, ZooEntry, register

IMAGE = InputSpec((1, 16, 16, 3))
CLIP = InputSpec((1, 6, 12, 12, 2))  # frames, height, width, channels


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: multi-head self-attention and a GELU MLP, each residual."""

    width: int
    heads: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.LayerNorm()(x)
        x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads)(h, h)
        h = nn.Dense(2 * self.width)(nn.LayerNorm()(x))
        return x + nn.Dense(self.width)(nn.gelu(h))


class ClassTokenViT(nn.Module):
    """ViT as real ones are written: patches by a conv with stride = patch, a learned [1, 1, D]
    class token tiled onto the (dynamic) batch and put in front, learned positions, two blocks, the
    class token's output through a LayerNorm and the head."""

    patch: int = 4
    width: int = 32
    heads: int = 4
    depth: int = 2
    classes: int = 10

    @nn.compact
    def __call__(self, images: jax.Array) -> jax.Array:
        x = nn.Conv(self.width, (self.patch, self.patch), strides=(self.patch, self.patch), padding="VALID")(
            images
        )
        batch, height, width, channels = x.shape
        x = x.reshape(batch, height * width, channels)
        cls = self.param("cls", nn.initializers.normal(0.02), (1, 1, self.width))
        x = jnp.concatenate([jnp.tile(cls, (batch, 1, 1)), x], axis=1)
        x = x + self.param("positions", nn.initializers.normal(0.02), (1, x.shape[1], self.width))
        for _ in range(self.depth):
            x = EncoderBlock(self.width, self.heads)(x)
        return nn.softmax(nn.Dense(self.classes)(nn.LayerNorm()(x[:, 0])))


class VideoCNN(nn.Module):
    """3-D CNN over a short clip: a SAME conv strided in space, a 3-D max pool, a dilated VALID
    conv, a 3-D average pool, global mean, dense."""

    @nn.compact
    def __call__(self, clip: jax.Array) -> jax.Array:
        x = nn.relu(nn.Conv(8, (3, 3, 3), strides=(1, 2, 2), padding="SAME")(clip))
        x = nn.max_pool(x, (2, 2, 2), strides=(2, 2, 2))
        x = nn.relu(nn.Conv(8, (2, 2, 2), kernel_dilation=(1, 2, 2), padding="VALID")(x))
        x = nn.avg_pool(x, (1, 2, 2), strides=(1, 1, 1), padding="SAME")
        return nn.Dense(5)(x.mean(axis=(1, 2, 3)))


register(
    ZooEntry(
        name="vit_class_token_linen",
        style="linen",
        description="linen ViT: 4×4 patch conv (stride 4), learned class token tiled onto the batch, positions, 2 pre-norm blocks (4-head attention, GELU MLP), class-token LayerNorm + head, softmax",
        tags=(
            "class_token",
            "attention",
            "multi_head",
            "layernorm",
            "residual",
            "gelu_approx",
            "cnn",
            "strides",
            "valid_padding",
            "softmax",
        ),
        input=IMAGE,
        build=lambda seed: linen_built(ClassTokenViT(), IMAGE, seed),
    )
)
register(
    ZooEntry(
        name="cnn3d_video_linen",
        style="linen",
        description="linen 3-D CNN over a clip: SAME Conv3D strided in space, 3-D max pool, dilated VALID Conv3D, 3-D SAME avg pool, global mean, dense",
        tags=("cnn", "strides", "same_padding", "valid_padding", "dilation", "max_pool", "avg_pool"),
        input=CLIP,
        build=lambda seed: linen_built(VideoCNN(), CLIP, seed),
    )
)
