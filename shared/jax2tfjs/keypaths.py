"""A JAX key path as text ('Dense_0/kernel', 'layers/0'): how parameter leaves are named everywhere,
in messages (prepare) and as the exported weights' names (lowering)."""

from __future__ import annotations


def key_path(path: tuple) -> str:
    """Dict keys, attribute names and sequence indices joined by '/'."""
    return "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)
