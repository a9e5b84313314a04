"""Embedding lookups over int32 token ids with mean pooling (plain and masked), in three styles."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from flax import nnx

from bench.zoo.forms import function_built, linen_built, nnx_built
from bench.zoo.registry import Built, InputSpec, ZooEntry, register, tokens
from bench.zoo.weights import normal

VOCAB = 100
TOKENS = InputSpec((1, 10), "int32", tokens(VOCAB))


class MeanEmbedding(nn.Module):
    @nn.compact
    def __call__(self, ids: jax.Array) -> jax.Array:
        x = nn.Embed(VOCAB, 16)(ids).mean(axis=1)
        return nn.softmax(nn.Dense(4)(x))


class MaskedMeanEmbedding(nnx.Module):
    """Mean over the non-padding tokens (id 0 is padding), then a tanh MLP."""

    def __init__(self, rngs: nnx.Rngs):
        self.embed = nnx.Embed(VOCAB, 12, rngs=rngs)
        self.hidden = nnx.Linear(12, 16, rngs=rngs)
        self.out = nnx.Linear(16, 3, rngs=rngs)

    def __call__(self, ids: jax.Array) -> jax.Array:
        keep = (ids != 0).astype(jnp.float32)[..., None]
        pooled = (self.embed(ids) * keep).sum(axis=1) / jnp.maximum(keep.sum(axis=1), 1.0)
        return self.out(jnp.tanh(self.hidden(pooled)))


def _embedding_bag(params: dict, ids: jax.Array) -> jax.Array:
    """`table[ids]` (negative-index normalisation + gather), mean, sigmoid MLP."""
    pooled = params["table"][ids].mean(axis=1)
    return jax.nn.sigmoid(pooled @ params["w"] + params["b"])


def _build_bag(seed: int) -> Built:
    rng = np.random.default_rng(seed)
    params = {"table": normal(rng, (VOCAB, 8), 1.0), "w": normal(rng, (8, 5)), "b": normal(rng, (5,), 0.2)}
    return function_built(_embedding_bag, params)


register(
    ZooEntry(
        name="embed_mean_linen",
        style="linen",
        description="linen nn.Embed(100, 16) over int32 tokens, mean pooling, dense, softmax",
        tags=("embedding", "mean_pool", "int32_input", "softmax"),
        input=TOKENS,
        build=lambda seed: linen_built(MeanEmbedding(), TOKENS, seed),
    )
)
register(
    ZooEntry(
        name="embed_masked_mean_nnx",
        style="nnx",
        description="nnx.Embed(100, 12) over int32 tokens, mean over non-padding tokens, tanh MLP",
        tags=("embedding", "mean_pool", "mask", "int32_input", "tanh"),
        input=TOKENS,
        build=lambda seed: nnx_built(MaskedMeanEmbedding, seed),
        fast=True,
    )
)
register(
    ZooEntry(
        name="embed_bag_jax",
        style="jax",
        description="pure-JAX table[ids] lookup over int32 tokens, mean pooling, sigmoid output",
        tags=("embedding", "mean_pool", "int32_input", "sigmoid"),
        input=TOKENS,
        build=_build_bag,
    )
)
