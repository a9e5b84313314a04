"""Run an ONNX model in onnxruntime-web (wasm) under Node: the peer's browser runtime, for `make bench`.

bench/node holds the runner and its pinned npm dependency (`make bench` runs `npm ci` there). Same
contract as `jax2tfjs.tfjs_runtime.run_in_tfjs`: float32 files in and out, one JSON line back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from jax2tfjs.bench import BENCH_NODE
from jax2tfjs.errors import ExportError

NODE_DIR = BENCH_NODE


def run_in_onnxruntime_web(
    model_path: Path, inputs: np.ndarray, *, timing_batches: tuple[int, ...], warmup: int, repeats: int
) -> tuple[np.ndarray, dict[str, Any]]:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "onnxruntime-web").exists():
        raise ExportError(
            "onnxruntime-web is not installed for the benchmark",
            fix=f"run `make bench` (it runs `npm ci` in {NODE_DIR})",
        )
    with tempfile.TemporaryDirectory(prefix="jax2tfjs-ort-") as tmp:
        x = np.ascontiguousarray(inputs, dtype="<f4")
        (Path(tmp) / "input.bin").write_bytes(x.tobytes())
        request = {
            "model_path": str(Path(model_path).absolute()),
            "input": {"path": f"{tmp}/input.bin", "shape": list(x.shape)},
            "output_path": f"{tmp}/output.bin",
            "timing_batches": list(timing_batches),
            "warmup": warmup,
            "repeats": repeats,
        }
        (Path(tmp) / "request.json").write_text(json.dumps(request))
        proc = subprocess.run(
            [node, "run_onnx.mjs", f"{tmp}/request.json"],
            capture_output=True,
            text=True,
            cwd=NODE_DIR,
            timeout=600,
        )
        if proc.returncode != 0:
            raise ExportError(
                f"onnxruntime-web could not run {model_path}: {proc.stderr.strip()[-800:]}",
                fix="re-run `make bench`; if it persists, the jax2onnx export is not runnable in onnxruntime-web",
            )
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        out = np.frombuffer((Path(tmp) / "output.bin").read_bytes(), dtype="<f4").reshape(
            info["output_shape"]
        )
    return out, info
