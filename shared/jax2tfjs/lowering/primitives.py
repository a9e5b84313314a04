"""The primitives of the installed JAX, so the registry can tell names JAX no longer emits.

A rule keyed by a name no jaxpr can hold is dead code that looks like coverage (`pjit` became
`jit`; `expand_dims` has not been a primitive for years). The live names are read from JAX itself:
every `Primitive` object bound in an imported `jax` module. JAX renames primitives between
releases; `ALIASES` lists the renames we know, so a rule written with the old name still lands on
the primitive that current jaxprs hold.
"""

from __future__ import annotations

import sys

# Imported for the primitives they define: the modules an ordinary model's code reaches.
import jax.image
import jax.nn
import jax.numpy
import jax.random
import jax.scipy.special
from jax.extend import core as jcore

# Old primitive name → the live primitive that replaced it.
ALIASES: dict[str, str] = {
    "pjit": "jit",  # jax.jit's call primitive, renamed
    "custom_vjp_call_jaxpr": "custom_vjp_call",  # jax.custom_vjp's call, folded into one primitive
    "checkpoint": "remat2",  # jax.checkpoint's primitive, under its older name
}

_live: frozenset[str] = frozenset()


def live_primitives() -> frozenset[str]:
    """Names of every Primitive defined in the jax modules imported so far."""
    global _live
    names = set()
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == "jax" or module_name.startswith("jax.")):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, jcore.Primitive):
                names.add(value.name)
    _live = frozenset(names)
    return _live


def is_live(name: str) -> bool:
    # The cached scan answers almost every call; a miss rescans, since a module imported since
    # (e.g. by a rule module) may define the primitive.
    return name in _live or name in live_primitives()


class UnknownPrimitiveName(ValueError):
    """A rule or a refusal names no primitive of the installed JAX. `resolve` raises it; the
    registry catches it and records the name in DEAD_NAMES, so a newer JAX that renamed a primitive
    loses that one rule instead of the whole package failing to import."""


def resolve(name: str) -> str:
    """The live primitive `name` denotes: itself, or its replacement from ALIASES."""
    if is_live(name):
        return name
    if name in ALIASES and is_live(ALIASES[name]):
        return ALIASES[name]
    raise UnknownPrimitiveName(
        f"{name!r} is not a primitive of the installed JAX {jax.__version__}, and ALIASES names no "
        "live primitive for it: key the rule by the primitive current jaxprs hold "
        "(jax.make_jaxpr(fn) shows it), or add the rename to ALIASES in jax2tfjs/lowering/primitives.py"
    )
