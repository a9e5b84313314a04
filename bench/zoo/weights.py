"""Seeded, non-trivial weights for zoo models.

Flax initialises norm scales to 1, biases to 0 and BatchNorm's running statistics to (0, 1): with
those, a converter that dropped a bias, swapped mean and variance or ignored the running averages
would still match JAX. Every such leaf is redrawn here so parity actually tests them.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from flax import nnx


def _redraw(name: str, leaf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    shape, dtype = leaf.shape, leaf.dtype
    if name == "mean":
        return (rng.standard_normal(shape) * 0.5).astype(dtype)
    if name == "var":
        return rng.uniform(0.5, 2.0, shape).astype(dtype)
    if name == "scale":
        return (1.0 + rng.standard_normal(shape) * 0.3).astype(dtype)
    if name == "bias":
        return (rng.standard_normal(shape) * 0.2).astype(dtype)
    return leaf


def _key_name(entry: Any) -> str:
    return str(getattr(entry, "key", getattr(entry, "name", entry)))


def perturb(tree: Any, seed: int) -> Any:
    """`tree` (linen variables or an nnx pure dict) with norm statistics, scales and biases redrawn."""
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: _redraw(_key_name(path[-1]), np.asarray(leaf), rng), tree
    )


def perturb_nnx(module: nnx.Module, seed: int) -> nnx.Module:
    """Redraw the same leaves of an nnx module in place (and return it)."""
    state = nnx.state(module, nnx.Any(nnx.Param, nnx.BatchStat))
    pure = perturb(nnx.to_pure_dict(state), seed)
    nnx.replace_by_pure_dict(state, pure)
    nnx.update(module, state)
    return module


def normal(rng: np.random.Generator, shape: tuple[int, ...], scale: float | None = None) -> np.ndarray:
    """A float32 weight with fan-in scaling (pure-JAX models initialise themselves)."""
    fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    std = scale if scale is not None else 1.0 / np.sqrt(fan_in)
    return (rng.standard_normal(shape) * std).astype(np.float32)
