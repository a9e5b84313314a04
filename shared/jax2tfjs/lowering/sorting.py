"""Sorting and selection: sort (any number of operands and keys, any dimension, stable), top_k and
approx_top_k, all through TF.js's TopKV2.

TF.js has no Sort. TopKV2 returns the k largest in descending order, ties lower index first (TF's
kernel; TF.js cpu's comparator is `b.value - a.value`, then the index; measured the same on wasm,
int32 included, tfjs 4.22), so a TopK with k = n is a stable descending sort. Two traps make raw values unsafe as TopK keys on TF.js cpu:
- NaN: the comparator's difference is NaN, an inconsistent comparison; the order comes out wrong.
- equal infinities: inf - inf is NaN too, so tied infinities lose their index order once k < n.
So every key is split into TopK-safe sub-keys (finite, NaN-free floats, or int32): a float `x`
becomes its class (-inf, finite, +inf, NaN, with top_k also splitting -0.0 from +0.0) and its
finite part. A lexicographic order over sub-keys is a least-significant-first chain of stable TopK
passes (radix-sort style), each permuting the next sub-key by the order so far, then composing.

Costs: a float key is two TopK passes, an int32 or bool key one; a pass after the first is TopKV2
plus two row gathers (Reshape + AddV2 + GatherV2 each, see RowGather), and each sorted operand is
one more row gather. The float key's class is ~10 elementwise ops. A sort along another axis is
transposed to the last axis and back.

Orders matched (jax 0.10.2, measured): `sort` treats -0.0 == 0.0 and puts every NaN last;
`top_k` uses the total order -NaN < -inf < … < -0.0 < +0.0 < … < inf < +NaN and ties by lower
index. TF.js cannot see a NaN's sign bit, so here every NaN ranks as +NaN (largest): x86 makes
0/0 a negative NaN, which JAX's top_k ranks last. `approx_top_k` on CPU is an exact sort with
-0.0 == 0.0; its NaN order is unspecified (JAX's own output is not an order), ours puts NaN first
for max-k and last for min-k. int32 keys are exact on cpu and wasm; WebGL stores int32 as float32,
so int32 keys beyond ±2**24 may tie there.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.context import reshape_target, transpose
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3
X = Arg((B, 4, 5))
SMALL_INTS = Arg((B, 4, 9), fill="int", high=7)  # float values 0..6: many ties
INT32 = Arg((B, 4, 9), dtype="int32", fill="int", high=6)
INT32_MIN, INT32_MAX = int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max)

_KEY_OPS = ("Abs", "Less", "Greater", "Equal", "IsNan", "SelectV2", "Cast", "AddV2", "Mul", "Neg", "Sub")
_PASS_OPS = ("TopKV2", "GatherV2", "Range", "Reshape")
_AXIS_OPS = ("Transpose", "Shape", "StridedSlice")  # Shape: a sort along the dynamic batch


def _specials(x):
    """Small ints 0..6 as floats → NaN, inf, -inf, -0.0, 0.0 and ties, inside the traced case."""
    x = jnp.where(x == 0, jnp.nan, x)
    x = jnp.where(x == 1, jnp.inf, x)
    x = jnp.where(x == 2, -jnp.inf, x)
    x = jnp.where(x == 3, -0.0, x)
    return jnp.where(x == 4, 0.0, x)


def _int_extremes(x):
    """Small ints → int32 min and max among ties."""
    return jnp.where(x == 0, INT32_MIN, jnp.where(x == 1, INT32_MAX, x))


def _float_class(x: tf.Tensor, zero_sign: bool) -> tf.Tensor:
    """-inf 0, finite 1, +inf 2, NaN 4; with `zero_sign` (top_k) +0.0 and positives one more."""
    klass = tf.cast(x > -np.inf, tf.float32) + tf.cast(tf.equal(x, np.inf), tf.float32)
    klass += 4.0 * tf.cast(tf.math.is_nan(x), tf.float32)
    if zero_sign:  # 1/-0.0 is -inf: the one way to see a zero's sign without bit casts
        klass += tf.cast(tf.logical_or(x > 0, tf.math.reciprocal(x) > 0), tf.float32)
    return klass


def _sub_keys(x: tf.Tensor, descending: bool, zero_sign: bool = False) -> list[tf.Tensor]:
    """TopK-safe sub-keys of `x`, most significant first; TopK's descending order over them is
    `x`'s order (descending or ascending)."""
    if x.dtype == tf.bool:
        x = tf.cast(x, tf.int32)
    if x.dtype.is_integer:
        # -1 - x reverses the order without overflow: int32 min ↔ max (plain negation wraps min).
        return [x if descending else tf.subtract(tf.constant(-1, x.dtype), x)]
    finite = tf.where(tf.abs(x) < np.inf, x, tf.constant(0, x.dtype))
    klass = _float_class(x, zero_sign)
    return [klass, finite] if descending else [-klass, -finite]


