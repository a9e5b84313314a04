"""The benchmark's inputs: the trained seed CNN's weights and the test digits, with JAX's logits.

Written once per `make bench` into the work folder; every converter (ours, the official path,
jax2onnx) reads the same .npz, so all of them convert the very same weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from bench.perf.weights_file import save_params
from jax2tfjs import checkpoints, sources
from jax2tfjs.data import load_dataset
from jax2tfjs.models import get_model
from jax2tfjs.training import to_float

SEED_MODEL = "flax_cnn"


@dataclass
class Seed:
    params_path: Path
    checkpoint: str
    test_accuracy: float | None
    images: np.ndarray  # the whole test split, float32 in [0, 1]
    labels: np.ndarray
    jax_logits: np.ndarray  # JAX (the convert venv's version) on `images`


def prepare(checkpoint_dir: str | Path, data_dir: str | Path, work_dir: Path) -> Seed:
    """Newest finished flax_cnn checkpoint → weights .npz; test split and JAX's logits in memory."""
    step_dir = checkpoints.resolve(checkpoint_dir, model=SEED_MODEL)
    meta = checkpoints.read_metadata(step_dir)
    resolved = sources.resolve(str(step_dir))
    work_dir.mkdir(parents=True, exist_ok=True)
    params_path = work_dir / "seed_cnn_params.npz"
    save_params(params_path, jax.tree.map(np.asarray, resolved.params))
    arrays, _ = load_dataset(data_dir)
    images = to_float(arrays["x_test"])
    apply = jax.jit(get_model(SEED_MODEL).apply)
    logits = np.concatenate(
        [np.asarray(apply(resolved.params, images[i : i + 500])) for i in range(0, len(images), 500)]
    )
    return Seed(
        params_path=params_path,
        checkpoint=str(step_dir),
        test_accuracy=_last_test_accuracy(meta),
        images=images,
        labels=arrays["y_test"],
        jax_logits=logits,
    )


def _last_test_accuracy(meta: dict[str, Any]) -> float | None:
    metrics = meta.get("metrics") or []
    return metrics[-1].get("test_accuracy") if metrics else None
