"""One conversion of the seed CNN with our converter, timed in a fresh process (convert venv).

`python -m bench.perf.convert_ours PARAMS.npz OUT_DIR` prints one JSON line: seconds spent
importing and converting. The parent measures wall time and peak RSS of the whole process.
"""

from __future__ import annotations

import json
import sys
import time

started = time.perf_counter()
import jax  # noqa: E402

from bench.perf.weights_file import load_params  # noqa: E402
from jax2tfjs.api import to_tensorflowjs  # noqa: E402
from jax2tfjs.models import get_model  # noqa: E402
from jax2tfjs.provenance import package_versions  # noqa: E402


def main(params_path: str, out_dir: str) -> dict:
    imported = time.perf_counter()
    model = get_model("flax_cnn")
    params = load_params(params_path)
    spec = jax.ShapeDtypeStruct((1, *model.input_shape), jax.numpy.float32)
    begin = time.perf_counter()
    report = to_tensorflowjs(model.apply, params, input_spec=spec, out_dir=out_dir, progress=False)
    return {
        "import_s": imported - started,
        "convert_s": time.perf_counter() - begin,
        "phases_s": report.phases_s,
        "versions": package_versions(("jax", "flax", "tensorflow", "tensorflowjs")),
        "batch": "dynamic",
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:3])))
