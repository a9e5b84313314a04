"""`flax_mlp`: 784 → 256 → 128 → 10 with relu, as a Flax nnx module (Flax's current API).

nnx modules hold their state; to share the registry's functional interface we split the module
into a graph definition and a state, and use the state's pure dict as `params`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import jax
from flax import nnx

from jax2tfjs.models.registry import ModelDef, register


@dataclass(frozen=True)
class MLPConfig:
    hidden: tuple[int, ...] = (256, 128)
    num_classes: int = 10


class MLP(nnx.Module):
    def __init__(self, config: MLPConfig, *, rngs: nnx.Rngs):
        sizes = (28 * 28, *config.hidden)
        self.depth = len(config.hidden)
        # Named attributes, not nnx.List: a list's state has int keys, which checkpoints and
        # metadata would turn into strings.
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            setattr(self, f"hidden{i}", nnx.Linear(fan_in, fan_out, rngs=rngs))
        self.out = nnx.Linear(sizes[-1], config.num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape((x.shape[0], -1))
        for i in range(self.depth):
            x = nnx.relu(getattr(self, f"hidden{i}")(x))
        return self.out(x)


@register("flax_mlp")
def build() -> ModelDef:
    config = MLPConfig()
    abstract = nnx.eval_shape(lambda: MLP(config, rngs=nnx.Rngs(0)))
    graphdef, abstract_state = nnx.split(abstract)

    def init(rng: jax.Array) -> dict:
        return nnx.to_pure_dict(nnx.state(MLP(config, rngs=nnx.Rngs(rng))))  # rng: a typed key

    def apply(params: dict, x: jax.Array) -> jax.Array:
        state = jax.tree.map(lambda leaf: leaf, abstract_state)  # a fresh State to fill
        nnx.replace_by_pure_dict(state, params)
        return nnx.merge(graphdef, state)(x)

    return ModelDef(
        name="flax_mlp",
        style="flax_nnx",
        description="MLP as a Flax nnx module",
        config=config,
        init=init,
        apply=apply,
    )
