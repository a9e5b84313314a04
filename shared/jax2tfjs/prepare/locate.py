"""Where the parameters sit inside what users saved: the one place that decides it.

Conversion asks with the model's expected tree at hand (`keys.match_keys`), `examine` and the
checkpoint reader without one; both get a `Location` from `locate`, walking the tree with
`trees.children`.

With an expected tree, every inner node whose keys (or, failing that, whose nameless structure and
shapes) equal the model's is a candidate: the top wins when it fits, else a node reached through a key
named like the collection (`params`) wins over an optimizer's moments (`opt_state/0/mu` has the same
structure), then the shallowest. Without one, the walk goes down through `params` wrappers as long
as their siblings are training state (a TrainState's step and opt_state; linen's batch_stats).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jax2tfjs.prepare.trees import Path, Tree, children, fmt, leaves, nodes, signature

# What jobs/train saves. Its params under 'params' are the documented form: taking them is no fix.
OUR_STATE = frozenset({"params", "opt_state"})
# Siblings of a 'params' wrapper in a TrainState or in linen variables, not parameters to convert.
TRAINING_STATE = frozenset({"step", "opt_state", "batch_stats", "tx", "apply_fn"})
WRAPPERS = "wrappers"  # the tier of a location found without an expected tree

_TIERS: dict[str, Callable[[Tree, Tree], bool]] = {
    "keys": lambda node, target: set(leaves(node)) == set(leaves(target)),
    "shapes": lambda node, target: signature(node) == signature(target),
    "transposable shapes": lambda node, target: signature(node, loose=True) == signature(target, loose=True),
}


class NotLocated(Exception):
    """No node fits, or several fit equally; the message says which. Callers turn it into their
    own typed error (ParamKeysError in conversion), with the diff they can show."""


@dataclass(frozen=True)
class Location:
    path: Path
    tier: str  # how it was found: "keys", "shapes", "transposable shapes", or WRAPPERS


def _through_wrappers(tree: Tree, prefer: str) -> Path:
    path: Path = ()
    node = tree
    while True:
        items = dict(children(node) or [])
        inner = items.get(prefer)
        if inner is None or children(inner) is None or isinstance(inner, list | tuple):
            return path
        if set(items) - {prefer} - TRAINING_STATE:
            return path  # siblings that are not training state: this level holds parameters
        node, path = inner, (*path, prefer)


def _matching(given: Tree, target: Tree, prefer: str) -> Location:
    for tier, fits in _TIERS.items():
        found = [path for path, node in nodes(given) if fits(node, target)]
        if not found:
            continue
        if () in found:
            return Location((), tier)
        pool = [p for p in found if p[-1] == prefer] or found
        depth = min(len(p) for p in pool)
        best = [p for p in pool if len(p) == depth]
        if len(best) > 1:
            raise NotLocated(
                f"the model's {prefer} fit at several places of the given tree: "
                + ", ".join(f"'{fmt(p)}'" for p in best)
            )
        return Location(best[0], tier)
    raise NotLocated(
        f"no part of the given tree has the keys, or the structure and shapes, of the model's {prefer}"
    )


def locate(given: Tree, expected: Tree | None = None, *, prefer: str = "params") -> Location:
    """Where `expected`'s parameters (abstract leaves) sit in `given`; with no `expected`, where a
    TrainState's or our state's parameters sit. Raises NotLocated when `expected` fits nowhere, or
    at several places equally."""
    if expected is None:
        return Location(_through_wrappers(given, prefer), WRAPPERS)
    return _matching(given, expected, prefer)


def is_our_state(tree: Tree) -> bool:
    """The tree is what jobs/train saves: {'params': …, 'opt_state': …}."""
    return set(dict(children(tree) or [])) == OUR_STATE
