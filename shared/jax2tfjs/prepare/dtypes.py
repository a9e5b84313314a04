"""Dtype auto-fix: TF.js weights are float32, int32 or bool; other dtypes are cast when the cast is
safe, else refused.

float64, float16, bfloat16 → float32 (float16 and bfloat16 exactly; float64 rounds, as JAX itself does
with x64 off); int8/int16/uint8/uint16 → int32 exactly; int64/uint32/uint64 → int32 only when every
value fits. Complex numbers, strings and objects have no TF.js weight type and are refused. The tree's
containers are kept (an nnx State stays a State), only leaves change.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import jax
import numpy as np

from jax2tfjs.keypaths import key_path
from jax2tfjs.prepare.trees import Tree, listing

TFJS_DTYPES = ("float32", "int32", "bool")
TO_FLOAT32 = ("float64", "float16", "bfloat16")
TO_INT32_EXACT = ("int8", "int16", "uint8", "uint16")
TO_INT32_IF_IN_RANGE = ("int64", "uint32", "uint64")
_INT32 = np.iinfo(np.int32)
# What jax2tfjs has always put in report.warnings for these casts (kept word for word).
WARNINGS = {
    "float": "parameters in {dtype} were cast to float32 (TF.js computes in float32)",
    "int64": "int64 parameters were cast to int32 (TF.js has no int64)",
}


@dataclass
class DtypePlan:
    tree: Tree
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "path dtype (why)"
    needs_cast: list[str] = field(default_factory=list)  # "path dtype", for the error without autofix


def _target(array: np.ndarray) -> tuple[np.dtype | None, str | None]:
    """(dtype to cast to or None, why it cannot be cast or None)."""
    name = array.dtype.name
    if name in TFJS_DTYPES:
        return None, None
    if name in TO_FLOAT32:
        return np.dtype(np.float32), None
    if name in TO_INT32_EXACT:
        return np.dtype(np.int32), None
    if name in TO_INT32_IF_IN_RANGE:
        if array.size and (array.min() < _INT32.min or array.max() > _INT32.max):
            return None, f"values up to {array.max()} do not fit int32"
        return np.dtype(np.int32), None
    if array.dtype.kind == "c":
        return None, "TF.js has no complex weights"
    return None, f"TF.js has no {name} weights"


def plan_dtypes(params: Tree) -> DtypePlan:
    """Cast every leaf TF.js cannot hold; record each cast (grouped by dtype) and each refusal.

    JAX's pytree map rather than `trees`: only it rebuilds every registered container as it was (an
    nnx State, a NamedTuple); `trees.unflatten` gives plain dicts."""
    moved: dict[str, list[str]] = defaultdict(list)
    plan = DtypePlan(tree=params)

    def cast(path: tuple, leaf: object) -> object:
        # np, not jnp: with x64 off, jnp.asarray would already have narrowed float64 silently.
        array = np.asarray(leaf)
        target, why = _target(array)
        where = key_path(path) or "(the parameter)"
        if why is not None:
            plan.refused.append(f"{where} {array.dtype.name} ({why})")
            return leaf
        if target is None:
            return leaf
        moved[array.dtype.name].append(where)
        plan.needs_cast.append(f"{where} {array.dtype.name}")
        return array.astype(target)

    plan.tree = jax.tree_util.tree_map_with_path(cast, params)
    for dtype, paths in sorted(moved.items()):
        target = "float32" if dtype in TO_FLOAT32 else "int32"
        noun = "parameter" if len(paths) == 1 else "parameters"
        plan.changes.append(f"{len(paths)} {noun} in {dtype} cast to {target} ({listing(paths, limit=3)})")
        if dtype in TO_FLOAT32:
            plan.warnings.append(WARNINGS["float"].format(dtype=dtype))
        elif dtype == "int64":
            plan.warnings.append(WARNINGS["int64"])
    return plan
