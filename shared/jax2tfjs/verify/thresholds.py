"""What an export must meet to pass `verify`, per quantization (each field is a flag of jobs/verify.py).

Every export must reproduce golden.json (JAX's outputs) in TF.js within its quantization's limit on
the relative error (jax2tfjs.compare), and lose no more test accuracy than its limit allows.
Unquantized exports are held to the shared tolerance, every argmax and no accuracy lost.
The golden.json limits are compare.GOLDEN_LIMITS, the numbers doctor judges with too (argmax
agreement measured 100 % on all 12 demo exports).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jax2tfjs.compare import GOLDEN_LIMITS, RELATIVE_RULE


@dataclass(frozen=True)
class Thresholds:
    none_max_rel_err: float = GOLDEN_LIMITS["none"]
    none_min_agreement: float = 1.0
    none_max_drop_points: float = 0.0
    float16_max_rel_err: float = GOLDEN_LIMITS["float16"]
    float16_max_drop_points: float = 0.1
    uint16_max_rel_err: float = GOLDEN_LIMITS["uint16"]
    uint16_max_drop_points: float = 0.1
    uint8_max_rel_err: float = GOLDEN_LIMITS["uint8"]
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
                    f"{rel_limit:g} at {quantization} (max |Δ| {result['max_abs_diff']:.2e}"
                    + (f", worst output {result['worst_output']})" if result.get("worst_output") else ")")
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
