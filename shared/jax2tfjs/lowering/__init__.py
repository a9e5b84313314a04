"""jaxpr → TensorFlow lowering. Importing this package registers every rule module."""

from jax2tfjs.lowering import (  # noqa: F401  (imported for their registrations)
    calls,
    conv,
    dot,
    elementwise,
    gather,
    pooling,
    reductions,
    shape,
)
from jax2tfjs.lowering.context import LoweringContext
from jax2tfjs.lowering.interpreter import lower_closed_jaxpr, source_line
from jax2tfjs.lowering.registry import NOT_SUPPORTED, RULES, Case, Rule

__all__ = ["NOT_SUPPORTED", "RULES", "Case", "LoweringContext", "Rule", "lower_closed_jaxpr", "source_line"]
