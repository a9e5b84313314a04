"""Nested parameter trees as users hand them over: dicts (FrozenDicts unfrozen), lists and tuples
(optimizer states), arrays or abstract `ShapeDtypeStruct`s at the leaves.

The one tree walker of the package's parameter handling: `children` says what is inside a node, and
everything else here (leaves, nodes, the rows `examine` prints) walks through it, so conversion and
`examine` see the same tree. Paths are tuples of string keys (list positions as their index), printed
'a/b/c'. `None` leaves (optax's EmptyState) hold nothing and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

Tree = Any
Path = tuple[str, ...]


def unfreeze(tree: Tree) -> Tree:
    """Nested Mappings (FrozenDict included) as plain dicts."""
    if isinstance(tree, Mapping):
        return {key: unfreeze(value) for key, value in tree.items()}
    return tree


def children(node: Tree) -> list[tuple[str, Tree]] | None:
    """(key, child) pairs of an inner node, or None for a leaf."""
    if isinstance(node, Mapping):
        return [(str(key), value) for key, value in node.items()]
    if isinstance(node, list | tuple) and not hasattr(node, "_fields"):
        return [(str(i), value) for i, value in enumerate(node)]
    if isinstance(node, tuple):  # a NamedTuple (optax states): its fields by name
        return [(name, getattr(node, name)) for name in node._fields]
    return None


def leaves(tree: Tree, prefix: Path = ()) -> dict[Path, Any]:
    """{path: leaf} for every non-None leaf."""
    items = children(tree)
    if items is None:
        return {} if tree is None else {prefix: tree}
    found: dict[Path, Any] = {}
    for key, value in items:
        found.update(leaves(value, (*prefix, key)))
    return found


def nodes(tree: Tree, max_depth: int = 4, prefix: Path = ()) -> Iterator[tuple[Path, Tree]]:
    """Every inner node (the root first) down to `max_depth`, with its path."""
    items = children(tree)
    if items is None:
        return
    yield prefix, tree
    if len(prefix) < max_depth:
        for key, value in items:
            yield from nodes(value, max_depth, (*prefix, key))


def get(tree: Tree, path: Path) -> Tree:
    for key in path:
        tree = dict(children(tree) or [])[key]
    return tree


def sorted_leaves(tree: Tree) -> list[tuple[Path, Any]]:
    """leaves(tree) in natural path order ('dense2' before 'dense10')."""
    return sorted(leaves(tree).items(), key=lambda item: tuple(natural_key(k) for k in item[0]))


def leaf_rows(tree: Tree) -> list[dict[str, Any]]:
    """One row per array, in natural path order: path, shape, dtype, count, bytes."""
    rows = []
    for path, leaf in sorted_leaves(tree):
        array = np.asarray(leaf)
        rows.append(
            {
                "path": fmt(path),
                "shape": list(array.shape),
                "dtype": str(array.dtype),
                "count": int(array.size),
                "bytes": int(array.nbytes),
            }
        )
    return rows


def unflatten(flat: dict[Path, Any]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path, leaf in flat.items():
        node = root
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = leaf
    return root


def shape_of(leaf: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in np.shape(leaf))


def dtype_name(leaf: Any) -> str:
    dtype = getattr(leaf, "dtype", None)
    return np.dtype(dtype if dtype is not None else np.asarray(leaf).dtype).name


def signature(node: Tree, loose: bool = False) -> Any:
    """The tree's shape with its names left out: equal signatures mean the same structure and shapes.

    `loose` compares each leaf's dims as a sorted multiset, so a transposed kernel still matches."""
    items = children(node)
    if items is None:
        shape = shape_of(node)
        return ("leaf", tuple(sorted(shape)) if loose else shape)
    return tuple(sorted((signature(value, loose) for _, value in items), key=repr))


def fmt(path: Path) -> str:
    return "/".join(path) or "(top level)"


def natural_key(name: str) -> tuple[Any, ...]:
    """'dense10' after 'dense2': digits compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def trailing_number(name: str) -> int | None:
    match = re.search(r"(\d+)$", name)
    return int(match.group(1)) if match else None


def listing(items: list[str], limit: int = 6) -> str:
    """'a, b, c and 4 more': long diffs stay readable."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
