"""Run many exports in real TF.js on one backend in ONE Node process (node/verify_exports.mjs).

Starting Node and loading TF.js takes about as long as checking a small export, so verify pays for
it once per backend instead of once per export. Inputs and outputs cross as raw little-endian
float32 files, as for the single-export runner (jax2tfjs.tfjs_runtime).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jax2tfjs.errors import ExportError
from jax2tfjs.tfjs_runtime import BACKENDS, NODE_DIR, RUNNER_FAILED, check_setup

RUNNER = NODE_DIR / "verify_exports.mjs"
# Per export on top of the process's start: the cpu backend needs about 10 s for 2,000 CNN inputs.
SECONDS_PER_EXPORT = 120.0


@dataclass(frozen=True)
class ExportRuns:
    """The inputs to run through one export; `timed` names the input whose rows time batch sizes."""

    folder: Path
    inputs: dict[str, np.ndarray]
    timed: str | None = None


@dataclass
class ExportOutcome:
    """What TF.js gave for one export: outputs per input name, or the error that stopped it."""

    folder: Path
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    load_ms: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def _request(runs: list[ExportRuns], tmp: Path) -> list[dict[str, Any]]:
    specs = []
    for i, run in enumerate(runs):
        spec: dict[str, Any] = {"model_dir": str(run.folder.absolute()), "runs": [], "timed_run": run.timed}
        for name, values in run.inputs.items():
            x = np.ascontiguousarray(values, dtype="<f4")
            stem = tmp / f"{i}-{name}"
            stem.with_suffix(".in").write_bytes(x.tobytes())
            spec["runs"].append(
                {
                    "name": name,
                    "input": {"path": str(stem.with_suffix(".in")), "shape": list(x.shape)},
                    "output_path": str(stem.with_suffix(".out")),
                }
            )
        specs.append(spec)
    return specs


def _outcome(run: ExportRuns, found: dict[str, Any], tmp: Path, index: int) -> ExportOutcome:
    if "error" in found:
        return ExportOutcome(run.folder, error=found["error"])
    outputs = {
        name: np.frombuffer((tmp / f"{index}-{name}.out").read_bytes(), dtype="<f4").reshape(
            found["runs"][name]["output_shape"]
        )
        for name in run.inputs
    }
    return ExportOutcome(run.folder, outputs, found["load_ms"], found.get("timings") or {})


def run_exports(
    runs: list[ExportRuns],
    backend: str,
    *,
    timing_batches: tuple[int, ...] = (1, 32),
    warmup: int = 3,
    repeats: int = 10,
) -> list[ExportOutcome]:
    """One outcome per run, in order. An export TF.js cannot load or run is an outcome with its
    error; only a backend that cannot start (or a hung process) raises ExportError."""
    if backend not in BACKENDS:
        raise ExportError(
            f"unknown TF.js backend {backend!r}", fix=f"use one or more of {', '.join(BACKENDS)}"
        )
    node, runtime = check_setup()
    timeout_s = 60 + SECONDS_PER_EXPORT * len(runs)
    with tempfile.TemporaryDirectory(prefix="jax2tfjs-verify-") as name:
        tmp = Path(name)
        request = {
            "backend": backend,
            "node_runtime": str(runtime),
            "warmup": warmup,
            "repeats": repeats,
            "timing_batches": list(timing_batches),
            "exports": _request(runs, tmp),
        }
        (tmp / "request.json").write_text(json.dumps(request))
        try:
            proc = subprocess.run(
                [node, str(RUNNER), str(tmp / "request.json")],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                cwd=RUNNER.parent,
            )
        except subprocess.TimeoutExpired:
            raise ExportError(
                f"TF.js ({backend}) did not finish {len(runs)} exports within {timeout_s:g} s",
                fix="use fewer samples (SAMPLES=) or verify fewer exports (MODEL=, QUANT=)",
            ) from None
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            cause = next(
                (line for line in lines if line.startswith(RUNNER_FAILED)), lines[-1] if lines else ""
            )
            raise ExportError(
                f"TF.js ({backend}) could not start: {cause.removeprefix(RUNNER_FAILED).strip() or 'no output'}",
                fix=f"check the node runtime {runtime} (`make setup` fills it in a checkout)",
            )
        found = json.loads(proc.stdout.strip().splitlines()[-1])["exports"]
        return [_outcome(run, entry, tmp, i) for i, (run, entry) in enumerate(zip(runs, found, strict=True))]
