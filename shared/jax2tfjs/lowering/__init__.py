"""jaxpr → TensorFlow lowering. Importing this package registers every rule module in it.

Rule modules are found with pkgutil, not listed: a new `lowering/<topic>.py` that calls `rule(...)`
is registered by being there.
"""

import importlib
import pkgutil

from jax2tfjs.lowering.context import LoweringContext
from jax2tfjs.lowering.interpreter import lower_closed_jaxpr, source_line
from jax2tfjs.lowering.registry import NOT_SUPPORTED, RULES, Case, Rule

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["NOT_SUPPORTED", "RULES", "Case", "LoweringContext", "Rule", "lower_closed_jaxpr", "source_line"]
