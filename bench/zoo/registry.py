"""The zoo registry: small models, one per architectural pattern, that the converter must handle.

Each entry builds a model in one of the three forms `to_tensorflowjs` accepts (pure JAX `fn(params,
x)`, Flax linen module + variables, Flax nnx module), seeded so that every run converts the same
weights, and says what inputs it takes: one `InputSpec`, or a pytree of them in the structure of the
model's call (a tuple: positional arguments; a dict: keyword arguments; a dict in a 1-tuple: one dict
argument), exactly as `to_tensorflowjs` reads `input_spec`. Entries carry tags naming the patterns
they exercise; the tests check that every pattern the zoo promises (`REQUIRED_TAGS`) is present.
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
    # Signatures (issue 14): the model's own call form, several named inputs and outputs.
    "multi_input",
    "multi_output",
    "output_object",
    "scalar_input",
    "static_batch",
    "dynamic_seq",
    "int_output",
    "bool_output",
    "bool_input",
    "rnn_cell",
    "keyword_input",
    "nnx_rngs",
    # Control flow and the primitives of issue 16.
    "scan",
    "bidirectional",
    "fori_loop",
    "while_loop",
    "cond",
    "class_token",
    "fixed_key",
    "top_k",
    "scatter_add",
)


# How much longer than its spec a dynamic non-batch dim is drawn (a sequence of 8 is fed as 11).
DYNAMIC_STEP = 3


@dataclass(frozen=True)
class InputSpec:
    """One input: `shape` with the batch first (its size is a placeholder when the batch is dynamic;
    `()` is a scalar), the dtype, and how random values are drawn.

    `name` is what the export must call the input (its argument name or dict key); the runner checks
    the export's signature against it. `dims` states the input's dims as `dynamic_axes` does (a symbol
    per dynamic dim, None for a static one, e.g. `("b", "seq")`); without it dim 0 is the dynamic
    batch when the entry's is. `dims` needs `name`: `dynamic_axes` is keyed by input name."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    sample: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray] | None = None
    name: str | None = None
    dims: tuple[str | int | None, ...] | None = None

    def struct(self) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct(self.shape, np.dtype(self.dtype))

    def batched(self, dynamic_batch: bool = True) -> bool:
        """Whether dim 0 is the export's dynamic batch (so inputs may have any number of rows)."""
        if self.dims is not None:
            return bool(self.dims) and isinstance(self.dims[0], str)
        return dynamic_batch and len(self.shape) > 0

    def random(self, rng: np.random.Generator, batch: int | None) -> np.ndarray:
        """Random values with `batch` rows (None: the spec's own dim 0). A dynamic dim past the
        first (`dims` symbol, e.g. a sequence length) is drawn `DYNAMIC_STEP` longer than the spec,
        so the run feeds a size the trace never saw: an export that froze it fails."""
        shape = list(self.shape)
        if batch is not None and shape:
            shape[0] = batch
        for axis, dim in enumerate(self.dims or ()):
            if axis > 0 and isinstance(dim, str):
                shape[axis] += DYNAMIC_STEP
        values = self.sample(rng, tuple(shape)) if self.sample else rng.standard_normal(shape)
        return np.asarray(values).astype(self.dtype)

    def describe(self, dynamic_batch: bool = True) -> dict[str, Any]:
        """Shape (None for a dynamic dim) and dtype, as a row records them."""
        if self.dims is not None:
            shape = [None if isinstance(d, str) else n for d, n in zip(self.dims, self.shape, strict=True)]
        else:
            shape = [None if i == 0 and self.batched(dynamic_batch) else n for i, n in enumerate(self.shape)]
        return {**({"name": self.name} if self.name else {}), "shape": shape, "dtype": self.dtype}


def spec_leaves(inputs: Any) -> list[InputSpec]:
    """The InputSpecs of an entry's input pytree, in JAX's flatten order (the export's input order)."""
    return jax.tree_util.tree_leaves(inputs)


