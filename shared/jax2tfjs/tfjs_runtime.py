"""Run an export in real TF.js (Node, @tensorflow/tfjs 4.22, cpu or wasm backend).

The runner script and its pinned npm dependencies live in jax2tfjs/node/ (`make setup` runs
`npm ci` there). Inputs and outputs cross as raw float32 files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from jax2tfjs.errors import ExportError

NODE_DIR = Path(__file__).parent / "node"
RUNNER = NODE_DIR / "run_graph_model.mjs"
BACKENDS = ("cpu", "wasm")
RUNNER_FAILED = "tfjs runner failed:"  # run_graph_model.mjs prefixes its error line with this


def _check_setup() -> str:
    node = shutil.which("node")
    if node is None:
        raise ExportError("node is not on PATH", fix="install Node.js 20 (apt-get install nodejs npm)")
    if not (NODE_DIR / "node_modules" / "@tensorflow" / "tfjs").exists():
        raise ExportError(
            f"TF.js is not installed in {NODE_DIR}", fix=f"run `make setup` (or `npm ci` in {NODE_DIR})"
        )
    return node


def run_in_tfjs(
    model_dir: str | Path,
    inputs: np.ndarray | None,
    backend: str = "wasm",
    *,
    timing_batches: tuple[int, ...] = (),
    warmup: int = 3,
    repeats: int = 10,
    timeout_s: float = 600,
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """(outputs, info) where info has load_ms, predict_ms, timings per batch, golden_max_abs_diff."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}")
    node = _check_setup()
    model_dir = Path(model_dir).absolute()
    if not (model_dir / "model.json").exists():
        raise ExportError(
            "model.json is missing: this folder is not a TF.js graph model",
            fix="run `make convert` for this model, or pass the folder that holds model.json",
            path=model_dir,
        )
    request: dict[str, Any] = {
        "model_dir": str(model_dir),
        "backend": backend,
        "warmup": warmup,
        "repeats": repeats,
        "timing_batches": list(timing_batches),
    }
    try:
        return run_node_script(node, RUNNER, request, inputs, timeout_s=timeout_s)
    except subprocess.TimeoutExpired:
        raise ExportError(
            f"TF.js ({backend}) did not finish within {timeout_s:g} s",
            fix="use fewer samples (SAMPLES=) or a faster backend (wasm)",
            path=model_dir,
        ) from None
    except NodeScriptFailed as failed:
        # The runner's own line says what failed; the JS stack under it names only tfjs internals,
        # and the cpu backend prints a Node banner on stderr before anything else.
        lines = [line for line in failed.stderr.splitlines() if line.strip()]
        cause = next(
            (line for line in lines if line.startswith(RUNNER_FAILED)),
            lines[-1] if lines else "no output",
        )
        raise ExportError(
            f"TF.js ({backend}) could not run the model: {cause.removeprefix(RUNNER_FAILED).strip()}",
            fix="the export may be corrupt or use an op this backend lacks; re-run `make convert`",
            path=model_dir,
        ) from None


class NodeScriptFailed(Exception):
    def __init__(self, stderr: str):
        super().__init__(stderr[-800:])
        self.stderr = stderr


def run_node_script(
    node: str, script: Path, request: dict[str, Any], inputs: np.ndarray | None, *, timeout_s: float
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The contract our Node runners share (run_graph_model.mjs here, bench/node/run_onnx.mjs): a
    request.json, inputs and outputs as raw little-endian float32 files, one JSON line back.
    Raises subprocess.TimeoutExpired, or NodeScriptFailed with stderr on a non-zero exit."""
    with tempfile.TemporaryDirectory(prefix="jax2tfjs-node-") as tmp:
        request = dict(request)
        if inputs is not None:
            x = np.ascontiguousarray(inputs, dtype="<f4")
            (Path(tmp) / "input.bin").write_bytes(x.tobytes())
            request["input"] = {"path": f"{tmp}/input.bin", "shape": list(x.shape)}
            request["output_path"] = f"{tmp}/output.bin"
        (Path(tmp) / "request.json").write_text(json.dumps(request))
        proc = subprocess.run(
            [node, str(script), f"{tmp}/request.json"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=script.parent,
        )
        if proc.returncode != 0:
            raise NodeScriptFailed(proc.stderr)
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        outputs = None
        if inputs is not None:
            outputs = np.frombuffer((Path(tmp) / "output.bin").read_bytes(), dtype="<f4").reshape(
                info["output_shape"]
            )
    return outputs, info
