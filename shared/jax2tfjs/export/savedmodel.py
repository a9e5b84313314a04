"""Save a lowered tf.Module as a SavedModel (the tensorflowjs converter's input), and run one back.

The module comes from jax2tfjs.lowering.tf_module; its serving signature takes the inputs by name
and returns a dict of named outputs (one-input one-output models: `input` and `output`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf


def save(module: Any, directory: Path) -> None:
    """`module`: a tf.Module with the concrete serving function in `.concrete`."""
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.concrete})


def run_saved(directory: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Load a saved export and run its serving signature on `inputs` (by name), each cast to the
    dtype the signature declares; returns its outputs by name."""
    serve = tf.saved_model.load(str(directory)).signatures["serving_default"]
    declared = serve.structured_input_signature[1]
    feed = {
        name: tf.constant(np.asarray(value), dtype=declared[name].dtype) for name, value in inputs.items()
    }
    return {name: tensor.numpy() for name, tensor in serve(**feed).items()}
