"""Constant folding at conversion: an equation whose inputs are all constants is evaluated once in
JAX, and its outputs become constants of the TF graph.

What folds: PRNG keys and the random bits drawn from constant keys (`random_seed`, `random_wrap`,
`random_unwrap`, `random_split`, `random_fold_in`, `random_bits`, `threefry2x32`, ...), `iota`, masks
built from static shapes, anything computed from literals and closed-over constants, and control flow
whose operands are all constants (bound whole). The values are JAX's own, computed eagerly on the
CPU in the jaxpr's dtypes, so the export matches JAX bit for bit on them: `jax.random.normal(key(0),
(8, 784))` folded primitive by primitive equals the same call under `jax.jit` exactly (measured,
jax 0.10.2).

What does not fold:
- the model's weights: they are tf.Variables (tf_module.ExportModule), not constants, so equations
  on weights (a transpose or reshape of a kernel) are lowered as usual and grappler's constant
  folding in the tensorflowjs converter freezes them later;
- equations with effects, and calls with a nested jaxpr that calls.py inlines (`inlined_call`):
  their equations fold one by one inside, as any other;
- a shape that depends on a dynamic dim (`random_bits` of shape (b, 16)): it is unknown until run
  time. Without a rule such an equation is refused with a fix (draw noise of a static shape and
  broadcast it, or export a fixed batch).

Size bound: a primitive without a lowering rule always folds (there is no other way to export it),
and so does any equation on PRNG keys. One with a rule folds only when its outputs hold at most
`FOLD_LIMIT` elements in all, or no more than the stored constants among its inputs, so
`broadcast(0.5, (1024, 1024))` stays a broadcast in the graph instead of becoming a 4 MB weight that
every browser downloads, while elementwise chains over a folded noise array (same size in, same
size out) keep folding. An equation left to its rule this way still carries its JAX value, computed
only if a later equation folds on it (`remember_values`): `random_fold_in(keys, arange(80))` has no
rule and must fold although `arange(80)` is too big to store; `arange(80)[:4]` folds to 4 stored
values, and the Range left unused is pruned by the tensorflowjs converter.

Bit for bit: the folded values equal JAX's op-by-op results. A whole model under `jax.jit` may
differ from them by 1 ulp where XLA fuses across the constant's boundary (measured: `x +
normal(key(0), (4, 16))` under jit differs from the same op by op in 14 of 64 elements), as it
differs from JAX without jit.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import numpy as np
import tensorflow as tf
from jax._src import source_info_util

from jax2tfjs.errors import LoweringError, UnsupportedDtypeError, UnsupportedPrimitiveError
from jax2tfjs.lowering.context import Deferred, Hints, LoweringContext, Origin, hints, is_static
from jax2tfjs.lowering.registry import RULES

FOLD_LIMIT = 64

# calls.py's rules lower a call by interpreting its jaxpr in place (jit, closed_call, custom_jvp_call,
# custom_vjp_call, remat2, ...), so the call's equations fold one by one instead of the call whole.
INLINING_MODULE = "jax2tfjs.lowering.calls"

# Primitives that make or use PRNG keys: without constant inputs they get the refusal below.
RANDOM_PRIMITIVES = frozenset(
    {
        "random_seed",
        "random_wrap",
        "random_unwrap",
        "random_split",
        "random_fold_in",
        "random_bits",
        "random_clone",
        "random_gamma",
        "threefry2x32",
        "threefry4x32",
        "iota_2x32_shape",
        "rng_bit_generator",
        "rng_uniform",
    }
)

NOISE_FIX = (
    "pass the noise as an input of the model, or draw it from a constant key (jax.random.key(42)) with "
    "a static shape, which is computed once at conversion"
)


def fold_equation(ctx: LoweringContext, eqn: Any, origin: Origin, inputs: list[Any]) -> list[Any] | None:
    """`eqn`'s outputs as constants when its inputs are all constants and the size bound allows
    (counted in `ctx.folded_equations`), else None: the equation goes to its rule."""
    name = eqn.primitive.name
    if not _may_fold(ctx, eqn) or not all(_known(x) for x in inputs):
        return None
    has_rule = name in RULES
    shapes = [tuple(var.aval.shape) for var in eqn.outvars]
    if not _static(shapes):
        if has_rule:
            return None
        raise UnsupportedPrimitiveError(
            f"JAX primitive '{name}' at {origin.source} has no TF.js lowering, and although its inputs are "
            f"constants it cannot be computed at conversion: its shape {_shapes(shapes)} depends on a "
            "dynamic dim, known only at run time",
            fix=(
                "draw the noise with a static shape (one example's, then broadcast it over the batch), "
                "export a fixed batch (dynamic_batch=False), or pass the noise as an input of the model"
                if name in RANDOM_PRIMITIVES
                else "give it a static shape, or export a fixed batch (dynamic_batch=False)"
            ),
        )
    # A key has no TF form, so an equation on keys (slice, squeeze, concatenate) folds at any size.
    keys = any(_is_key(var.aval.dtype) for var in (*eqn.invars, *eqn.outvars))
    if has_rule and not keys and not _small_enough(inputs, shapes):
        return None
    try:
        values = [_value(x) for x in inputs]
        if any(v is None for v in values):
            raise ValueError("JAX could not compute an input at conversion")
        outputs = _bind(eqn, values)
    except Exception as err:
        if has_rule:  # JAX could not evaluate it eagerly: the rule lowers it as usual
            return None
        raise LoweringError(
            f"evaluating {origin} at conversion (its inputs are constants) failed: {type(err).__name__}: {err}",
            fix="rewrite that line; report it if JAX itself computes it",
        ) from err
    ctx.folded_equations += 1
    return [folded_constant(ctx, out) for out in outputs]


def remember_values(ctx: LoweringContext, eqn: Any, inputs: list[Any], outputs: list[Any]) -> list[Any]:
    """`outputs` of an equation on constants that its rule lowered (too big to store), each with a
    `later_constant` that computes its JAX value if a later equation folds on it: `arange(80)`
    stays a Range in the graph, yet `random_fold_in(keys, arange(80))`, which has no rule, folds."""
    shapes = [tuple(var.aval.shape) for var in eqn.outvars]
    if not _may_fold(ctx, eqn) or not _static(shapes) or not all(_known(x) for x in inputs):
        return outputs
    computed: list[list[Any] | None] = []

    def compute_all() -> list[Any] | None:
        if not computed:
            values = [_value(x) for x in inputs]
            try:
                computed.append(None if any(v is None for v in values) else _bind(eqn, values))
            except Exception:  # JAX cannot compute it: the consumers lower as usual
                computed.append(None)
        return computed[0]

    def later(index: int) -> Any:
        return lambda: None if compute_all() is None else compute_all()[index]

    return [_with_later_constant(out, later(i)) for i, out in enumerate(outputs)]


def _with_later_constant(output: Any, later: Any) -> Deferred:
    if isinstance(output, Deferred):
        return dataclasses.replace(output, hints=dataclasses.replace(output.hints, later_constant=later))
    return Deferred(lambda: output, Hints(later_constant=later))


def _may_fold(ctx: LoweringContext, eqn: Any) -> bool:
    return ctx.fold_constants and not eqn.effects and not inlined_call(eqn.primitive.name)


def _known(value: Any) -> bool:
    found = hints(value)
    return found.constant is not None or found.prng_key is not None or found.later_constant is not None


def _value(value: Any) -> Any:
    """The JAX or numpy value of a known input (None if JAX cannot compute a later constant)."""
    found = hints(value)
    if found.constant is not None:
        return found.constant
    if found.prng_key is not None:
        return found.prng_key
    return found.later_constant()


def _static(shapes: list[tuple[Any, ...]]) -> bool:
    return all(is_static(d) for shape in shapes for d in shape)


def inlined_call(name: str) -> bool:
    """Whether `name`'s rule interprets the call's jaxpr in place (calls.py)."""
    rule = RULES.get(name)
    return rule is not None and rule.module == INLINING_MODULE


def key_refusal(eqn: Any, origin: Origin) -> UnsupportedPrimitiveError | None:
    """The error for a random primitive that could not fold (its key depends on the inputs)."""
    avals = [var.aval for var in (*eqn.invars, *eqn.outvars)]
    if eqn.primitive.name not in RANDOM_PRIMITIVES and not any(_is_key(a.dtype) for a in avals):
        return None
    return UnsupportedPrimitiveError(
        f"JAX primitive '{eqn.primitive.name}' at {origin.source} uses a PRNG key that depends on the model's "
        "inputs or parameters: such a key cannot be exported (a key made from constants is folded at conversion)",
        fix=NOISE_FIX,
    )


def folded_constant(ctx: LoweringContext, value: Any) -> Deferred:
    """A folded output as a Deferred constant. A PRNG key stays a JAX value that no rule can turn
    into a tensor; an array carries its `constant` hint and, like a deferred broadcast, its size-1
    form (`broadcastable`) and a rank-1 `bias_vector` when it repeats along every axis but the last,
    so `x + folded_row` is still a BiasAdd and `x * folded_scalar_array` multiplies by one value."""
    if _is_key(value.dtype):
        return Deferred(lambda: _key_without_tensor(ctx), Hints(prng_key=value))
    array = np.asarray(value)
    small = _size_one_form(array)
    broadcastable = None if small.shape == array.shape else _constant_builder(ctx, small)
    bias_vector = None
    if array.ndim >= 2 and small.shape == (1,) * (array.ndim - 1) + (array.shape[-1],):
        bias_vector = tf.constant(small.reshape(-1), ctx.tf_dtype(array.dtype))
    return ctx.defer(
        _constant_builder(ctx, array),
        Hints(constant=array, broadcastable=broadcastable, bias_vector=bias_vector),
        per_graph=True,
    )


def _constant_builder(ctx: LoweringContext, array: np.ndarray) -> Any:
    return lambda: tf.constant(array, ctx.tf_dtype(array.dtype))


def _key_without_tensor(ctx: LoweringContext) -> tf.Tensor:
    where = f" (read by {ctx.origin})" if ctx.origin else ""
    raise UnsupportedDtypeError(
        f"a PRNG key{where} has no TF.js form: a PRNG key that depends on the model's inputs cannot be "
        "exported; pass noise as an input",
        fix=NOISE_FIX,
    )


def _bind(eqn: Any, values: list[Any]) -> list[Any]:
    """`eqn` evaluated by JAX on `values`, as jax.core.eval_jaxpr does it, on the CPU: on a GPU
    the default device would round some ops otherwise (TF32 dots), and an export must not depend on
    the machine that converted it."""
    params = eqn.primitive.get_bind_params(eqn.params)
    cpu = jax.devices("cpu")[0]
    with source_info_util.user_context(eqn.source_info.traceback), eqn.ctx.manager, jax.default_device(cpu):
        out = eqn.primitive.bind(*values, **params)
    return list(out) if eqn.primitive.multiple_results else [out]


def _small_enough(inputs: list[Any], shapes: list[tuple[int, ...]]) -> bool:
    """At most FOLD_LIMIT elements out, or no more than the stored constants coming in (a later
    constant is not stored, so `arange(1000) * 2` is not stored either)."""
    produced = sum(math.prod(shape) for shape in shapes)
    stored = sum(int(np.size(hints(x).constant)) for x in inputs if hints(x).constant is not None)
    return produced <= FOLD_LIMIT or produced <= stored


def _size_one_form(array: np.ndarray) -> np.ndarray:
    """`array` with every axis along which it repeats one value reduced to size 1 (the same bits:
    -0.0 and 0.0 differ, a NaN never repeats), so it broadcasts back to exactly `array`."""
    small = array
    for axis in range(array.ndim):
        if small.shape[axis] > 1:
            first = np.take(small, [0], axis=axis)
            same = small == first
            if np.issubdtype(array.dtype, np.floating):
                same &= np.signbit(small) == np.signbit(first)
            if same.all():
                small = first
    return small


def is_prng_key(value: Any) -> bool:
    """Whether `value` is a JAX PRNG key array (new-style, dtype key<impl>)."""
    return _is_key(getattr(value, "dtype", None))


def _is_key(dtype: Any) -> bool:
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _shapes(shapes: list[tuple[Any, ...]]) -> str:
    return ", ".join(
        f"({', '.join(str(d) for d in shape)}{',' if len(shape) == 1 else ''})" for shape in shapes
    )
