"""jax2tfjs: train small JAX/Flax models, lower them to TensorFlow, export TensorFlow.js graph models.

`to_tensorflowjs` needs the convert environment (TensorFlow); it is imported on first use so the
train environment can import the package without TensorFlow. Importing the package changes nothing
in the process's environment: quieting TensorFlow's C++ log lines is the jobs' choice
(`jobkit.quiet_native_logs`), not the library's.
"""

# Jobs opt in (JAX2TFJS_LEAN_IMPORTS=1) to skip the optional matplotlib and pyarrow imports of Keras
# and pandas; see lean_imports.
from jax2tfjs import lean_imports

lean_imports.install_if_requested()

__version__ = "0.1.0"
__all__ = ["to_tensorflowjs"]


def __getattr__(name):
    if name == "to_tensorflowjs":
        # Here, not at the top: the train environment has no TensorFlow, and api imports it.
        from jax2tfjs.api import to_tensorflowjs

        return to_tensorflowjs
    raise AttributeError(f"module 'jax2tfjs' has no attribute {name!r}")
