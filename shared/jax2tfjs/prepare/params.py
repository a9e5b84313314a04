"""Finding the parameters inside what users save: our state, a Flax TrainState, linen variables.

A checkpoint restored without a target is plain nested dicts. The parameters may sit at the top,
under 'params' (our layout and Flax's TrainState), or under 'params' twice (a TrainState whose
params are linen variables). FrozenDicts restore as dicts, and are unfrozen the same way here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

Tree = Any


def unfreeze(tree: Tree) -> Tree:
    """Nested Mappings (FrozenDict included) as plain dicts."""
    if isinstance(tree, Mapping):
        return {key: unfreeze(value) for key, value in tree.items()}
    return tree


def find_params(tree: Tree) -> tuple[Tree, list[str]]:
    """(params, the keys walked to reach them). Stops at the first level that is not a lone or
    TrainState-style 'params' wrapper."""
    tree, path = unfreeze(tree), []
    while isinstance(tree, dict) and "params" in tree and isinstance(tree["params"], dict):
        others = set(tree) - {"params"}
        # A TrainState or our state has siblings like step/opt_state; linen variables may carry
        # 'batch_stats' (read separately, in inference mode, by the converter).
        if others and not others <= {"step", "opt_state", "batch_stats", "tx", "apply_fn"}:
            break
        tree, path = tree["params"], [*path, "params"]
    return tree, path


def flatten(tree: Tree, prefix: str = "") -> list[tuple[str, Any]]:
    """[(path 'a/b/c', leaf)] in sorted key order; None leaves (optax EmptyState) are skipped."""
    if isinstance(tree, Mapping):
        rows = []
        for key in sorted(tree, key=str):
            rows += flatten(tree[key], f"{prefix}/{key}" if prefix else str(key))
        return rows
    if isinstance(tree, list | tuple):
        rows = []
        for i, value in enumerate(tree):
            rows += flatten(value, f"{prefix}/{i}" if prefix else str(i))
        return rows
    return [] if tree is None else [(prefix, tree)]


def leaf_rows(tree: Tree) -> list[dict[str, Any]]:
    """One row per array: path, shape, dtype, count, bytes."""
    rows = []
    for path, leaf in flatten(tree):
        array = np.asarray(leaf)
        rows.append(
            {
                "path": path,
                "shape": list(array.shape),
                "dtype": str(array.dtype),
                "count": int(array.size),
                "bytes": int(array.nbytes),
            }
        )
    return rows
