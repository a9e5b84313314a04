"""The seed CNN's trained weights as one plain .npz, readable in every benchmark environment.

The official path runs on jax 0.4.30 / flax 0.8.5 and jax2onnx in its own venv; neither can read our
Orbax checkpoints safely across versions, so the benchmark hands them numpy arrays keyed by path
("Conv_0/kernel"). numpy only: this module is imported in all three environments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

SEP = "/"


def save_params(path: str | Path, params: dict[str, Any]) -> None:
    flat: dict[str, np.ndarray] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{SEP}{key}" if prefix else str(key))
        else:
            flat[prefix] = np.asarray(node)

    walk(params, "")
    tmp = Path(f"{path}.tmp.npz")
    np.savez(tmp, **flat)
    tmp.replace(path)


def load_params(path: str | Path) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    with np.load(path) as data:
        for key in data.files:
            node = tree
            *parents, leaf = key.split(SEP)
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = data[key]
    return tree
