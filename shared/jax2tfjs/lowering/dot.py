"""dot_general → MatMul or BatchMatMulV2 (never Einsum: the TF.js wasm backend lacks it).

Dense layers (`x @ W`, contracting x's last axis with W's first) become one MatMul, or one
BatchMatMulV2 broadcasting W when x has rank > 2 (no reshapes around it). Anything else is transposed into
[batch..., free..., contract] @ [batch..., contract, free...] and run as BatchMatMulV2; attention's
non-leading batch dims, e.g. (((3,), (3,)), ((0, 2), (0, 2))), take that path. A dot with no
contracting dims (HF BERT's head mask, `einsum("...hqk,h->...hqk")`) is a broadcast Mul.

Operands of different dtypes (that head mask is int32, the weights float32, with
preferred_element_type=float32) are both cast to the output dtype first, as JAX's own CPU/GPU
lowering does (`_handle_dot_precision`); TF's MatMul needs equal dtypes. Integer operands of a float
dot are cast first too, not the integer product after: TF.js's wasm backend has no integer
MatMul/BatchMatMul ("BatchMatMul for non non-float32 tensors not yet supported", tfjs 4.22).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import tensorflow as tf
from jax import lax

from jax2tfjs.lowering.context import reshape_target, transpose
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 3


@rule(
    "dot_general",
    tf_ops=(
        "MatMul",
        "BatchMatMulV2",
        "Mul",
        "Transpose",
        "Reshape",
        "Cast",
    ),
    limits=(
        "x[..., K] @ W (Dense, DenseGeneral) is one MatMul, or BatchMatMulV2 broadcasting W; other dots "
        "are transposed to BatchMatMulV2; mixed operand dtypes are cast to the output dtype; an int @ int "
        "→ int dot has no wasm kernel (BatchMatMul is float32 only there), so the backend check refuses it"
    ),
    cases=[
        Case("dense", lambda x, w: x @ w, [Arg((B, 6)), Arg((6, 4), batched=False)]),
        Case("dense_3d", lambda x, w: x @ w, [Arg((B, 5, 6)), Arg((6, 4), batched=False)]),
        Case(  # a vector times a matrix: rank-1 lhs, no batch
            "vector_matrix",
            lambda x, v, w: x + v @ w,
            [Arg((B, 4)), Arg((6,), batched=False), Arg((6, 4), batched=False)],
        ),
        Case(  # flax DenseGeneral(features=(2, 3)): attention's q/k/v projection
            "dense_general_out",
            lambda x, w: jnp.einsum("bsd,dhk->bshk", x, w),
            [Arg((B, 5, 6)), Arg((6, 2, 3), batched=False)],
        ),
        Case(  # DenseGeneral(axis=(-2, -1)): attention's output projection
            "dense_general_in",
            lambda x, w: jnp.einsum("bshk,hkd->bsd", x, w),
            [Arg((B, 5, 2, 3)), Arg((2, 3, 4), batched=False)],
        ),
        Case("dense_transposed_weight", lambda x, w: x @ w.T, [Arg((B, 6)), Arg((4, 6), batched=False)]),
        Case("batched", lambda a, b: jnp.einsum("bij,bjk->bik", a, b), [Arg((B, 4, 5)), Arg((B, 5, 2))]),
        Case(
            "attention_scores",
            lambda q, k: jnp.einsum("bqhd,bkhd->bhqk", q, k),
            [Arg((B, 5, 2, 4)), Arg((B, 6, 2, 4))],
            rtol=1e-4,
        ),
        Case(
            "attention_values",
            lambda p, v: jnp.einsum("bhqk,bkhd->bqhd", p, v),
            [Arg((B, 2, 5, 6)), Arg((B, 6, 2, 4))],
            rtol=1e-4,
        ),
        Case(
            "two_contracting",
            lambda a, b: jnp.tensordot(a, b, axes=((1, 2), (0, 1))),
            [Arg((B, 3, 4)), Arg((3, 4, 2), batched=False)],
        ),
        Case(
            "int_dot_to_float",
            lambda a, b: (
                lax.dot_general(a, b, (((1,), (0,)), ((), ())), preferred_element_type=jnp.float32) * 0.5
            ),
            [Arg((B, 4), "int32", "int"), Arg((4, 3), "int32", "int", batched=False)],
        ),
        Case(
            "vector_dot",
            lambda a, b: lax.dot_general(a, b, (((1,), (1,)), ((0,), (0,)))),
            [Arg((B, 5)), Arg((B, 5))],
        ),
        Case(  # HF FlaxBert's head mask: an int32 vector times float32 weights, no contraction
            "int_head_mask_times_float",
            lambda w, m: jnp.einsum("...hqk,h->...hqk", w, m, preferred_element_type=jnp.float32),
            [Arg((B, 2, 3, 4)), Arg((2,), "int32", "int", high=3, batched=False)],
        ),
        Case(
            "float_times_int_contracting",
            lambda x, w: lax.dot_general(x, w, (((1,), (0,)), ((), ()))),
            [Arg((B, 4)), Arg((4, 3), "int32", "int", high=5, batched=False)],
        ),
        Case(
            "int_times_float_batched",
            lambda a, b: lax.dot_general(
                a, b, (((2,), (1,)), ((0,), (0,))), preferred_element_type=jnp.float32
            ),
            [Arg((B, 3, 4), "int32", "int", high=5), Arg((B, 4, 2))],
        ),
        Case(  # (b, 4, b, 4) @ W: the output reshape has two symbolic dims, as (b, seq, n) in text models
            "dense_two_symbolic_dims",
            lambda x, w: lax.dot_general(x, x, (((), ()), ((), ()))) @ w,
            [Arg((B, 4)), Arg((4, 3), batched=False)],
        ),
        Case(
            "outer_product",
            lambda a, b: lax.dot_general(a, b, (((), ()), ((0,), (0,)))),
            [Arg((B, 3)), Arg((B, 2, 4))],
        ),
    ],
)
def lower_dot_general(ctx, eqn, lhs, rhs):
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lhs_shape, rhs_shape = eqn.invars[0].aval.shape, eqn.invars[1].aval.shape
    l_rank, r_rank = len(lhs_shape), len(rhs_shape)
    out_type = eqn.outvars[0].aval.dtype
    if lhs.dtype != rhs.dtype or (lhs.dtype.is_integer and not ctx.tf_dtype(out_type).is_integer):
        lhs, rhs = _as(ctx, lhs, out_type), _as(ctx, rhs, out_type)
    if not lc:
        return _as(ctx, _broadcast_product(ctx, lhs, rhs, eqn), out_type)

    # Fast path: x[..., K] @ W[K, N] (or W[N, K]) with no batch dims.
    if not lb and len(lc) == 1 and lc[0] == l_rank - 1 and l_rank >= 2 and r_rank == 2:
        transpose_b = rc[0] == 1
        if l_rank == 2:
            return _as(ctx, tf.matmul(lhs, rhs, transpose_b=transpose_b), out_type)
        # One BatchMatMulV2 broadcasting W over the leading dims, not Reshape → MatMul → Reshape:
        # two ops fewer per Dense on a sequence, and every TF.js backend runs the broadcast
        # (measured: cpu, wasm, webgl equal to the reshaped MatMul). It stays unfused with its bias:
        # wasm's _FusedMatMul with a broadcast batch and a bias gives wrong values (tfjs 4.22).
        return _as(ctx, tf.matmul(lhs, rhs, transpose_b=transpose_b), out_type)
    # x[..., K1, K2] @ W[K1, K2, N1, N2] (DenseGeneral: attention's q/k/v and output projections):
    # the weight reshaped to [K, N] (a constant, folded), x's contracted dims merged only when there
    # are several, one matmul broadcasting over x's leading dims, N split again only when it was.
    n_c = len(lc)
    trailing, leading = tuple(range(l_rank - n_c, l_rank)), tuple(range(n_c))
    if not lb and l_rank > n_c and r_rank > n_c and tuple(lc) == trailing and tuple(rc) == leading:
        lead, contracted, free = lhs_shape[: l_rank - n_c], lhs_shape[l_rank - n_c :], rhs_shape[n_c:]
        k = math.prod(contracted)
        x = lhs if n_c == 1 else tf.reshape(lhs, reshape_target(ctx, [*lead, k]))
        w = rhs if r_rank == 2 else tf.reshape(rhs, reshape_target(ctx, [k, math.prod(free)]))
        out = tf.matmul(x, w)
        if len(free) != 1:
            out = tf.reshape(out, reshape_target(ctx, [*lead, *free]))
        return _as(ctx, out, out_type)

    l_free = [d for d in range(l_rank) if d not in lc and d not in lb]
    r_free = [d for d in range(r_rank) if d not in rc and d not in rb]
    lhs_t = transpose(lhs, [*lb, *l_free, *lc])
    rhs_t = transpose(rhs, [*rb, *rc, *r_free])
    batch_dims = [lhs_shape[d] for d in lb]
    l_free_dims = [lhs_shape[d] for d in l_free]
    r_free_dims = [rhs_shape[d] for d in r_free]
    m, k, n = (math.prod(dims) for dims in (l_free_dims, [lhs_shape[d] for d in lc], r_free_dims))
    # Merging is needed only where a side has several (or no) free or contracting dims; attention's
    # einsums have one of each, so after the transposes they are BatchMatMulV2 as they stand.
    if len(l_free) != 1 or len(lc) != 1:
        lhs_t = tf.reshape(lhs_t, reshape_target(ctx, [*batch_dims, m, k]))
    if len(r_free) != 1 or len(rc) != 1:
        rhs_t = tf.reshape(rhs_t, reshape_target(ctx, [*batch_dims, k, n]))
    out = tf.matmul(lhs_t, rhs_t)  # MatMul for rank 2, BatchMatMulV2 above
    if len(l_free) != 1 or len(r_free) != 1:
        out = tf.reshape(out, reshape_target(ctx, [*batch_dims, *l_free_dims, *r_free_dims]))
    return _as(ctx, out, out_type)


def _broadcast_product(ctx, lhs, rhs, eqn):
    """A dot with no contracting dims: out[batch, l_free, r_free] = lhs[batch, l_free] * rhs[batch,
    r_free], one Mul with size-1 axes where the other side's free dims go (no BatchMatMul with k=1)."""
    (_, _), (lb, rb) = eqn.params["dimension_numbers"]
    lhs_shape, rhs_shape = eqn.invars[0].aval.shape, eqn.invars[1].aval.shape
    l_free = [d for d in range(len(lhs_shape)) if d not in lb]
    r_free = [d for d in range(len(rhs_shape)) if d not in rb]
    batch = [lhs_shape[d] for d in lb]
    lhs_t = transpose(lhs, [*lb, *l_free])
    rhs_t = transpose(rhs, [*rb, *r_free])
    if r_free:  # trailing size-1 axes for rhs's free dims
        lhs_t = tf.reshape(
            lhs_t, reshape_target(ctx, [*batch, *(lhs_shape[d] for d in l_free), *[1] * len(r_free)])
        )
    if l_free and batch:  # size-1 axes between rhs's batch and free dims (right alignment does the rest)
        rhs_t = tf.reshape(
            rhs_t, reshape_target(ctx, [*batch, *[1] * len(l_free), *(rhs_shape[d] for d in r_free)])
        )
    return lhs_t * rhs_t


def _as(ctx, x, dtype):
    """`x` in the dtype JAX's dot returns (preferred_element_type), e.g. int32 @ int32 → float32."""
    target = ctx.tf_dtype(dtype)
    return x if x.dtype == target else tf.cast(x, target)
