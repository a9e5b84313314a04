"""Sorting and selection heads: a top-k classifier head and a listwise ranking head (argsort plus
a Plackett-Luce log-likelihood, which needs a reversed cumlogsumexp over the sorted scores)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from jax import lax

from bench.zoo.forms import function_built, linen_built
from bench.zoo.registry import Built, InputSpec, ZooEntry, register
from bench.zoo.weights import normal

FEATURES = InputSpec((1, 20))
# 160 candidates of 6 features: a sort of more than 128 leaves WebGL's TopK CPU hand-off for its GPU
# bitonic sort (TOPK_K_CPU_HANDOFF_THRESHOLD), so the browser run covers both kernels.
CANDIDATES = InputSpec((1, 160, 6))


class TopKClassifier(nn.Module):
    """MLP 20-32-10 whose head returns the five most likely classes and their probabilities."""

    k: int = 5

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = nn.tanh(nn.Dense(32)(x))
        probabilities = nn.softmax(nn.Dense(10)(x))
        return lax.top_k(probabilities, self.k)


def _rank_candidates(params: dict, candidates: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Score each candidate, order them best first, and the Plackett-Luce log-likelihood of that
    order: sum_i s_i - logsumexp(s_i..s_n) over the sorted scores."""
    hidden = jnp.tanh(candidates @ params["w1"] + params["b1"])
    scores = (hidden @ params["w2"])[..., 0] + params["b2"]
    order = jnp.argsort(-scores, axis=-1)
    best_first = -jnp.sort(-scores, axis=-1)
    log_likelihood = jnp.sum(best_first - lax.cumlogsumexp(best_first, axis=1, reverse=True), axis=-1)
    return order, best_first, log_likelihood


def _build_ranker(seed: int) -> Built:
    rng = np.random.default_rng(seed)
    params = {
        "w1": normal(rng, (6, 16)),
        "b1": normal(rng, (16,), 0.2),
        "w2": normal(rng, (16, 1)),
        "b2": normal(rng, (), 0.2),
    }
    return function_built(_rank_candidates, params)


register(
    ZooEntry(
        name="top5_classifier_linen",
        style="linen",
        description="linen MLP 20-32-10 with a top-5 head: the five largest softmax probabilities and their int32 classes",
        tags=("top_k", "mlp", "tanh", "softmax", "multi_output", "int_output"),
        input=FEATURES,
        build=lambda seed: linen_built(TopKClassifier(), FEATURES, seed),
    )
)
register(
    ZooEntry(
        name="listwise_ranker_jax",
        style="jax",
        description=(
            "pure-JAX scorer 6-16-1 over 160 candidates: argsort order (int32), sorted scores, and the "
            "Plackett-Luce log-likelihood (reversed cumlogsumexp)"
        ),
        tags=("mlp", "tanh", "multi_output", "int_output"),
        input=CANDIDATES,
        build=_build_ranker,
    )
)
