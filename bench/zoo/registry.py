"""The zoo registry: small models, one per architectural pattern, that the converter must handle.

Each entry builds a model in one of the three forms `to_tensorflowjs` accepts (pure JAX `fn(params,
x)`, Flax linen module + variables, Flax nnx module), seeded so that every run converts the same
weights, and says what input it takes. Entries carry tags naming the patterns they exercise; the
tests check that every pattern the zoo promises (`REQUIRED_TAGS`) is present.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

STYLES = ("jax", "linen", "nnx")

# What the zoo promises to cover (issue 6); each tag must be carried by at least one entry.
REQUIRED_TAGS = (
    "mlp",
    "tanh",
    "sigmoid",
    "gelu_exact",
    "gelu_approx",
    "silu",
    "cnn",
    "max_pool",
    "avg_pool",
    "strides",
    "same_padding",
    "valid_padding",
    "explicit_padding",
    "dilation",
    "depthwise_separable",
    "conv_transpose",
    "batchnorm",
    "layernorm",
    "groupnorm",
    "dropout",
    "residual",
    "softmax",
    "log_softmax",
    "embedding",
    "mean_pool",
    "int32_input",
    "attention",
    "multi_head",
    "mask",
)


@dataclass(frozen=True)
class InputSpec:
    """The model's input: `shape` with the batch first (its size is a placeholder: exports keep
    the batch dynamic), the dtype, and how random inputs are drawn."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    sample: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray] | None = None

    def struct(self) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct(self.shape, np.dtype(self.dtype))

    def random(self, rng: np.random.Generator, batch: int) -> np.ndarray:
        shape = (batch, *self.shape[1:])
        values = self.sample(rng, shape) if self.sample else rng.standard_normal(shape)
        return np.asarray(values).astype(self.dtype)


def tokens(vocab: int, pad_fraction: float = 0.25) -> Callable[[np.random.Generator, tuple[int, ...]], Any]:
    """Token ids in [1, vocab) with about `pad_fraction` of them set to the padding id 0."""

    def sample(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        ids = rng.integers(1, vocab, shape)
        return np.where(rng.random(shape) < pad_fraction, 0, ids).astype(np.int32)

    return sample


@dataclass
class Built:
    """A built model: the arguments for `to_tensorflowjs` and JAX's own forward pass.

    `reference(x)` is what the export must compute, written independently of the converter (e.g.
    an nnx module is cloned and put in eval mode here, a linen module applied with deterministic
    flags), so a converter that forgot eval mode would be caught."""

    model: Any
    params: Any
    reference: Callable[[Any], Any]
    apply_kwargs: dict[str, Any] | None = None


@dataclass(frozen=True)
class ZooEntry:
    name: str
    style: str  # one of STYLES
    description: str
    tags: tuple[str, ...]
    input: InputSpec
    build: Callable[[int], Built]  # seed -> Built
    fast: bool = False  # part of the quick subset the test suite runs


_ENTRIES: dict[str, ZooEntry] = {}


def register(entry: ZooEntry) -> ZooEntry:
    if entry.name in _ENTRIES:
        raise ValueError(f"zoo model {entry.name!r} is registered twice")
    if entry.style not in STYLES:
        raise ValueError(f"zoo model {entry.name!r}: style must be one of {STYLES}, not {entry.style!r}")
    _ENTRIES[entry.name] = entry
    return entry


def entries() -> list[ZooEntry]:
    """Every registered entry, in registration order (families grouped)."""
    return list(_ENTRIES.values())


def get(name: str) -> ZooEntry:
    from jax2tfjs.errors import UnknownModelError

    if name not in _ENTRIES:
        raise UnknownModelError(f"no zoo model named {name!r}", fix=f"use one of: {', '.join(_ENTRIES)}")
    return _ENTRIES[name]


def select(names: str | list[str] | tuple[str, ...]) -> list[ZooEntry]:
    """`all`, `fast` (the test suite's subset), or names, as a comma list or a sequence."""
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    if wanted == ["all"]:
        return entries()
    if wanted == ["fast"]:
        return [e for e in entries() if e.fast]
    return [get(n) for n in wanted]
