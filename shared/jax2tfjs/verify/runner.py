"""Verify exports: does TF.js compute what JAX computes, and what did quantization cost?

For each export folder (`<model>/<quant>/`): JAX (from the checkpoint named in report.json), the
SavedModel (the lowered graph, saved and reloaded) and TF.js in Node on the cpu and wasm backends
run the same test images. Each row records max |Δ| and MSE of the outputs against JAX, argmax
agreement, accuracies, the accuracy drop, bytes, load and inference times, and whether the row
meets its quantization's thresholds.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jax2tfjs import sources
from jax2tfjs.errors import ExportError, Jax2TfjsError
from jax2tfjs.export import savedmodel
from jax2tfjs.export.publish import QUANT_ORDER
from jax2tfjs.tfjs_runtime import run_in_tfjs

VERIFY_FILE = "verify.json"


@dataclass(frozen=True)
class Thresholds:
    """Defaults from the verification issue; every field is a --flag of jobs/verify.py."""

    none_max_abs_diff: float = 1e-4
    none_min_agreement: float = 1.0
    float16_max_drop_points: float = 0.1
    uint16_max_drop_points: float = 0.1
    uint8_max_drop_points: float = 0.5

    def check(self, quantization: str, row: dict[str, Any]) -> list[str]:
        """Reasons the row fails; empty when it passes."""
        failures = []
        for backend, result in row["tfjs"].items():
            if quantization == "none":
                if result["max_abs_diff"] > self.none_max_abs_diff:
                    failures.append(
                        f"{backend}: max |diff| {result['max_abs_diff']:.2e} > {self.none_max_abs_diff:.0e}"
                    )
                if result["argmax_agreement"] < self.none_min_agreement:
                    failures.append(f"{backend}: argmax agreement {result['argmax_agreement']:.2%} < 100%")
            else:
                limit = getattr(self, f"{quantization}_max_drop_points")
                if result["accuracy_drop_points"] > limit:
                    failures.append(
                        f"{backend}: accuracy drop {result['accuracy_drop_points']:.2f} points > {limit}"
                    )
        return failures


def compare(outputs: np.ndarray, reference: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    diff = outputs.astype(np.float64) - reference
    return {
        "max_abs_diff": float(np.max(np.abs(diff))),
        "mse": float(np.mean(diff**2)),
        "argmax_agreement": float(np.mean(outputs.argmax(-1) == reference.argmax(-1))),
        "accuracy": float(np.mean(outputs.argmax(-1) == labels)),
    }


def export_folders(root: Path, model: str | None = None, quantization: str | None = None) -> list[Path]:
    """Export folders under root (any `<model>/<quant>/` holding report.json or model.json)."""
    found = {p.parent for pattern in ("*/*/report.json", "*/*/model.json") for p in root.glob(pattern)}
    order = {q: i for i, q in enumerate(QUANT_ORDER)}
    return sorted(
        (
            f
            for f in found
            if (model is None or f.parent.name == model) and (quantization is None or f.name == quantization)
        ),
        key=lambda f: (f.parent.name, order.get(f.name, len(order)), f.name),
    )


def _savedmodel_outputs(
    resolved: sources.ResolvedModel, spec: jax.ShapeDtypeStruct, x: np.ndarray
) -> np.ndarray:
    closed = savedmodel.trace(resolved.apply, resolved.params, spec, dynamic_batch=True)
    module = savedmodel.ExportModule(closed, resolved.params, spec, dynamic_batch=True)
    with tempfile.TemporaryDirectory(prefix="jax2tfjs-verify-") as tmp:
        savedmodel.save(module, Path(tmp))
        return savedmodel.run_saved(Path(tmp), x)


def verify_export(
    folder: Path,
    images: np.ndarray,
    labels: np.ndarray,
    thresholds: Thresholds,
    backends: tuple[str, ...] = ("cpu", "wasm"),
    timing_repeats: int = 10,
) -> dict[str, Any]:
    """One row (written to folder/verify.json); errors become a failed row, never a traceback."""
    row: dict[str, Any] = {
        "export": f"{folder.parent.name}/{folder.name}",
        "model": folder.parent.name,
        "quantization": folder.name,
        "samples": len(labels),
    }
    try:
        if not (folder / "model.json").exists():
            raise ExportError(
                "model.json is missing", fix="re-run `make convert` for this export", path=folder
            )
        report = json.loads((folder / "report.json").read_text())
        checkpoint = (report.get("provenance") or {}).get("checkpoint")
        if not checkpoint:
            raise ExportError(
                "report.json names no source checkpoint, so there is no JAX model to compare with",
                fix="verify exports made by `make convert` (from checkpoints)",
                path=folder,
            )
        resolved = sources.resolve(checkpoint)
        reference = np.asarray(jax.jit(resolved.apply)(resolved.params, images), dtype=np.float64)
        row["bytes"] = {
            "model": report["model_bytes"],
            "weights": report["weight_bytes"],
            "total": report["total_bytes"],
        }
        row["checkpoint"] = checkpoint
        row["jax"] = {"accuracy": float(np.mean(reference.argmax(-1) == labels))}
        row["savedmodel"] = compare(
            _savedmodel_outputs(resolved, resolved.input_spec, images), reference, labels
        )
        row["tfjs"] = {}
        for backend in backends:
            outputs, info = run_in_tfjs(
                folder, images, backend, timing_batches=(1, 32), repeats=timing_repeats
            )
            result = compare(outputs, reference, labels)
            result["accuracy_drop_points"] = round(100 * (row["jax"]["accuracy"] - result["accuracy"]), 4)
            result.update(
                load_ms=info["load_ms"],
                infer_ms_batch1=info["timings"].get("1"),
                infer_ms_batch32=info["timings"].get("32"),  # None with < 32 samples
                golden_max_abs_diff=info.get("golden_max_abs_diff"),
            )
            row["tfjs"][backend] = result
        row["failures"] = thresholds.check(folder.name, row)
    except Jax2TfjsError as err:
        row["failures"] = [f"error {err.code}: {err.cause} (fix: {err.fix})"]
    except (OSError, ValueError, KeyError, subprocess.SubprocessError) as err:
        row["failures"] = [f"error: {type(err).__name__}: {err}"]
    row["passed"] = not row["failures"]
    row["thresholds"] = asdict(thresholds)
    return row
