"""Run an ONNX model in onnxruntime-web (wasm) under Node: the peer's browser runtime, for `make bench`.

bench/node holds the runner and its pinned npm dependency (`make bench` runs `npm ci` there). It is
started through our TF.js runners' `tfjs_runtime.run_node_script`, in its one-array form (one float32
input, one output), as a one-input ONNX model needs no names.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from bench.perf import BENCH_NODE
from jax2tfjs.errors import ExportError
from jax2tfjs.tfjs_runtime import NodeScriptFailed, run_node_script


def run_in_onnxruntime_web(
    model_path: Path, inputs: np.ndarray, *, timing_batches: tuple[int, ...], warmup: int, repeats: int
) -> tuple[np.ndarray, dict[str, Any]]:
    node = shutil.which("node")
    if node is None or not (BENCH_NODE / "node_modules" / "onnxruntime-web").exists():
        raise ExportError(
            "onnxruntime-web is not installed for the benchmark",
            fix=f"run `make bench` (it runs `npm ci` in {BENCH_NODE})",
        )
    request = {
        "model_path": str(Path(model_path).absolute()),
        "timing_batches": list(timing_batches),
        "warmup": warmup,
        "repeats": repeats,
    }
    try:
        return run_node_script(node, BENCH_NODE / "run_onnx.mjs", request, inputs, timeout_s=600)
    except (NodeScriptFailed, subprocess.TimeoutExpired) as failed:
        detail = (
            failed.stderr.strip()[-800:] if isinstance(failed, NodeScriptFailed) else "timed out after 600 s"
        )
        raise ExportError(
            f"onnxruntime-web could not run {model_path}: {detail}",
            fix="re-run `make bench`; if it persists, the jax2onnx export is not runnable in onnxruntime-web",
        ) from None
