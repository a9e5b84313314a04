"""What a reduction's body computes: `reduce` and `reduce_window` carry a jaxpr, not an op name.

Two shapes of body are recognised. A monoid per output: output k is one `add`, `mul`, `max`, `min`,
`and`, `or` or `xor` of the k-th accumulator and the k-th element, in either order (read from the
jaxpr's structure). A (value, index) pair that keeps the larger (or smaller) value and, on a tie,
the smaller (or larger) index, as argmax-like user code writes it: recognised by its behaviour on
every combination of a probe set of values (ties, ±inf) and indices, so any way of writing it
(select_n, where, ors of comparisons) is accepted and anything else is refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
import tensorflow as tf
from jax.extend import core as jcore


class UnrecognisedBody(NotImplementedError):
    """A reduction body that is neither per-output monoids nor a (value, index) selection."""


def _int_limits(dtype: tf.DType) -> tuple[Any, Any]:
    return dtype.min, dtype.max


@dataclass(frozen=True)
class Monoid:
    """An associative, commutative op with its TF forms: elementwise `combine` and `reduce` over axes.
    `idempotent`: combining with the same value twice changes nothing (max, min, and, or), so a
    non-identity init value gives the same result however many times it is applied."""

    name: str
    combine: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
    reduce: Callable[..., tf.Tensor]
    identity: Callable[[tf.DType], Any]
    idempotent: bool

    def identity_value(self, dtype: tf.DType) -> np.ndarray:
        return np.asarray(self.identity(dtype), dtype.as_numpy_dtype)


def _bool_or(fn_bool, fn_other):
    """`fn_bool` for booleans (lax.max on bools is `or`), `fn_other` otherwise."""

    def pick(x, *args, **kwargs):
        return (fn_bool if x.dtype == tf.bool else fn_other)(x, *args, **kwargs)

    return pick


def _lowest(dtype: tf.DType) -> Any:
    return False if dtype == tf.bool else (-np.inf if dtype.is_floating else _int_limits(dtype)[0])


def _highest(dtype: tf.DType) -> Any:
    return True if dtype == tf.bool else (np.inf if dtype.is_floating else _int_limits(dtype)[1])


MONOIDS: dict[str, Monoid] = {
    "add": Monoid("add", tf.add, tf.reduce_sum, lambda d: 0, False),
    "mul": Monoid("mul", tf.multiply, tf.reduce_prod, lambda d: 1, False),
    "max": Monoid(
        "max", _bool_or(tf.logical_or, tf.maximum), _bool_or(tf.reduce_any, tf.reduce_max), _lowest, True
    ),
    "min": Monoid(
        "min", _bool_or(tf.logical_and, tf.minimum), _bool_or(tf.reduce_all, tf.reduce_min), _highest, True
    ),
    "and": Monoid("and", tf.logical_and, tf.reduce_all, lambda d: True, True),
    "or": Monoid("or", tf.logical_or, tf.reduce_any, lambda d: False, True),
    # xor's reduce over axes is built by its users (a parity count); windows combine with NotEqual.
    "xor": Monoid("xor", tf.not_equal, None, lambda d: False if d == tf.bool else 0, False),
}


def monoids_of(body: Any, operands: int) -> list[Monoid] | None:
    """One Monoid per output when `body` (a Jaxpr with 2 * operands inputs: the accumulators, then
    the elements) computes output k as a single monoid op of accumulator k and element k; else None."""
    accumulators, elements = body.invars[:operands], body.invars[operands:]
    producers = {var: eqn for eqn in body.eqns for var in eqn.outvars}
    if len(body.eqns) != operands or len(body.outvars) != operands:
        return None
    found = []
    for k, out in enumerate(body.outvars):
        eqn = producers.get(out)
        if eqn is None or eqn.primitive.name not in MONOIDS or len(eqn.invars) != 2:
            return None
        if set(map(id, eqn.invars)) != {id(accumulators[k]), id(elements[k])}:
            return None
        found.append(MONOIDS[eqn.primitive.name])
    return found


def body_text(body: Any) -> str:
    """The body's equations in one line, for refusal messages."""
    return "; ".join(str(eqn) for eqn in body.eqns).replace("\n", " ") or "(no equations)"


@dataclass(frozen=True)
class PairSelection:
    """A (value, index) body: keep the `largest` (else smallest) value; on a tie, the smaller index
    when `first_index` (else the larger). `value_at`: which operand (0 or 1) holds the values."""

    largest: bool
    first_index: bool
    value_at: int


_PROBE_VALUES = (-np.inf, -2.0, -1.0, 0.0, 1.0, 2.0, np.inf)
_PROBE_INDICES = (0, 1, 2, 5)


def _probe_values(dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.floating):
        return np.asarray(_PROBE_VALUES, dtype)
    info = np.iinfo(dtype)
    return np.asarray([info.min, -2, -1, 0, 1, 2, info.max], dtype)


def pair_selection_of(closed_body: Any) -> PairSelection | None:
    """The PairSelection `closed_body` (a ClosedJaxpr over (acc_v, acc_i, elem_v, elem_i) or the
    index first) computes on every probe combination, or None."""
    avals = [v.aval for v in closed_body.jaxpr.invars]
    if len(avals) != 4 or len(closed_body.jaxpr.outvars) != 2:
        return None
    run = jax.vmap(jcore.jaxpr_as_fun(closed_body))
    for value_at in (0, 1):
        index_at = 1 - value_at
        value_dtype, index_dtype = np.dtype(avals[value_at].dtype), np.dtype(avals[index_at].dtype)
        if value_dtype == np.bool_ or index_dtype == np.bool_:
            continue
        grid = list(
            itertools.product(
                _probe_values(value_dtype), _PROBE_INDICES, _probe_values(value_dtype), _PROBE_INDICES
            )
        )
        av, ai, bv, bi = (np.asarray(column) for column in zip(*grid, strict=True))
        ai, bi = ai.astype(index_dtype), bi.astype(index_dtype)
        av, bv = av.astype(value_dtype), bv.astype(value_dtype)
        args = [av, ai, bv, bi] if value_at == 0 else [ai, av, bi, bv]
        try:
            outputs = [np.asarray(o) for o in run(*args)]
        except Exception:  # a body that does not take these dtypes elementwise is not a selection
            return None
        got_v, got_i = outputs[value_at], outputs[index_at]
        for largest, first_index in itertools.product((True, False), (True, False)):
            a_wins = (av > bv) if largest else (av < bv)
            tie_a = (ai <= bi) if first_index else (ai >= bi)
            keep_a = a_wins | ((av == bv) & tie_a)
            if np.array_equal(got_v, np.where(keep_a, av, bv)) and np.array_equal(
                got_i, np.where(keep_a, ai, bi)
            ):
                return PairSelection(largest, first_index, value_at)
    return None