class RowGather:
    """x[..., indices] row by row along the last axis, for tensors of `dims` (any leading dims, the
    batch too): one flat GatherV2 at indices offset by row. TF.js wasm's GatherV2 ignores
    `batch_dims` (measured, tfjs 4.22: rows gathered from the wrong row), so it is never used."""

    def __init__(self, ctx, dims) -> None:
        *leading, n = dims
        self.offsets = None
        if leading:
            rows = tf.range(ctx.dim(math.prod(leading)), dtype=tf.int32) * ctx.dim(n)
            self.offsets = tf.reshape(rows, reshape_target(ctx, [*leading, 1]))

    def take(self, x: tf.Tensor, indices: tf.Tensor) -> tf.Tensor:
        if self.offsets is None:
            return tf.gather(x, indices)
        return tf.gather(tf.reshape(x, [-1]), indices + self.offsets)


def order(keys: list[tf.Tensor], k, n, rows: RowGather) -> tf.Tensor:
    """Indices of the first `k` of `n` positions along the last axis under TopK's order over
    `keys` (most significant first), ties by lower index: stable passes, least significant first."""
    perm = None
    for position, key in enumerate(reversed(keys)):
        last = position == len(keys) - 1
        permuted = key if perm is None else rows.take(key, perm)
        _, indices = tf.math.top_k(permuted, k=k if last else n, sorted=True)
        perm = indices if perm is None else rows.take(perm, indices)
    return perm


def _to_last(axis: int, rank: int) -> list[int]:
    return [*[a for a in range(rank) if a != axis], axis]


def _moved_dims(eqn, axis: int) -> list:
    """The first operand's dims (symbolic ones too) once `axis` is moved last."""
    shape = eqn.invars[0].aval.shape
    return [shape[a] for a in _to_last(axis, len(shape))]


def _from_last(axis: int, rank: int) -> list[int]:
    return list(np.argsort(_to_last(axis, rank)))


@rule(
    "sort",
    tf_ops=(*_KEY_OPS, *_PASS_OPS, *_AXIS_OPS),
    limits=(
        "TopKV2 passes (TF.js has no Sort): two per float key, one per int/bool key; always stable; "
        "-0.0 == 0.0 and NaN last, as JAX"
    ),
    cases=[
        Case("sort_last", lambda x: jnp.sort(x, axis=-1), [X]),
        Case("sort_axis1", lambda x: jnp.sort(x, axis=1), [X]),
        Case("sort_specials", lambda x: jnp.sort(_specials(x), axis=-1), [SMALL_INTS]),
        Case("argsort_specials", lambda x: jnp.argsort(_specials(x), axis=-1), [SMALL_INTS]),
        Case("argsort_ties_axis1", lambda x: jnp.argsort(x, axis=1), [SMALL_INTS]),
        Case("argsort_descending", lambda x: jnp.argsort(_specials(x), descending=True), [SMALL_INTS]),
        Case("sort_descending", lambda x: jnp.sort(x, descending=True), [SMALL_INTS]),
        Case("argsort_int32_extremes", lambda x: jnp.argsort(_int_extremes(x), axis=-1), [INT32]),
        Case("sort_int32_extremes", lambda x: jnp.sort(_int_extremes(x), axis=-1), [INT32]),
        Case("argsort_bool", lambda x: jnp.argsort(x > 3, axis=-1), [SMALL_INTS]),
        Case(
            "sort_two_keys",
            lambda x, y: lax.sort((_specials(x), _int_extremes(y), x * 10), num_keys=2),
            [SMALL_INTS, INT32],
        ),
        Case(
            "sort_operands_one_key",
            lambda x, y: lax.sort((x, y, _specials(x)), dimension=1, num_keys=1),
            [SMALL_INTS, INT32],
        ),
        Case("sort_unstable", lambda x: lax.sort(x, is_stable=False), [X]),
        Case("sort_length_one", lambda x: jnp.sort(x, axis=-1), [Arg((B, 4, 1))]),
        Case("argsort_batch_axis", lambda x: jnp.argsort(x, axis=0), [SMALL_INTS]),
        Case("argsort_long_rows", lambda x: jnp.argsort(x), [Arg((B, 700), fill="int", high=40)]),
    ],
)
def lower_sort(ctx, eqn, *operands):
    # Stability costs nothing here: every TopK pass is stable, so is_stable is always honoured.
    axis, num_keys = eqn.params["dimension"], eqn.params["num_keys"]
    rank = len(operands[0].shape)
    moved = [transpose(x, _to_last(axis, rank)) for x in operands]
    keys = [sub for x in moved[:num_keys] for sub in _sub_keys(x, descending=False)]
    dims = _moved_dims(eqn, axis)
    rows = RowGather(ctx, dims)
    n = ctx.dim(dims[-1])
    perm = order(keys, n, n, rows)
    return [transpose(rows.take(x, perm), _from_last(axis, rank)) for x in moved]


