"""The rule registry: one lowering rule per JAX primitive, each with its parity cases.

A rule module registers `@rule("add", tf_ops=("AddV2",), cases=[...])`. Names are checked against
the installed JAX (primitives.py): a name that is neither a live primitive nor a rename listed in
ALIASES is dead. Importing must still work for users on a newer JAX that renamed a primitive, so a
dead name is recorded in DEAD_NAMES, warned about once, and skipped, not raised; the tests keep the
strictness (DEAD_NAMES must be empty on the pinned JAX). Registering a primitive twice raises.
`tf_ops` declares every TF op the rule may emit; the parity tests measure what each case really
emits and fail on anything undeclared. `NOT_SUPPORTED` names primitives we refuse on purpose, with
the reason users see. The test generator expands every rule's cases into parity tests, and
docs/coverage.md is generated from here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jax2tfjs.lowering.primitives import UnknownPrimitiveName, resolve


@dataclass(frozen=True)
class Arg:
    """One input of a parity case: a shape, a dtype, and how to fill it: 'normal', 'positive',
    'unit' (in (-1, 1)), 'int' (0..high-1) or 'bool'. `batched`: the first dim is the batch (left
    dynamic when the case is batched); weights set it False."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    fill: str = "normal"
    high: int = 10
    batched: bool = True

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        if self.fill == "int":
            return rng.integers(0, self.high, self.shape).astype(self.dtype)
        if self.fill == "bool":
            return rng.random(self.shape) < 0.5
        if self.fill == "positive":
            return (rng.random(self.shape) * 3 + 0.1).astype(self.dtype)
        if self.fill == "unit":
            return (rng.random(self.shape) * 1.8 - 0.9).astype(self.dtype)
        return rng.standard_normal(self.shape).astype(self.dtype)


@dataclass(frozen=True)
class Case:
    """A parity case: `fn(*args)` in JAX vs its lowering in TensorFlow.

    `batched`: the first dim of every batched arg is left dynamic (symbolic in the jaxpr, None in the
    TF signature), as in exported models. Tolerance: |tf - jax| <= atol + rtol * |jax|."""

    name: str
    fn: Callable[..., Any]
    args: Sequence[Arg]
    batched: bool = True
    atol: float = 1e-5
    rtol: float = 1e-5


@dataclass(frozen=True)
class Rule:
    """`primitive`'s lowering. Rules registered together (`and`/`or`/`not`/`xor`) share `lower`,
    `tf_ops` and `cases`; `group` names them all, and each case must trace one of them."""

    primitive: str
    lower: Callable[..., Any]
    tf_ops: tuple[str, ...]
    limits: str
    cases: tuple[Case, ...] = field(default_factory=tuple)
    module: str = ""
    group: tuple[str, ...] = ()


RULES: dict[str, Rule] = {}

