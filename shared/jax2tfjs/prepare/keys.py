"""Key auto-fix: find the model's parameters inside what was saved, and rename layers when the
structure and shapes allow exactly one renaming.

Two steps. *Locate*: the parameters may sit inside a TrainState (`step`, `params`, `opt_state`),
under an extra `{'params': …}`, or at the top; `locate.locate` finds them (the one place that
decides where parameters sit, shared with `examine`). *Rename*: at each level, the model's keys
missing from the given tree are paired with the given tree's extra keys by the structure and shapes
below them; a group of identical layers is paired by their trailing numbers (Dense_1, Dense_2 ←
layer1, layer2) and refused when they have none.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from jax2tfjs.errors import ParamKeysError
from jax2tfjs.prepare import param_check
from jax2tfjs.prepare.locate import NotLocated, locate
from jax2tfjs.prepare.trees import (
    Path,
    Tree,
    children,
    fmt,
    get,
    leaves,
    listing,
    natural_key,
    signature,
    trailing_number,
)


@dataclass
class KeyMatch:
    tree: Tree  # the given leaves under the model's keys
    changes: list[str] = field(default_factory=list)  # empty: the keys matched as given


class _Refused(Exception):
    """No renaming, or more than one, fits; the message names the keys involved."""


def _pair(
    extra_target: list[str], extra_given: list[str], target: dict, given: dict, at: Path
) -> dict[str, str]:
    """target key → given key for the unmatched keys of one level."""
    where = f" in '{fmt(at)}'" if at else ""
    if len(extra_target) != len(extra_given):
        raise _Refused(
            f"{len(extra_target)} of the model's keys{where} ({listing(extra_target)}) have no counterpart "
            f"among {len(extra_given)} extra given keys ({listing(extra_given) or 'none'})"
        )
    for loose in (False, True):
        by_target: dict[Any, list[str]] = defaultdict(list)
        by_given: dict[Any, list[str]] = defaultdict(list)
        for key in extra_target:
            by_target[signature(target[key], loose)].append(key)
        for key in extra_given:
            by_given[signature(given[key], loose)].append(key)
        if {s: len(k) for s, k in by_target.items()} == {s: len(k) for s, k in by_given.items()}:
            break
    else:
        raise _Refused(
            f"the model's {listing(extra_target)}{where} and the given {listing(extra_given)} differ in "
            "structure or shapes, so no renaming fits"
        )
    pairs: dict[str, str] = {}
    for sig, targets in by_target.items():
        sources = by_given[sig]
        if len(targets) == 1:
            pairs[targets[0]] = sources[0]
            continue
        numbered = [trailing_number(k) for k in targets], [trailing_number(k) for k in sources]
        if all(n is not None for side in numbered for n in side) and all(
            len(set(side)) == len(side) for side in numbered
        ):
            targets = sorted(targets, key=trailing_number)
            sources = sorted(sources, key=trailing_number)
            pairs.update(zip(targets, sources, strict=True))
            continue
        raise _Refused(
            f"the model's {', '.join(sorted(targets, key=natural_key))}{where} and the given "
            f"{', '.join(sorted(sources, key=natural_key))} all have the same structure and shapes: "
            f"{len(targets)} renamings fit equally well"
        )
    return pairs


def _rename(given: Tree, target: Tree, at: Path, changes: list[str]) -> Tree:
    target_items = children(target)
    given_items = children(given)
    if target_items is None or given_items is None:
        return given  # a leaf: its shape is the shape check's business
    target_map, given_map = dict(target_items), dict(given_items)
    common = [key for key in target_map if key in given_map]
    pairs = {key: key for key in common}
    extra_target = [key for key in target_map if key not in given_map]
    extra_given = [key for key in given_map if key not in target_map]
    if extra_target or extra_given:
        # Keys kept by name are trusted only when no leftover looks like them: `Dense_1..3` given for
        # `Dense_0..2` (numbered from 1) would otherwise keep Dense_1 and Dense_2 with the wrong
        # weights and "rename" Dense_3 → Dense_0.
        kept = {signature(target_map[key], loose=True): key for key in common}
        lookalikes = [
            (key, kept[signature(node, loose=True)])
            for key, node in [
                *((k, target_map[k]) for k in extra_target),
                *((k, given_map[k]) for k in extra_given),
            ]
            if signature(node, loose=True) in kept
        ]
        if lookalikes:
            where = f" in '{fmt(at)}'" if at else ""
            raise _Refused(
                f"{', '.join(f'{a} looks like {b}' for a, b in lookalikes)}{where}: with names kept and "
                "renamed side by side (numbered from 1 instead of 0?), which is which cannot be told"
            )
        found = _pair(extra_target, extra_given, target_map, given_map, at)
        tied = len(found) != len({signature(target_map[k]) for k in found})
        renamed = ", ".join(f"{given_key} → {key}" for key, given_key in found.items())
        where = f" in '{fmt(at)}'" if at else ""
        note = " (layers of identical shapes paired by their numbers)" if tied else ""
        changes.append(f"renamed{where}: {renamed}{note}")
        pairs.update(found)
    return {
        key: _rename(given_map[source], target_map[key], (*at, key), changes) for key, source in pairs.items()
    }


def match_keys(given: Tree, expected: Tree, *, collections: bool) -> KeyMatch:
    """Arrange `given` under `expected`'s keys, or raise ParamKeysError saying why it cannot.

    `collections`: `expected` is linen variables ({'params': …, 'batch_stats': …}), each collection
    located on its own (bare params count as the 'params' collection); otherwise `expected` is one
    parameter tree."""
    if set(leaves(given)) == set(leaves(expected)):
        return KeyMatch(given)
    targets = dict(children(expected) or []) if collections else {"params": expected}
    arranged: dict[str, Tree] = {}
    changes: list[str] = []
    used_top: set[str] = set()
    for name, target in targets.items():
        natural = (name,) if collections else ()
        try:
            location = locate(given, target, prefer=name)
            path, tier = location.path, location.tier
            found = get(given, path)
            # Bare params for linen variables are a documented form, not something to report.
            bare_params = collections and name == "params" and path == ()
            if path != natural and not bare_params:
                changes.append(f"used '{fmt(path)}' of the given tree as the model's {name}")
            arranged[name] = found if tier == "keys" else _rename(found, target, natural, changes)
        except (_Refused, NotLocated) as err:
            guess = get(given, natural) if _has(given, natural) else given
            diff = (
                param_check.compare({name: guess}, {name: target})
                if collections
                else param_check.compare(guess, target)
            )
            raise ParamKeysError(
                f"{param_check.describe_keys(diff)}; {err}",
                fix="give the parameters the model's keys (print jax.eval_shape(model.init, …) to see them), "
                "or pass the checkpoint of this very model",
            ) from None
        if path:
            used_top.add(path[0])
    ignored = sorted(key for key, _ in children(given) or [] if key not in used_top)
    if ignored and used_top:
        changes.append(
            f"left out {listing(ignored)} of the given tree (training state, not the model's parameters)"
        )
    return KeyMatch(arranged if collections else arranged["params"], changes)


def _has(tree: Tree, path: Path) -> bool:
    try:
        get(tree, path)
    except (KeyError, TypeError):
        return False
    return True
