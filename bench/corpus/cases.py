"""The error corpus: broken conversions users hit, each with the error code it must produce and
whether auto-fix must repair it.

Each case builds its broken input in a scratch folder (`corpus_builders`): a small Flax model (or a
registry model's checkpoint) whose parameters were saved the wrong way, a model using what TF.js
cannot run, a bad input spec, a damaged checkpoint or export, a job under too small a memory limit.
`bench` runs them and scores the KPIs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.corpus import builders as build
from bench.corpus.models import Setup

KEYS, SHAPES, DTYPES, INPUT, PRIMITIVE, CHECKPOINT, EXPORT, MEMORY = (
    "param keys",
    "param shapes",
    "dtypes",
    "input spec",
    "unsupported primitive",
    "checkpoint",
    "export",
    "memory",
)


@dataclass(frozen=True)
class Case:
    name: str
    error_class: str
    code: str  # the code expected with autofix off (and with it on, when not fixable)
    fixable: bool
    what: str
    build: Callable[[Path], Setup]
    kind: str = "convert"  # convert | doctor | job
    fast: bool = True  # part of the subset the test suite runs
    code_on: str | None = None  # with autofix on, when a later check refuses after the first is fixed


CASES: tuple[Case, ...] = (
    Case(
        "trainstate_dict",
        KEYS,
        "J2T307",
        True,
        "TrainState saved as a dict (step, params, opt_state) passed as variables",
        build.trainstate_dict,
    ),
    Case(
        "double_params_frozendict",
        KEYS,
        "J2T307",
        True,
        "FrozenDict with params nested twice ({'params': {'params': …}})",
        build.double_params,
    ),
    Case(
        "renamed_modules",
        KEYS,
        "J2T307",
        True,
        "layers renamed conv1, conv2, dense1, dense2 (shapes all differ)",
        build.renamed,
    ),
    Case(
        "renamed_twins_numbered",
        KEYS,
        "J2T307",
        True,
        "two identical layers renamed layer1, layer2: paired by their numbers",
        build.twins_numbered,
    ),
    Case("haiku_names", KEYS, "J2T307", True, "Haiku-style names ('mlp/~/linear_0' with w, b)", build.haiku),
    Case(
        "torch_state_dict",
        KEYS,
        "J2T307",
        False,
        "PyTorch CNN state_dict: renamed, OIHW, float64, fc1 rows in C·H·W flatten order (refused: ambiguous)",
        build.torch_state_dict,
        code_on="J2T308",  # the keys are fixed, then fc1's row order is refused
    ),
    Case(
        "torch_mlp_state_dict",
        KEYS,
        "J2T307",
        True,
        "PyTorch MLP state_dict: fc1…fc3 with weight (out, in) and bias, float64",
        build.torch_mlp_state_dict,
    ),
    Case(
        "keras_names",
        KEYS,
        "J2T307",
        True,
        "weights named as Keras does (conv2d, conv2d_1, dense, …)",
        build.keras_names,
    ),
    Case(
        "params_with_ema",
        KEYS,
        "J2T307",
        True,
        "params saved beside their moving average (ema_params)",
        build.params_with_ema,
    ),
    Case(
        "trainstate_bfloat16",
        KEYS,
        "J2T307",
        True,
        "TrainState from bfloat16 training (step, params, opt_state in bfloat16)",
        build.trainstate_bfloat16,
    ),
    Case(
        "batchnorm_trainstate",
        KEYS,
        "J2T307",
        True,
        "TrainState with batch_stats and opt_state as one dict",
        build.batchnorm_trainstate,
    ),
    Case(
        "checkpoint_trainstate",
        KEYS,
        "J2T307",
        True,
        "checkpoint saved from a TrainState (step, params, opt_state)",
        build.ckpt_trainstate,
        fast=False,
    ),
    Case(
        "checkpoint_ported_names",
        KEYS,
        "J2T307",
        True,
        "jax_cnn checkpoint holding flax_cnn's names (Conv_0 … Dense_1)",
        build.ckpt_port,
        fast=False,
    ),
    Case(
        "renamed_twins_ambiguous",
        KEYS,
        "J2T307",
        False,
        "two identical layers renamed encoder, decoder: two renamings fit",
        build.twins_unnumbered,
    ),
    Case("missing_layer", KEYS, "J2T307", False, "the last layer's params are missing", build.missing_layer),
    Case(
        "conv_oihw",
        SHAPES,
        "J2T308",
        True,
        "conv kernels in OIHW (PyTorch)",
        build.cnn_kernels(build.conv_only((3, 2, 0, 1))),
    ),
    Case(
        "conv_hwoi",
        SHAPES,
        "J2T308",
        False,
        "conv kernels in HWOI, TF conv2d_transpose's layout (refused: such weights need a flip too)",
        build.cnn_kernels(build.conv_only((0, 1, 3, 2))),
    ),
    Case(
        "conv_ohwi",
        SHAPES,
        "J2T308",
        True,
        "conv kernels in OHWI (TFLite)",
        build.cnn_kernels(build.conv_only((3, 0, 1, 2))),
    ),
    Case(
        "dense_transposed", SHAPES, "J2T308", True, "dense kernels stored (out, in)", build.dense_transposed
    ),
    Case(
        "conv_kernel_flattened",
        SHAPES,
        "J2T308",
        True,
        "conv kernels flattened to (kh·kw·in, out)",
        build.cnn_kernels(lambda _, k: k.reshape(-1, k.shape[-1]) if k.ndim == 4 else k),
    ),
    Case(
        "dense_kernel_unflattened",
        SHAPES,
        "J2T308",
        True,
        "the dense kernel after a flatten saved as (h, w, c, out)",
        build.cnn_kernels(lambda layer, k: k.reshape(4, 4, 8, 12) if layer == "Dense_0" else k),
    ),
    Case("bias_2d", SHAPES, "J2T308", True, "biases saved as (1, n)", build.bias_2d),
    Case(
        "checkpoint_oihw",
        SHAPES,
        "J2T308",
        True,
        "jax_cnn checkpoint with OIHW conv kernels",
        build.ckpt_oihw,
        fast=False,
    ),
    Case(
        "square_kernel_ambiguous",
        SHAPES,
        "J2T308",
        False,
        "(out, in) kernels with a square one: transposed or not cannot be told",
        build.square_ambiguous,
    ),
    Case(
        "conv_in_equals_out_ambiguous",
        SHAPES,
        "J2T308",
        False,
        "OIHW conv with in = out channels: OIHW and IOHW tie",
        build.same_channels_ambiguous,
    ),
    Case(
        "other_width",
        SHAPES,
        "J2T308",
        False,
        "params of a 13-wide layer for a 12-wide model",
        build.other_width,
    ),
    Case("float64_params", DTYPES, "J2T302", True, "params in float64", build.float64_params),
    Case("bfloat16_params", DTYPES, "J2T302", True, "params in bfloat16", build.bfloat16_params),
    Case("float16_params", DTYPES, "J2T302", True, "params in float16", build.float16_params),
    Case(
        "int64_index_table",
        DTYPES,
        "J2T302",
        True,
        "an int64 index table (numpy's default int)",
        build.int64_indices,
    ),
    Case("complex_params", DTYPES, "J2T302", False, "complex64 weights", build.complex_params),
    Case(
        "complex_compute",
        DTYPES,
        "J2T302",
        False,
        "an FFT inside the model (complex intermediates)",
        build.complex_compute,
    ),
    Case(
        "host_callback",
        PRIMITIVE,
        "J2T301",
        False,
        "jax.pure_callback (host Python code) inside the model",
        build.host_callback,
    ),
    Case("igamma", PRIMITIVE, "J2T301", False, "jax.scipy.special.gammainc inside the model", build.igamma),
    Case("flat_input_cnn", INPUT, "J2T309", True, "input_spec (1, 64) for a CNN on 8×8×1", build.flat_input),
    Case(
        "missing_channel_dim",
        INPUT,
        "J2T309",
        True,
        "input_spec (1, 8, 8) for a CNN on 8×8×1",
        build.no_channel_dim,
    ),
    Case(
        "checkpoint_flat_input",
        INPUT,
        "J2T309",
        True,
        "input_spec (1, 784) for the jax_cnn checkpoint",
        build.ckpt_flat_input,
        fast=False,
    ),
    Case(
        "nchw_input",
        INPUT,
        "J2T309",
        False,
        "NCHW input_spec for an NHWC model with 3 channels",
        build.nchw_spec,
    ),
    Case(
        "checkpoint_partial",
        CHECKPOINT,
        "J2T202",
        False,
        "checkpoint whose state/ folder is gone",
        build.ckpt_partial,
    ),
    Case(
        "checkpoint_corrupt",
        CHECKPOINT,
        "J2T202",
        False,
        "checkpoint whose state files are garbage",
        build.ckpt_corrupt,
    ),
    Case(
        "export_xla_call_module",
        EXPORT,
        "J2T303",
        False,
        "an export whose graph is XlaCallModule (jax2tf's output)",
        build.xla_export,
        kind="doctor",
    ),
    Case(
        "export_truncated_shard",
        EXPORT,
        "J2T306",
        False,
        "an export with a truncated weight shard",
        build.truncated_shard,
        kind="doctor",
    ),
    Case(
        "memory_limit",
        MEMORY,
        "J2T901",
        False,
        "a conversion under a 0.15 GB memory limit",
        build.memory,
        kind="job",
    ),
)


def by_name(names: str | list[str] | None) -> list[Case]:
    if not names:
        return list(CASES)
    wanted = names.split(",") if isinstance(names, str) else names
    known = {case.name: case for case in CASES}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise KeyError(f"no corpus case {', '.join(unknown)} (known: {', '.join(known)})")
    return [known[n] for n in wanted]
