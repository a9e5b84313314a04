"""One conversion of the seed CNN with jax2onnx (the peer on current JAX), in .venv/jax2onnx.

`python -m bench.perf.convert_jax2onnx PARAMS.npz OUT_DIR` writes OUT_DIR/model.onnx (one
self-contained file, jax2onnx's "web" mode for onnxruntime-web) and prints one JSON line with the
import and conversion seconds and the graph's op counts.
"""

from __future__ import annotations

import collections
import json
import sys
import time
from pathlib import Path

started = time.perf_counter()
import jax2onnx  # noqa: E402
import onnx  # noqa: E402

from bench.perf.weights_file import load_params  # noqa: E402
from jax2tfjs.models.cnn_config import CNNConfig  # noqa: E402
from jax2tfjs.models.flax_cnn import CNN  # noqa: E402
from jax2tfjs.provenance import package_versions  # noqa: E402


def main(params_path: str, out_dir: str) -> dict:
    imported = time.perf_counter()
    module = CNN(CNNConfig())
    params = load_params(params_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    begin = time.perf_counter()
    jax2onnx.to_onnx(
        lambda x: module.apply({"params": params}, x),
        [("B", 28, 28, 1)],
        return_mode="file",
        output_path=str(out / "model.onnx"),
        export_mode="web",
    )
    convert_s = time.perf_counter() - begin
    graph = onnx.load(str(out / "model.onnx")).graph
    return {
        "import_s": imported - started,
        "convert_s": convert_s,
        "versions": package_versions(("jax", "flax", "jax2onnx", "onnx")),
        "batch": "dynamic",
        "ops": dict(collections.Counter(node.op_type for node in graph.node)),
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:3])))