def call_with(fn: Callable[..., Any], inputs: Any) -> Any:
    """Call `fn` with `inputs` in the call form the input pytree's top level states: a tuple or list
    gives positional arguments, a dict keyword arguments, anything else one argument (a dict wrapped
    in a 1-tuple is one dict argument). Zoo dicts are always keywords, so the rule needs no
    signature inspection; the converter must reach the same call on its own."""
    if isinstance(inputs, tuple | list):
        return fn(*inputs)
    if isinstance(inputs, dict):
        return fn(**inputs)
    return fn(inputs)


def boolean(p_true: float = 0.8) -> Callable[[np.random.Generator, tuple[int, ...]], Any]:
    """Bool values, True with probability `p_true` (a padding mask keeps most positions)."""

    def sample(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.random(shape) < p_true

    return sample


def uniform(low: float, high: float) -> Callable[[np.random.Generator, tuple[int, ...]], Any]:
    """Floats in [low, high) (a temperature must stay away from 0)."""

    def sample(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.uniform(low, high, shape)

    return sample


def tokens(vocab: int, pad_fraction: float = 0.25) -> Callable[[np.random.Generator, tuple[int, ...]], Any]:
    """Token ids in [1, vocab) with about `pad_fraction` of them set to the padding id 0."""

    def sample(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        ids = rng.integers(1, vocab, shape)
        return np.where(rng.random(shape) < pad_fraction, 0, ids).astype(np.int32)

    return sample


@dataclass
class Built:
    """A built model: the arguments for `to_tensorflowjs` and JAX's own forward pass.

    `reference(inputs)` takes the inputs in the entry's input structure (one array, or the pytree)
    and returns the model's output pytree. It is what the export must compute, written
    independently of the converter (e.g. an nnx module is cloned and put in eval mode here, a linen
    module applied with deterministic flags), so a converter that forgot eval mode would be caught."""

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
    input: Any  # one InputSpec, or a pytree of them in the call's structure (see the module doc)
    build: Callable[[int], Built]  # seed -> Built
    fast: bool = False  # part of the quick subset the test suite runs
    # False: every input keeps the spec's exact shape (the zoo then feeds exactly the spec's batch).
    dynamic_batch: bool = True

    @property
    def inputs(self) -> list[InputSpec]:
        return spec_leaves(self.input)

    def input_struct(self) -> Any:
        """`input_spec` for `to_tensorflowjs`: the input pytree with a ShapeDtypeStruct per input."""
        return jax.tree.map(InputSpec.struct, self.input)

    def dynamic_axes(self) -> dict[str, tuple] | None:
        """`dynamic_axes` for `to_tensorflowjs`, from the inputs that state their dims."""
        stated = {spec.name: spec.dims for spec in self.inputs if spec.dims is not None}
        return stated or None

    def random_inputs(self, rng: np.random.Generator, batch: int) -> Any:
        """Random inputs in the call's structure: `batch` rows where dim 0 is dynamic, else the
        spec's exact shape (a static-batch model gets exactly the batch it was exported for)."""
        return jax.tree.map(
            lambda spec: spec.random(rng, batch if spec.batched(self.dynamic_batch) else None), self.input
        )


_ENTRIES: dict[str, ZooEntry] = {}


def register(entry: ZooEntry) -> ZooEntry:
    if entry.name in _ENTRIES:
        raise ValueError(f"zoo model {entry.name!r} is registered twice")
    if entry.style not in STYLES:
        raise ValueError(f"zoo model {entry.name!r}: style must be one of {STYLES}, not {entry.style!r}")
    for spec in entry.inputs:
        if not isinstance(spec, InputSpec):
            raise ValueError(f"zoo model {entry.name!r}: every input must be an InputSpec, not {spec!r}")
        if spec.dims is not None and (spec.name is None or len(spec.dims) != len(spec.shape)):
            raise ValueError(f"zoo model {entry.name!r}: dims need a name and one entry per axis ({spec})")
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
