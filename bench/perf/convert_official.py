"""One conversion of the seed CNN with the official `tensorflowjs.converters.convert_jax` (jax2tf).

Runs in the benchmark-only venv .venv/official (jax 0.4.30, flax 0.8.5, tensorflow 2.19,
tensorflowjs 4.22). `python -m bench.perf.convert_official PARAMS.npz OUT_DIR BATCH` prints one
JSON line. The batch is fixed: with a symbolic batch (`polymorphic_shapes=["(b, 28, 28, 1)"]`)
jax2tf adds a shape `Assert` plus Switch/Merge control flow, which the tfjs converter refuses
("Unsupported Ops ... Assert"), and with `skip_op_check=True` TF.js fails at predict time.
"""

from __future__ import annotations

import json
import sys
import time

started = time.perf_counter()
import tensorflow as tf  # noqa: E402
from tensorflowjs.converters import convert_jax  # noqa: E402

from bench.perf.weights_file import load_params  # noqa: E402
from jax2tfjs.models.cnn_config import CNNConfig  # noqa: E402
from jax2tfjs.models.flax_cnn import CNN  # noqa: E402
from jax2tfjs.provenance import package_versions  # noqa: E402


def main(params_path: str, out_dir: str, batch: str) -> dict:
    imported = time.perf_counter()
    module = CNN(CNNConfig())
    params = load_params(params_path)
    begin = time.perf_counter()
    convert_jax(
        lambda p, x: module.apply({"params": p}, x),
        params,
        input_signatures=[tf.TensorSpec((int(batch), 28, 28, 1), tf.float32)],
        model_dir=out_dir,
    )
    return {
        "import_s": imported - started,
        "convert_s": time.perf_counter() - begin,
        "versions": package_versions(("jax", "flax", "tensorflow", "tensorflowjs")),
        "batch": int(batch),
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