# Primitives we do not lower, with the reason shown to users (and in docs/coverage.md). Claims about
# TF.js are checked against tensorflowjs 4.22's op_list/*.json and the kernels each backend registers:
# Complex/Real/Imag/FFT/IFFT are in the op list, with kernels on cpu and webgl but none on wasm (RFFT
# and IRFFT are built from them); there is no decomposition op (Qr, Svd, Eig...), no Bitcast, and no Lgamma, Digamma,
# Igamma, Zeta, Polygamma or Bessel op (erf_inv, lgamma, digamma are approximated in special.py).
_NO_COMPLEX = (
    "complex numbers: TF.js's op list has Complex/Real/Imag, but only its cpu and webgl backends run "
    "them (wasm has no complex kernels), and jax2tfjs exports hold float32, int32 and bool only; "
    "keep real and imaginary parts as two float32 arrays"
)
_NO_DECOMPOSITION = (
    "TF.js has no op for this decomposition (its op list has no Eig, Schur, Hessenberg or Householder "
    "op), and jax2tfjs unrolls only the small symmetric and triangular ones (cholesky, lu, qr, eigh, "
    "svd, triangular and tridiagonal solves); compute it in JAX before export and pass it as a weight"
)
_RANDOM = (
    "random numbers drawn from a constant key are folded at conversion; a key that depends on the "
    "model's inputs is refused (TF.js has no threefry or Philox generator): pass noise as an input"
)
_NO_SPECIAL = (
    "TF.js has no op for this special function and jax2tfjs has no float32 approximation of it "
    "yet; compute it in JAX before export (a table, or a fitted polynomial of the inputs)"
)
NOT_SUPPORTED: dict[str, str] = {
    "fft": (
        "TF.js's op list has FFT/IFFT/RFFT/IRFFT, but the wasm backend has no FFT kernel and TF.js "
        "computes FFTs on complex tensors, which wasm lacks too; use a DFT as a matmul by a constant "
        "cos/sin matrix (runs on every backend)"
    ),
    "complex": _NO_COMPLEX,
    "real": _NO_COMPLEX,
    "imag": _NO_COMPLEX,
    "conj": _NO_COMPLEX,
    "eig": _NO_DECOMPOSITION,
    "geqp3": _NO_DECOMPOSITION,
    "schur": _NO_DECOMPOSITION,
    "hessenberg": _NO_DECOMPOSITION,
    "tridiagonal": _NO_DECOMPOSITION,
    "rng_bit_generator": _RANDOM,
    "rng_uniform": (
        "lax.rng_uniform is XLA's stateful generator (no key: each run draws differently), which an "
        "export cannot reproduce; draw with jax.random from a fixed key (folded at conversion) or pass "
        "the noise as an input"
    ),
    "random_bits": _RANDOM,
    "random_seed": _RANDOM,
    "random_wrap": _RANDOM,
    "random_unwrap": _RANDOM,
    "random_split": _RANDOM,
    "random_fold_in": _RANDOM,
    "random_clone": _RANDOM,
    "random_gamma": _RANDOM,
    "threefry2x32": _RANDOM,
    "threefry4x32": _RANDOM,
    "philox2x32": _RANDOM,
    "philox4x32": _RANDOM,
    "iota_2x32_shape": _RANDOM,
    "igamma": _NO_SPECIAL,
    "igammac": _NO_SPECIAL,
    "polygamma": _NO_SPECIAL,
    "zeta": _NO_SPECIAL,
    "regularized_incomplete_beta": _NO_SPECIAL,
    "empty": "an uninitialised buffer: folded at conversion; nothing in an exported model reads it",
    "empty2": "an uninitialised buffer: folded at conversion; nothing in an exported model reads it",
    "to_edtype": _RANDOM,
    "from_edtype": _RANDOM,
    "scaled_dot": (
        "a block-scaled low-precision dot (float8/float4 operands with scales); TF.js has no such "
        "dtypes and computes in float32: dequantise the operands to float32 and use a plain dot"
    ),
}


# Names a rule or a refusal uses that the installed JAX has no primitive for → why. Empty on the
# JAX jax2tfjs pins (a test checks); a newer JAX that renamed a primitive fills it instead of
# breaking the import, and only models using that primitive are affected.
DEAD_NAMES: dict[str, str] = {}


class DeadPrimitiveNameWarning(UserWarning):
    """The installed JAX lacks a primitive jax2tfjs has a rule or a refusal for (likely renamed)."""


def _live_name(name: str, used_by: str) -> str | None:
    """`name`'s live primitive, or None after recording it in DEAD_NAMES (warned once per name)."""
    try:
        return resolve(name)
    except UnknownPrimitiveName as err:
        if name not in DEAD_NAMES:
            DEAD_NAMES[name] = f"{used_by}: {err}"
            warnings.warn(
                f"jax2tfjs skips its {used_by} for {name!r}: {err}. Models that use the renamed "
                "primitive will fail to convert; install the JAX version jax2tfjs pins, or report it.",
                DeadPrimitiveNameWarning,
                stacklevel=3,
            )
        return None


def _check_refusals() -> None:
    """NOT_SUPPORTED is looked up by the name in the jaxpr, so only live names can ever match:
    an old name is re-keyed to its live primitive, a dead one dropped (and recorded)."""
    for name in list(NOT_SUPPORTED):
        live = _live_name(name, "refusal")
        reason = NOT_SUPPORTED.pop(name)
        if live is not None:
            NOT_SUPPORTED[live] = reason


_check_refusals()


class RegistryError(ValueError):
    """A rule module registers a primitive twice, or one it also refuses (a bug in jax2tfjs,
    raised when the module is imported)."""


def rule(
    *primitives: str, tf_ops: Sequence[str], limits: str = "", cases: Sequence[Case] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `lower(ctx, eqn, *inputs)` for each named primitive (all share the cases).

    `tf_ops`: every TF op the rule emits itself (graph plumbing such as Const aside); empty for
    rules that emit nothing, like inlined calls, whose nested equations emit under their own.
    A name the installed JAX lacks is recorded in DEAD_NAMES and skipped."""

    def add(lower: Callable[..., Any]) -> Callable[..., Any]:
        live = (_live_name(name, "lowering rule") for name in primitives)
        group = tuple(name for name in live if name is not None)
        for name in group:
            if name in RULES:
                raise RegistryError(f"a lowering rule for {name!r} is registered twice")
            if name in NOT_SUPPORTED:
                raise RegistryError(f"{name!r} is listed in NOT_SUPPORTED and cannot also have a rule")
        for name in group:
            RULES[name] = Rule(name, lower, tuple(tf_ops), limits, tuple(cases), lower.__module__, group)
        return lower

    return add
