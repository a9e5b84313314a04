"""Check parameters against the model before tracing, and fix what has exactly one fix.

Order: keys (find and rename), then shapes (layouts, flattening), then dtypes. With `autofix` off,
any needed change is an error that says what auto-fix would have done; with it on, each change is
returned as one line for `ConversionReport.autofixes`. Whatever has no fix, or more than one, is an
error in both modes: ParamKeysError (J2T307), ParamShapeError (J2T308), UnsupportedDtypeError
(J2T302). Whether the input spec rather than the params is wrong is the caller's question
(`shapes_unfixable` tells it when to ask).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jax2tfjs.errors import (
    ParamKeysError,
    ParamShapeError,
    UnsupportedDtypeError,
)
from jax2tfjs.prepare import param_check
from jax2tfjs.prepare.dtypes import plan_dtypes
from jax2tfjs.prepare.keys import match_keys
from jax2tfjs.prepare.shapes import plan_shapes
from jax2tfjs.prepare.trees import Tree, leaves, listing

TURN_ON = "leave autofix on (the default; jobs/convert.py without --no-autofix), or make {it} yourself"


@dataclass
class Prepared:
    params: Tree
    autofixes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _would(changes: list[str]) -> str:
    it = "that change" if len(changes) == 1 else "those changes"
    turn_on = TURN_ON.format(it=it)
    return f"auto-fix would make {it}: " + "; ".join(changes) + ". " + turn_on[:1].upper() + turn_on[1:]


def as_variables(given: Tree) -> Tree:
    """Linen variables as the module sees them: bare params are its 'params' collection."""
    return given if isinstance(given, dict) and "params" in given else {"params": given}


def _fix_keys(given: Tree, expected: Tree, autofix: bool, collections: bool) -> tuple[Tree, list[str]]:
    matched = match_keys(given, expected, collections=collections)
    if matched.changes and not autofix:
        shown = as_variables(given) if collections else given
        raise ParamKeysError(
            param_check.describe_keys(param_check.compare(shown, expected)), fix=_would(matched.changes)
        )
    return matched.tree, matched.changes


def _fix_shapes(tree: Tree, expected: Tree, autofix: bool) -> tuple[Tree, list[str]]:
    plan = plan_shapes(tree, expected)
    if plan.unfixable:
        raise ParamShapeError(
            param_check.describe_shapes(plan.unfixable) + " (no transpose or reshape gives that shape)",
            fix="these parameters belong to another configuration of the model (other layer sizes, another "
            "input size): build the model as it was trained, or pass the parameters trained for this one",
        )
    mismatched = param_check.compare(tree, expected).shapes
    if plan.ambiguous:
        raise ParamShapeError(
            param_check.describe_shapes(mismatched)
            + "; auto-fix refuses, the reading is ambiguous: "
            + listing(plan.ambiguous, limit=4),
            fix="transpose those arrays into the model's layout yourself (Flax: dense (in, out), conv HWIO); "
            "auto-fix does not guess between readings that fit equally",
        )
    if plan.changes and not autofix:
        raise ParamShapeError(param_check.describe_shapes(mismatched), fix=_would(plan.changes))
    return plan.tree, plan.changes


def _fix_dtypes(tree: Tree, autofix: bool) -> tuple[Tree, list[str], list[str]]:
    plan = plan_dtypes(tree)
    if plan.refused:
        raise UnsupportedDtypeError(
            "parameters in a dtype TF.js has no weights for: " + listing(plan.refused, limit=4),
            fix="store them as float32 or int32 (a complex weight as two float32 arrays, real and imaginary "
            "part, combined in the model)",
        )
    if plan.changes and not autofix:
        raise UnsupportedDtypeError(
            "parameters in a dtype TF.js lacks: " + listing(plan.needs_cast, limit=4),
            fix="cast them to float32 (integers to int32), e.g. jax.tree.map(lambda a: a.astype(np.float32), "
            "params); or " + TURN_ON.format(it="the cast"),
        )
    return plan.tree, plan.changes, plan.warnings


def prepare(
    given: Tree,
    expected: Tree | None,
    *,
    autofix: bool,
    collections: bool = False,
) -> Prepared:
    """Parameters ready to trace, checked against `expected` (abstract leaves) when there is one.

    `collections`: `expected` is linen variables, each collection located on its own."""
    changes: list[str] = []
    tree = given
    if expected is not None and leaves(expected):
        tree, key_changes = _fix_keys(tree, expected, autofix, collections)
        tree, shape_changes = _fix_shapes(tree, expected, autofix)
        changes += key_changes + shape_changes
    elif collections:
        tree = as_variables(tree)  # no reference to arrange by: the documented bare-params form
    tree, dtype_changes, warnings = _fix_dtypes(tree, autofix)
    return Prepared(tree, changes + dtype_changes, warnings)


def shapes_unfixable(given: Tree, expected: Tree, *, collections: bool) -> bool:
    """True when the keys can be matched but some shape has no reading at all: the parameters were
    made for another configuration, or for another input than the one given."""
    try:
        matched = match_keys(given, expected, collections=collections)
    except ParamKeysError:
        return False
    return bool(plan_shapes(matched.tree, expected).unfixable)
