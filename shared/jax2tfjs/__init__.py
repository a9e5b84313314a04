"""jax2tfjs: train small JAX/Flax models, lower them to TensorFlow, export TensorFlow.js graph models.

`to_tensorflowjs` needs the convert environment (TensorFlow); it is imported on first use so the
train environment can import the package without TensorFlow.
"""

import os

# TensorFlow's C++ info/warning lines (CUDA probes on a CPU machine) drown the jobs' own output;
# errors still show. Set before any submodule imports TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Jobs opt in (JAX2TFJS_LEAN_IMPORTS=1) to skip the optional matplotlib and pyarrow imports of Keras
# and pandas; see lean_imports.
from jax2tfjs import lean_imports

lean_imports.install_if_requested()

__version__ = "0.1.0"
__all__ = ["to_tensorflowjs"]


def __getattr__(name):
    if name == "to_tensorflowjs":
        from jax2tfjs.api import to_tensorflowjs

        return to_tensorflowjs
    raise AttributeError(f"module 'jax2tfjs' has no attribute {name!r}")
