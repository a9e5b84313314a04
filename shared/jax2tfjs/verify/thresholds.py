"""What an export must meet to pass `verify`, per quantization (each field is a flag of jobs/verify.py).

Unquantized: TF.js reproduces golden.json (JAX's outputs) within the shared tolerance with every
argmax, and loses no accuracy. Quantized: the accuracy drop stays under the quantization's limit;
their golden differences are recorded, not judged (quantization is meant to change outputs).
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
    float16_max_drop_points: float = 0.1
    uint16_max_drop_points: float = 0.1
    uint8_max_drop_points: float = 0.5

    def max_drop_points(self, quantization: str) -> float | None:
        return getattr(self, f"{quantization}_max_drop_points", None)

    def check(self, quantization: str, tfjs: dict[str, dict[str, Any]]) -> list[str]:
        """Reasons the backends' results fail; empty when they pass."""
        failures = []
        for backend, result in tfjs.items():
            if result.get("error"):
                failures.append(f"{backend}: {result['error']}")
                continue
            if quantization == "none":
                if result["rel_err"] > self.none_max_rel_err:
                    failures.append(
                        f"{backend}: golden.json {RELATIVE_RULE.split(' = ')[0]} {result['rel_err']:.2e} > "
                        f"{self.none_max_rel_err:g} (max |Δ| {result['max_abs_diff']:.2e})"
                    )
                agreement = result.get("argmax_agreement")
                if agreement is not None and agreement < self.none_min_agreement:
                    failures.append(
                        f"{backend}: golden.json argmax agreement {agreement:.2%} < {self.none_min_agreement:.0%}"
                    )
            limit = self.max_drop_points(quantization)
            drop = result.get("accuracy_drop_points")
            if drop is not None and limit is not None and drop > limit:
                failures.append(f"{backend}: accuracy drop {drop:.2f} points > {limit:g}")
        return failures
