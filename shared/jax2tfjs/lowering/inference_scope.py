"""Which of JAX's primitives can appear in a one-device inference graph, and which cannot.

The installed JAX defines about 290 primitives (primitives.py reads them). Many can never reach an
exported model: collectives need several devices, callbacks need the Python host, refs and boxes
are mutable state that tracing a pure forward pass does not produce, cuDNN kernels exist on NVIDIA
GPUs only. Those are grouped here, each group with the reason users see if one ever reaches the
converter. Everything else is "inference-possible": coverage (docs/coverage.md, `make docs`) is
measured against that set, as lowered, folded-only or refused.

FOLDED_ONLY lists primitives without a lowering rule that still convert when their inputs do not
depend on the model's inputs: the interpreter evaluates such equations in JAX at conversion
(folding.py). PRNG keys and draws from a fixed key are the common case. With input-dependent
inputs they are refused with the reason in registry.NOT_SUPPORTED.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    """Primitives that cannot appear in a one-device inference graph, and why."""

    title: str
    why: str
    names: frozenset[str]


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


OUTSIDE_INFERENCE: tuple[Group, ...] = (
    Group(
        "collectives",
        "a collective over several devices (pmap/shard_map); an exported model runs on one device: "
        "export the per-device function, or the model without its parallel axes",
        _names(
            """
            all_gather all_gather_done all_gather_invariant all_gather_reduced all_gather_reduced_start
            all_gather_start all_to_all all_to_all_done all_to_all_start axis_index pbroadcast
            pbroadcast_done pbroadcast_start pmax pmin ppermute ppermute_done ppermute_start precv
            preduced psend psum psum_done psum_invariant psum_invariant_start psum_start pvary
            ragged_all_to_all reduce_scatter reduce_scatter_done reduce_scatter_start reduced_vary_cast_p
            unreduced_psum unreduced_psum_start unreduced_reduce_scatter unreduced_reduce_scatter_start
            vary_unreduced_cast_p
            """
        ),
    ),
    Group(
        "sharding and placement",
        "sharding, memory-space and layout annotations for multi-device or accelerator programs; "
        "export the model without them (remove with_sharding_constraint / shard_map)",
        _names(
            """
            sharding_constraint shard_map eval_jaxpr reshard inspect_sharding layout_constraint
            custom_partitioning with_memory_space_constraint core_map pin unpin
            """
        ),
    ),
    Group(
        "host callbacks and foreign functions",
        "calls back into Python or into a compiled foreign function, which a browser cannot run; "
        "remove debug prints and callbacks before export, or compute the value in the model",
        _names("debug_callback debug_print pure_callback io_callback ffi_call"),
    ),
    Group(
        "mutable refs, boxes and state",
        "mutable state (Refs, hijax boxes and logs, run_state); an exported forward pass holds no "
        "state: export a pure function of its inputs",
        _names(
            """
            accum_grad_in_ref addupdate get swap new_ref empty_ref free_ref freeze run_state
            broadcast_to create_linear box_get box_set new_box new_log log_read log_extend
            call_hi_primitive call_hi_primitive_linearized
            """
        ),
    ),
    Group(
        "GPU-only kernels",
        "a cuDNN kernel that exists on NVIDIA GPUs only; call the portable version "
        "(jax.nn.dot_product_attention(implementation='xla'), a plain matmul)",
        _names(
            """
            cudnn_fusion dot_product_attention_fwd dot_product_attention_fwd_wrapper
            dot_product_attention_bwd dot_product_attention_bwd_wrapper dot_product_attention_fp8_fwd
            dot_product_attention_fp8_fwd_wrapper dot_product_attention_fp8_bwd
            dot_product_attention_fp8_bwd_wrapper scaled_matmul scaled_matmul_wrapper
            """
        ),
    ),
    Group(
        "differentiation internals",
        "appears only in gradients (JVPs, transposes, max-pool backward passes; zeros_like is "
        "autodiff's symbolic zero, which no traced jaxpr holds); an inference export traces the "
        "forward pass: export the model's apply, not its gradient",
        _names(
            """
            custom_lin select_and_scatter select_and_scatter_add select_and_gather_add igamma_grad_a
            custom_jvp_call_jaxpr remat_opt unreachable zeros_like
            """
        ),
    ),
    Group(
        "tokens, staging and export internals",
        "ordering tokens, checkify checks, shape assertions and staging markers of jax.export / "
        "jax.jit internals (and core's bare `call`, which current tracing never stages); trace the "
        "model with jax.make_jaxpr, not a serialised jax.export artefact",
        _names(
            """
            after_all create_token stage tie name dce_sink shape_assertion check dimension_size
            call_exported call
            """
        ),
    ),
)

# No lowering rule; converted by folding when their inputs do not depend on the model's inputs.
FOLDED_ONLY: frozenset[str] = _names(
    """
    random_seed random_wrap random_unwrap random_bits random_split random_fold_in random_clone
    random_gamma threefry2x32 threefry4x32 philox2x32 philox4x32 iota_2x32_shape rng_bit_generator
    to_edtype from_edtype empty empty2
    """
)


def group_of(name: str) -> Group | None:
    """The group of primitives outside inference `name` belongs to, or None."""
    return next((group for group in OUTSIDE_INFERENCE if name in group.names), None)
