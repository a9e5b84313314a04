"""MLPs: every activation the zoo promises (tanh, sigmoid, exact and approximate GELU, SiLU),
deterministic dropout, and softmax / log_softmax outputs, in each of the three styles."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from flax import nnx

from bench.zoo.forms import function_built, linen_built, nnx_built
from bench.zoo.registry import Built, InputSpec, ZooEntry, register
from bench.zoo.weights import normal

FEATURES = InputSpec((1, 20))


def _mlp_tanh_sigmoid(params: dict, x: jax.Array) -> jax.Array:
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    h = jax.nn.sigmoid(h @ params["w2"] + params["b2"])
    return jax.nn.softmax(h @ params["w3"] + params["b3"])


def _build_tanh_sigmoid(seed: int) -> Built:
    rng = np.random.default_rng(seed)
    sizes = (20, 32, 16, 5)
    params = {}
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        params[f"w{i}"] = normal(rng, (fan_in, fan_out))
        params[f"b{i}"] = normal(rng, (fan_out,), 0.2)
    return function_built(_mlp_tanh_sigmoid, params)


class GeluMLP(nn.Module):
    """Exact GELU (lowers to erfc, which TF.js lacks), dropout, approximate GELU, log_softmax."""

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        x = nn.gelu(nn.Dense(48)(x), approximate=False)
        x = nn.Dropout(0.3, deterministic=not train)(x)
        x = nn.gelu(nn.Dense(24)(x), approximate=True)
        return nn.log_softmax(nn.Dense(6)(x))


class SiluMLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.hidden1 = nnx.Linear(20, 40, rngs=rngs)
        self.drop = nnx.Dropout(0.25, rngs=rngs)
        self.hidden2 = nnx.Linear(40, 40, rngs=rngs)
        self.out = nnx.Linear(40, 7, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.drop(nnx.silu(self.hidden1(x)))
        x = nnx.silu(self.hidden2(x))
        return self.out(x)


register(
    ZooEntry(
        name="mlp_tanh_sigmoid_jax",
        style="jax",
        description="pure-JAX MLP 20-32-16-5: tanh, sigmoid, softmax output",
        tags=("mlp", "tanh", "sigmoid", "softmax"),
        input=FEATURES,
        build=_build_tanh_sigmoid,
    )
)
register(
    ZooEntry(
        name="mlp_gelu_linen",
        style="linen",
        description="linen MLP 20-48-24-6: exact GELU, dropout (deterministic), tanh-approximate GELU, log_softmax",
        tags=("mlp", "gelu_exact", "gelu_approx", "dropout", "log_softmax"),
        input=FEATURES,
        build=lambda seed: linen_built(GeluMLP(), FEATURES, seed, train=False),
    )
)
register(
    ZooEntry(
        name="mlp_silu_nnx",
        style="nnx",
        description="nnx MLP 20-40-40-7: SiLU, dropout (eval mode), raw logits",
        tags=("mlp", "silu", "dropout"),
        input=FEATURES,
        build=lambda seed: nnx_built(SiluMLP, seed),
    )
)
