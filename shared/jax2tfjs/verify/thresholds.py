"""What an export must meet to pass `verify`, per quantization (each field is a flag of jobs/verify.py).

Every export must reproduce golden.json (JAX's outputs) in TF.js within its quantization's limit on
the relative error (jax2tfjs.compare), and lose no more test accuracy than its limit allows.
Unquantized exports are held to the shared tolerance, every argmax and no accuracy lost.
Quantization is meant to change outputs, so its limits are wider, set with margin over what the 12
demo exports measured (worst golden.json relative error over cpu and wasm, argmax agreement 100 %
for all): float16 1.5e-4 (limit 2e-3), uint16 1.6e-5 (limit 5e-4), uint8 4.0e-3 (limit 5e-2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jax2tfjs.compare import RELATIVE_RULE, TOLERANCE


@dataclass(frozen=True)
class Thresholds:
    none_max_rel_err: float = TOLERANCE
    none_min_agreement: float = 1.0
    none_max_drop_points: float = 0.0
    float16_max_rel_err: float = 2e-3
    float16_max_drop_points: float = 0.1
    uint16_max_rel_err: float = 5e-4
    uint16_max_drop_points: float = 0.1
    uint8_max_rel_err: float = 5e-2
    uint8_max_drop_points: float = 0.5

    def max_rel_err(self, quantization: str) -> float:
        """The golden.json limit; an unknown quantization is held to the unquantized one."""
        return getattr(self, f"{quantization}_max_rel_err", self.none_max_rel_err)

    def max_drop_points(self, quantization: str) -> float | None:
        return getattr(self, f"{quantization}_max_drop_points", None)

    def check(self, quantization: str, tfjs: dict[str, dict[str, Any]]) -> list[str]:
        """Reasons the backends' results fail; empty when they pass."""
        failures = []
        rel_limit = self.max_rel_err(quantization)
        for backend, result in tfjs.items():
            if result.get("error"):
                failures.append(f"{backend}: {result['error']}")
                continue
            if result["rel_err"] > rel_limit:
                failures.append(
                    f"{backend}: golden.json {RELATIVE_RULE.split(' = ')[0]} {result['rel_err']:.2e} > "
                    f"{rel_limit:g} at {quantization} (max |Δ| {result['max_abs_diff']:.2e})"
                )
            agreement = result.get("argmax_agreement")
            if quantization == "none" and agreement is not None and agreement < self.none_min_agreement:
                failures.append(
                    f"{backend}: golden.json argmax agreement {agreement:.2%} < {self.none_min_agreement:.0%}"
                )
            limit = self.max_drop_points(quantization)
            drop = result.get("accuracy_drop_points")
            if drop is not None and limit is not None and drop > limit:
                failures.append(f"{backend}: accuracy drop {drop:.2f} points > {limit:g}")
        return failures
