"""The model zoo: small models spanning the patterns the converter must handle (issue 6).

Importing the package registers every family; `registry.entries()` lists them, `runner.run_zoo`
converts each one and checks TF.js against JAX."""

from bench.zoo import (  # noqa: F401  (registrations)
    attention,
    convs,
    embedding,
    generative,
    indexing,
    mlps,
    norms,
    recurrent,
    residual,
    selection,
    signatures,
    vision,
)
from bench.zoo.registry import REQUIRED_TAGS, STYLES, InputSpec, ZooEntry, entries, get, select

__all__ = ["REQUIRED_TAGS", "STYLES", "InputSpec", "ZooEntry", "entries", "get", "select"]
