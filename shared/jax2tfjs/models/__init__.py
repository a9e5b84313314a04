"""The model registry: name → a builder returning a `ModelDef` with one shared interface
(registry.py). Importing the package registers every builder module below."""

from jax2tfjs.models import flax_cnn, flax_mlp, jax_cnn  # noqa: F401  (imported for their registrations)
from jax2tfjs.models.registry import (
    ALIASES,
    MNIST_INPUT_SHAPE,
    MNIST_LABELS,
    ModelDef,
    Params,
    get_model,
    model_names,
    register,
    resolve_name,
)

__all__ = [
    "ALIASES",
    "MNIST_INPUT_SHAPE",
    "MNIST_LABELS",
    "ModelDef",
    "Params",
    "get_model",
    "model_names",
    "register",
    "resolve_name",
]
