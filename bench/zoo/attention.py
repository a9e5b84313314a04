"""One-block self-attention encoders: multi-head, masked (padding, causal, local band), with the
feed-forward half, residuals and LayerNorm; over token ids or over feature sequences."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from flax import nnx

from bench.zoo.forms import function_built, linen_built, nnx_built
from bench.zoo.registry import Built, InputSpec, ZooEntry, register, tokens
from bench.zoo.weights import normal

VOCAB = 40
TOKENS = InputSpec((1, 12), "int32", tokens(VOCAB))
SEQUENCE = InputSpec((1, 10, 16))


class TokenEncoder(nn.Module):
    """Embedding + learned positions, one post-norm encoder block with a padding mask (token 0),
    masked mean pooling, a classifier with log_softmax."""

    width: int = 32
    heads: int = 4

    @nn.compact
    def __call__(self, ids: jax.Array, train: bool = False) -> jax.Array:
        keep = ids > 0
        x = nn.Embed(VOCAB, self.width)(ids)
        x = x + self.param("positions", nn.initializers.normal(0.1), (ids.shape[1], self.width))
        mask = nn.make_attention_mask(keep, keep)  # [b, 1, q, k]
        attended = nn.MultiHeadDotProductAttention(num_heads=self.heads, dropout_rate=0.1)(
            x, x, mask=mask, deterministic=not train
        )
        x = nn.LayerNorm()(x + attended)
        hidden = nn.Dense(2 * self.width)(x)
        hidden = nn.Dropout(0.1, deterministic=not train)(nn.gelu(hidden, approximate=False))
        x = nn.LayerNorm()(x + nn.Dense(self.width)(hidden))
        weights = keep.astype(x.dtype)[..., None]
        pooled = (x * weights).sum(1) / jnp.maximum(weights.sum(1), 1.0)
        return nn.log_softmax(nn.Dense(5)(pooled))


class CausalEncoder(nnx.Module):
    """Pre-norm block with a causal mask over a feature sequence; per-step softmax outputs."""

    def __init__(self, rngs: nnx.Rngs, width: int = 16, heads: int = 2):
        self.norm1 = nnx.LayerNorm(width, rngs=rngs)
        self.attention = nnx.MultiHeadAttention(
            num_heads=heads, in_features=width, dropout_rate=0.1, decode=False, rngs=rngs
        )
        self.norm2 = nnx.LayerNorm(width, rngs=rngs)
        self.up = nnx.Linear(width, 2 * width, rngs=rngs)
        self.down = nnx.Linear(2 * width, width, rngs=rngs)
        self.out = nnx.Linear(width, 4, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        mask = nnx.make_causal_mask(x[..., 0])
        h = self.norm1(x)
        x = x + self.attention(h, h, h, mask=mask)
        x = x + self.down(nnx.silu(self.up(self.norm2(x))))
        return nnx.softmax(self.out(x))


HEADS, HEAD_DIM, WIDTH, BAND = 3, 4, 16, 2


def _band_attention(params: dict, x: jax.Array) -> jax.Array:
    """Hand-written multi-head attention: q/k/v projections as einsums, scores with non-leading
    batch dims (b, h), a local band mask |i - j| <= BAND with jnp.where, softmax, output
    projection, residual."""
    q = jnp.einsum("btd,dhk->bthk", x, params["wq"])
    k = jnp.einsum("btd,dhk->bthk", x, params["wk"])
    v = jnp.einsum("btd,dhk->bthk", x, params["wv"])
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(HEAD_DIM).astype(np.float32)
    steps = jnp.arange(x.shape[1])
    band = jnp.abs(steps[:, None] - steps[None, :]) <= BAND
    scores = jnp.where(band[None, None], scores, -1e9)
    attended = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, axis=-1), v)
    x = x + jnp.einsum("bthk,hkd->btd", attended, params["wo"])
    return x.mean(axis=1) @ params["head"]


def _build_band_attention(seed: int) -> Built:
    rng = np.random.default_rng(seed)
    params = {name: normal(rng, (WIDTH, HEADS, HEAD_DIM), 1 / np.sqrt(WIDTH)) for name in ("wq", "wk", "wv")}
    params["wo"] = normal(rng, (HEADS, HEAD_DIM, WIDTH), 1 / np.sqrt(HEADS * HEAD_DIM))
    params["head"] = normal(rng, (WIDTH, 3))
    return function_built(_band_attention, params)


register(
    ZooEntry(
        name="encoder_tokens_linen",
        style="linen",
        description="linen encoder block over int32 tokens: Embed + positions, 4-head attention with padding mask, GELU FFN, LayerNorm ×2, masked mean, log_softmax",
        tags=(
            "attention",
            "multi_head",
            "mask",
            "embedding",
            "int32_input",
            "layernorm",
            "residual",
            "dropout",
            "gelu_exact",
            "log_softmax",
        ),
        input=TOKENS,
        build=lambda seed: linen_built(TokenEncoder(), TOKENS, seed, train=False),
        fast=True,
    )
)
register(
    ZooEntry(
        name="encoder_causal_nnx",
        style="nnx",
        description="nnx pre-norm encoder block: 2-head attention with a causal mask, SiLU FFN, per-step softmax",
        tags=("attention", "multi_head", "mask", "layernorm", "residual", "silu", "softmax", "dropout"),
        input=SEQUENCE,
        build=lambda seed: nnx_built(CausalEncoder, seed),
    )
)
register(
    ZooEntry(
        name="attention_band_jax",
        style="jax",
        description="pure-JAX 3-head self-attention with a local band mask (einsum projections), residual, mean",
        tags=("attention", "multi_head", "mask", "residual"),
        input=SEQUENCE,
        build=_build_band_attention,
    )
)
