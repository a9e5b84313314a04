"""Convert your own Flax model to TensorFlow.js and run it in real TF.js.

Run from the repository root: .venv/convert/bin/python docs/examples/convert_own_flax_model.py [OUT_DIR]
(tests/test_docs.py runs it, so this example cannot rot.)
"""

import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jax2tfjs import to_tensorflowjs
from jax2tfjs.tfjs_runtime import run_in_tfjs


class TinyClassifier(nn.Module):
    """Any linen module works; an nnx module, a TrainState or fn(params, x) too."""

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(16, (3, 3), strides=(2, 2))(x))
        x = nn.LayerNorm()(x)
        x = x.reshape((x.shape[0], -1))
        return nn.softmax(nn.Dense(10)(x))


model = TinyClassifier()
example = jnp.zeros((1, 28, 28, 1), jnp.float32)  # the batch dim stays dynamic in the export
variables = model.init(jax.random.key(0), example)

out_dir = sys.argv[1] if len(sys.argv) > 1 else "/tmp/tiny_classifier_tfjs"
report = to_tensorflowjs(model, variables, input_spec=example, out_dir=out_dir, quantization="float16")
print(f"wrote {report.out_dir}: {report.total_bytes:,} bytes, TF.js ops {report.tfjs_ops}")

# Check it in TF.js itself (Node, wasm backend) against JAX on a batch of 5.
x = np.random.default_rng(0).random((5, 28, 28, 1), np.float32)
tfjs_out, info = run_in_tfjs(report.out_dir, x, backend="wasm")
jax_out = np.asarray(model.apply(variables, x))
print(f"max |TF.js - JAX| = {np.abs(tfjs_out - jax_out).max():.2e}, load {info['load_ms']:.0f} ms")
assert np.array_equal(tfjs_out.argmax(1), jax_out.argmax(1))
