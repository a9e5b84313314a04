"""The model registry itself: `ModelDef`, the shared interface, and name → builder.

Pure-JAX, Flax linen and Flax nnx models all expose `init(rng) -> params` (a pytree of arrays) and
`apply(params, x) -> logits`, so training, checkpointing and conversion each have one code path.
The builders (flax_cnn.py, …) import this module; the package imports the builders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax

from jax2tfjs.errors import UnknownModelError

Params = Any  # a pytree of arrays
MNIST_LABELS = tuple(str(d) for d in range(10))
MNIST_INPUT_SHAPE = (28, 28, 1)


@dataclass(frozen=True)
class ModelDef:
    name: str
    style: str  # "jax", "flax_linen" or "flax_nnx"
    description: str
    config: Any  # a frozen dataclass, recorded in checkpoint metadata
    init: Callable[[jax.Array], Params]
    apply: Callable[[Params, jax.Array], jax.Array]
    input_shape: tuple[int, ...] = MNIST_INPUT_SHAPE
    input_dtype: str = "float32"
    input_range: tuple[float, float] = (0.0, 1.0)
    labels: tuple[str, ...] = MNIST_LABELS

    def input_spec(self) -> dict[str, Any]:
        """The input as recorded in metadata: batch dimension dynamic (None)."""
        return {
            "shape": [None, *self.input_shape],
            "dtype": self.input_dtype,
            "range": list(self.input_range),
        }

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "style": self.style,
            "description": self.description,
            "config": dataclasses.asdict(self.config),
            "input_spec": self.input_spec(),
            "labels": list(self.labels),
        }


_BUILDERS: dict[str, Callable[[], ModelDef]] = {}
# Short names used by the Makefile (MODEL=jax|flax|mlp).
ALIASES = {"jax": "jax_cnn", "flax": "flax_cnn", "mlp": "flax_mlp"}


def register(name: str) -> Callable[[Callable[[], ModelDef]], Callable[[], ModelDef]]:
    def add(builder: Callable[[], ModelDef]) -> Callable[[], ModelDef]:
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is registered twice")
        _BUILDERS[name] = builder
        return builder

    return add


def model_names() -> list[str]:
    return sorted(_BUILDERS)


def resolve_name(name: str) -> str:
    return ALIASES.get(name, name)


def get_model(name: str) -> ModelDef:
    """The model registered under `name` (or its alias); a clear error lists the known names."""
    full = resolve_name(name)
    if full not in _BUILDERS:
        known = ", ".join([*model_names(), *(f"{a} (= {f})" for a, f in ALIASES.items())])
        raise UnknownModelError(f"no model named {name!r}", fix=f"use one of: {known}")
    return _BUILDERS[full]()
