"""jax2tfjs: train small JAX/Flax models, lower them to TensorFlow, export TensorFlow.js graph models."""

__version__ = "0.1.0"
