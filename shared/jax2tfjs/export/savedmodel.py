"""Save a lowered tf.Module as a SavedModel (the tensorflowjs converter's input), and run one back.

The module comes from jax2tfjs.lowering.tf_module; its serving signature takes `INPUT_NAME` and
returns `{OUTPUT_NAME: ...}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

INPUT_NAME = "input"
OUTPUT_NAME = "output"


def save(module: Any, directory: Path) -> None:
    """`module`: a tf.Module with the concrete serving function in `.concrete`."""
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.concrete})


def run_saved(directory: Path, x: np.ndarray) -> np.ndarray:
    """Load a saved export and run its serving signature on `x`."""
    serve = tf.saved_model.load(str(directory)).signatures["serving_default"]
    return serve(tf.constant(x))[OUTPUT_NAME].numpy()
