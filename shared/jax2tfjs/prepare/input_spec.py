"""Input spec: turn what users pass into a `ShapeDtypeStruct`, and when it does not fit the model, name
the input that does.

A wrong input spec shows up as a trace that fails, or (for a linen module) as parameters that
`module.init` on that input would shape differently. Both are tried against nearby specs (the same
values flattened, unflattened, channels moved, a channel dim added or dropped, int instead of float);
if some fit, InputSpecError names them. Auto-fix adapts only when exactly one spec fits and it holds
the same values in the same order (a flattened image, a missing size-1 channel): the export keeps the
asked-for input and reshapes inside. Moving axes (NCHW vs NHWC) or changing the dtype is refused: the
input spec is the export's interface, and a page feeding the wrong layout would get wrong answers,
not an error.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jax2tfjs.errors import InputSpecError, ModelInputError
from jax2tfjs.prepare.shapes import only_merges_dims

MAX_CANDIDATES = 32
EXAMPLE_SPEC = "jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32)"


def as_spec(value: Any, where: str) -> jax.ShapeDtypeStruct:
    """A ShapeDtypeStruct from a spec or an example array; `where` names the model in errors."""
    if value is None:
        raise ModelInputError(
            f"no input_spec for {where}", fix=f"pass input_spec={EXAMPLE_SPEC} or an example array"
        )
    spec = value if isinstance(value, jax.ShapeDtypeStruct) else None
    if spec is None:
        spec = jax.ShapeDtypeStruct(np.shape(value), jnp.asarray(value).dtype)
    if len(spec.shape) < 1:
        raise ModelInputError("input_spec must have a batch dimension first", fix="e.g. shape (1, 28, 28, 1)")
    return spec


def describe(spec: jax.ShapeDtypeStruct) -> str:
    return f"{tuple(spec.shape)} {np.dtype(spec.dtype).name}"


def _nearby_dims(dims: tuple[int, ...]) -> list[tuple[int, ...]]:
    found: list[tuple[int, ...]] = []
    if len(dims) <= 4:
        found += [p for p in itertools.permutations(dims) if p != dims]
    size = math.prod(dims)
    if len(dims) > 1:
        found.append((size,))
    found += [(*dims, 1), (1, *dims)]
    squeezed = tuple(d for d in dims if d != 1)
    if squeezed != dims:
        found.append(squeezed)
    for channels in (1, 3):  # a flat image: square, with 1 or 3 channels, channels last or first
        side = math.isqrt(size // channels)
        if side * side * channels == size and side > 1:
            found += [(side, side, channels), (channels, side, side), (side, side)]
    unique: list[tuple[int, ...]] = []
    for option in found:
        if option != dims and option not in unique:
            unique.append(option)
    return unique


def candidates(spec: jax.ShapeDtypeStruct) -> list[jax.ShapeDtypeStruct]:
    batch, dims = spec.shape[0], tuple(spec.shape[1:])
    dtype = np.dtype(spec.dtype)
    other = np.dtype(np.int32) if dtype.kind == "f" else np.dtype(np.float32)
    found = [jax.ShapeDtypeStruct((batch, *d), dtype) for d in _nearby_dims(dims)]
    found += [jax.ShapeDtypeStruct(spec.shape, other)]
    return found[:MAX_CANDIDATES]


@dataclass(frozen=True)
class InputAdapter:
    """The export takes `given` (what the user asked for) and reshapes it to `model` inside."""

    given: jax.ShapeDtypeStruct
    model: jax.ShapeDtypeStruct

    def wrap(self, apply: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        dims = tuple(self.model.shape[1:])
        return lambda params, x: apply(params, x.reshape((x.shape[0], *dims)))

    def describe(self) -> str:
        return (
            f"input: the export takes {describe(self.given)} as input_spec asks and reshapes it to "
            f"{describe(self.model)} for the model (C order: the values keep their order)"
        )


def _same_dims_but_ones(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return [d for d in a if d != 1] == [d for d in b if d != 1]


def resolve_misfit(
    spec: jax.ShapeDtypeStruct, fits: Callable[[jax.ShapeDtypeStruct], bool], *, why: str, autofix: bool
) -> InputAdapter | None:
    """None when no nearby spec fits (the input spec is probably not the problem). When exactly one
    fits and it holds the same values in the same order (a flatten, an unflatten, a size-1 dim), an
    adapter with auto-fix on; anything else is an InputSpecError naming the specs that fit."""
    fitting = [c for c in candidates(spec) if fits_safely(fits, c)]
    if not fitting:
        return None
    first = fitting[0]
    reshape_only = (
        len(fitting) == 1
        and np.dtype(first.dtype) == np.dtype(spec.dtype)
        and only_merges_dims(tuple(spec.shape[1:]), tuple(first.shape[1:]))
        # A flat input for several channels may hold H·W·C or C·H·W order: only the data can tell.
        and (first.shape[-1] == 1 or _same_dims_but_ones(spec.shape[1:], first.shape[1:]))
    )
    if reshape_only and autofix:
        return InputAdapter(given=spec, model=first)
    others = f" (also fits: {', '.join(describe(c) for c in fitting[1:4])})" if len(fitting) > 1 else ""
    fix = f"pass input_spec=jax.ShapeDtypeStruct({tuple(first.shape)}, jnp.{np.dtype(first.dtype).name})"
    if reshape_only:
        fix += "; or leave autofix on: the export would take your spec and reshape it inside"
    elif len(fitting) == 1:
        fix += " and feed the exported model that layout (auto-fix does not move axes or change dtypes: the page would feed the wrong layout)"
    else:
        fix += " or another of the fitting specs, whichever layout your data has"
    raise InputSpecError(
        f"input_spec {describe(spec)} does not fit the model ({why}): it fits an input of {describe(first)}{others}",
        fix=fix,
    )


def fits_safely(fits: Callable[[jax.ShapeDtypeStruct], bool], spec: jax.ShapeDtypeStruct) -> bool:
    try:
        return bool(fits(spec))
    except Exception:  # a candidate that makes the model's code fail simply does not fit
        return False


def traces(apply: Callable[[Any, Any], Any], params: Any) -> Callable[[jax.ShapeDtypeStruct], bool]:
    """fits(spec): apply(params, x) traces on an input of that spec."""

    def fits(spec: jax.ShapeDtypeStruct) -> bool:
        jax.eval_shape(apply, params, spec)
        return True

    return fits


def choose(given: Any, recorded: jax.ShapeDtypeStruct, where: str) -> tuple[jax.ShapeDtypeStruct, list[str]]:
    """A checkpoint's spec: the recorded one, or the given one (with a warning when it differs in
    more than the batch; a trace that then fails is explained like any other misfit)."""
    if given is None:
        return recorded, []
    spec = as_spec(given, where)
    if tuple(spec.shape[1:]) == tuple(recorded.shape[1:]) and np.dtype(spec.dtype) == np.dtype(
        recorded.dtype
    ):
        return spec, []
    return spec, [f"input_spec {describe(spec)} differs from the {describe(recorded)} the checkpoint records"]