def _top(ctx, eqn, x: tf.Tensor, k: int, axis: int, keys: list[tf.Tensor]) -> list[tf.Tensor]:
    """[values, int32 indices] of the first k along `axis` under `keys`' TopK order (keys are
    already along the last axis)."""
    rank = len(x.shape)
    dims = _moved_dims(eqn, axis)
    rows = RowGather(ctx, dims)
    indices = order(keys, k, ctx.dim(dims[-1]), rows)
    values = rows.take(transpose(x, _to_last(axis, rank)), indices)
    back = _from_last(axis, rank)
    return [transpose(values, back), transpose(indices, back)]


@rule(
    "top_k",
    tf_ops=(
        *(op for op in _KEY_OPS if op not in ("Neg", "Sub")),
        "Reciprocal",
        "LogicalOr",
        *_PASS_OPS,
        *_AXIS_OPS,
    ),
    limits=(
        "TopKV2 passes: two for float, one for int32; JAX's total order with -0.0 < +0.0; every NaN "
        "ranks largest (TF.js cannot see a NaN's sign, JAX ranks -NaN smallest)"
    ),
    cases=[
        Case("top_k", lambda x: lax.top_k(x, 3)[0], [X]),
        Case("top_k_idx", lambda x: lax.top_k(x, 2)[1], [X]),
        Case("top_k_ties", lambda x: lax.top_k(x, 4), [SMALL_INTS]),
        Case("top_k_specials", lambda x: lax.top_k(_specials(x), 5), [SMALL_INTS]),
        Case("top_k_all", lambda x: lax.top_k(_specials(x), 9), [SMALL_INTS]),
        Case("top_k_int32", lambda x: lax.top_k(_int_extremes(x), 4), [INT32]),
        Case("top_k_axis1", lambda x: lax.top_k(x, 2, axis=1), [SMALL_INTS]),
        Case("top_k_one_of_one", lambda x: lax.top_k(x, 1), [Arg((B, 4, 1))]),
        # Rows past 600: TF.js cpu's TopK selects with Floyd-Rivest recursion before sorting.
        Case("top_k_long_rows", lambda x: lax.top_k(x, 12), [Arg((B, 700), fill="int", high=40)]),
    ],
)
def lower_top_k(ctx, eqn, x):
    axis = eqn.params.get("axis", -1) % len(x.shape)
    moved = transpose(x, _to_last(axis, len(x.shape)))
    return _top(ctx, eqn, x, eqn.params["k"], axis, _sub_keys(moved, descending=True, zero_sign=True))


@rule(
    "approx_top_k",
    tf_ops=(*(op for op in _KEY_OPS if op != "Sub"), *_PASS_OPS, *_AXIS_OPS),
    limits=(
        "computed exactly (the exact top-k meets any recall_target), as JAX does on CPU; "
        "aggregate_to_topk=False (a longer, approximate output) is refused"
    ),
    cases=[
        Case("approx_max_k", lambda x: lax.approx_max_k(x, 3), [X]),
        Case("approx_min_k", lambda x: lax.approx_min_k(x, 3), [X]),
        Case("approx_max_k_ties", lambda x: lax.approx_max_k(jnp.where(x == 2, -0.0, x), 9), [SMALL_INTS]),
        Case(
            "approx_min_k_infinities",
            lambda x: lax.approx_min_k(jnp.where(x == 1, jnp.inf, jnp.where(x == 2, -jnp.inf, x)), 5),
            [SMALL_INTS],
        ),
        Case("approx_min_k_axis1", lambda x: lax.approx_min_k(x, 2, reduction_dimension=1), [SMALL_INTS]),
    ],
)
def lower_approx_top_k(ctx, eqn, x):
    params = eqn.params
    if not params["aggregate_to_topk"]:
        raise NotImplementedError("approx_top_k with aggregate_to_topk=False is not supported")
    axis = params["reduction_dimension"] % len(x.shape)
    moved = transpose(x, _to_last(axis, len(x.shape)))
    return _top(ctx, eqn, x, params["k"], axis, _sub_keys(moved, descending=params["is_max_k"]))
