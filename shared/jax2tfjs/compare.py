"""How outputs are compared, everywhere: one tolerance, one relative error, one table of exit codes.

`verify`, the zoo, the error corpus and `doctor` all ask "does this output match the reference?";
they answer with the same rule so a model that passes one cannot fail another for a different
definition of "match".

Relative error = max|Δ| / max(1, max|reference|): absolute for outputs of magnitude ≤ 1
(probabilities, most logits), relative to the largest output otherwise, so large activations are
not held to a precision float32 cannot give them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from jax2tfjs.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_MEMORY_LIMIT,
    EXIT_TERMINATED,
    EXIT_USER_ERROR,
)

TOLERANCE = 1e-4
RELATIVE_RULE = "relative error = max|Δ| / max(1, max|reference|)"

# The most relative error an export may show against its golden.json (JAX's outputs), per
# quantization: verify and doctor judge with these same numbers. Quantization is meant to change
# outputs, so its limits are wider, set with margin over what the 12 demo exports measured (worst
# over cpu and wasm): float16 1.5e-4, uint16 1.6e-5, uint8 4.0e-3.
GOLDEN_LIMITS: dict[str, float] = {"none": TOLERANCE, "float16": 2e-3, "uint16": 5e-4, "uint8": 5e-2}


def golden_limit(quantization: str) -> float:
    """The golden.json limit of a quantization; an unknown one is held to the unquantized limit."""
    return GOLDEN_LIMITS.get(quantization, TOLERANCE)


EXIT_OK = 0
# Python's own status for an uncaught exception: a bug, never a verdict.
EXIT_CRASH = 1
# A check ran to the end and some result missed its threshold (verify, zoo, corpus).
EXIT_THRESHOLDS_MISSED = 4
# Set by the kernel's OOM killer (128 + SIGKILL), not by us: the memory guard should have come first.
EXIT_OOM_KILLED = 137
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "done, every check passed",
    EXIT_CRASH: "crash: an uncaught exception (a bug; please report it with the traceback)",
    EXIT_USER_ERROR: "bad input or a missing resource: an error code, its cause and the fix were printed",
    EXIT_THRESHOLDS_MISSED: "the checks ran and some result missed its threshold (named in the output)",
    EXIT_MEMORY_LIMIT: "the memory guard stopped the job past its memory limit",
    EXIT_INTERRUPTED: "stopped with Ctrl-C (SIGINT): temporary files removed, finished files intact",
    EXIT_TERMINATED: "stopped by SIGTERM (docker stop, kill): temporary files removed, finished files intact",
    EXIT_OOM_KILLED: "killed by the kernel's OOM killer (outside the memory guard)",
    EXIT_BROKEN_PIPE: "the output pipe was closed (e.g. `| head`)",
}


@dataclass(frozen=True)
class Comparison:
    """`actual` against `reference`. `argmax_agreement` is None when the outputs have no class axis.
    For several named outputs (`compare_named`), the figures are the worst output's, which
    `worst_output` names; `per_output` holds each output's own."""

    max_abs_diff: float
    rel_err: float
    mse: float
    argmax_agreement: float | None
    worst_output: str | None = None
    per_output: dict[str, dict[str, Any]] | None = None

    def within(self, tolerance: float = TOLERANCE) -> bool:
        return self.rel_err <= tolerance

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


MISMATCH = Comparison(float("inf"), float("inf"), float("inf"), None)


def _scale(reference: np.ndarray) -> float:
    finite = np.abs(reference[np.isfinite(reference)])
    return max(1.0, float(np.max(finite, initial=0.0)))


def compare(actual: Any, reference: Any) -> Comparison:
    """Compare two output arrays. A shape mismatch, or a non-finite value where the reference is
    finite, gives an infinite error; NaN where the reference has NaN counts as agreement."""
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape:
        return MISMATCH
    diff = np.abs(actual - reference)
    diff = np.where(np.isnan(actual) & np.isnan(reference), 0.0, diff)
    worst = float(np.max(diff, initial=0.0))
    if np.isnan(worst):
        worst = float("inf")
    mse = float(np.mean(np.square(diff))) if diff.size else 0.0
    has_classes = actual.ndim >= 2 and actual.shape[-1] > 1
    agreement = (
        float(np.mean(actual.argmax(-1) == reference.argmax(-1))) if has_classes and actual.size else None
    )
    return Comparison(worst, worst / _scale(reference), mse, agreement)


def compare_named(actual: Any, reference: Any) -> Comparison:
    """Named outputs against named references (dicts by output name; a bare array stands for the
    only output of a one-output model). Each output is compared on its own, so a small output is not
    judged against a large one's scale; the worst decides. A missing output is a mismatch."""
    if not isinstance(reference, Mapping):
        reference = {"output": reference}
    if not isinstance(actual, Mapping):
        actual = {next(iter(reference)): actual} if len(reference) == 1 else {}
    each = {
        name: compare(actual[name], want) if name in actual else MISMATCH for name, want in reference.items()
    }
    if len(each) == 1:
        return next(iter(each.values()))
    worst = max(each, key=lambda name: (each[name].rel_err, name))
    return dataclasses.replace(
        each[worst],
        worst_output=worst,
        per_output={name: {"max_abs_diff": c.max_abs_diff, "rel_err": c.rel_err} for name, c in each.items()},
    )


def relative_error(actual: Any, reference: Any) -> float:
    return compare(actual, reference).rel_err


def accuracy(outputs: Any, labels: Any) -> float:
    """Share of rows whose argmax is the label."""
    return float(np.mean(np.asarray(outputs).argmax(-1) == np.asarray(labels)))


def drop_points(reference_accuracy: float, accuracy_: float) -> float:
    """Accuracy lost against the reference, in percentage points (negative: it gained)."""
    return round(100 * (reference_accuracy - accuracy_), 4)
