"""Training speed: images/s of the whole training loop against the bare jitted step.

The bare step runs the same jitted function on one fixed batch (no host work at all); the loop is
`train_and_evaluate`'s epoch loop (shuffle, batch slicing, progress bar, metric fetches). Epoch 1
includes compilation, so the loop's rate is the median over later epochs. The two are interleaved
in one process so machine noise hits both alike. Target: loop ≥ 90 % of the bare step.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from typing import Any

import jax
import numpy as np
import optax

from jax2tfjs import checkpoints
from jax2tfjs.data import load_dataset
from jax2tfjs.models import get_model
from jax2tfjs.training import TrainConfig, make_train_step, to_float, train_and_evaluate

TARGET_RATIO = 0.90


def bare_step_rate(
    model_name: str, images: np.ndarray, labels: np.ndarray, config: TrainConfig, steps: int
) -> float:
    """Images/s of `steps` calls of the jitted step on one batch already on the device."""
    model = get_model(model_name)
    tx = optax.adam(config.learning_rate)
    params = model.init(jax.random.key(config.seed))
    opt_state = tx.init(params)
    step = make_train_step(model, tx)
    x = jax.device_put(to_float(images[: config.batch_size]))
    y = jax.device_put(labels[: config.batch_size])
    for _ in range(10):
        params, opt_state, loss, _ = step(params, opt_state, x, y)
    jax.block_until_ready(loss)
    started = time.perf_counter()
    for _ in range(steps):
        params, opt_state, loss, _ = step(params, opt_state, x, y)
    jax.block_until_ready(loss)
    return steps * config.batch_size / (time.perf_counter() - started)


def loop_rates(model_name: str, data_dir: str, config: TrainConfig) -> list[float]:
    """Per-epoch images/s of the real training loop, epochs after the first."""
    with tempfile.TemporaryDirectory() as ckpt:
        train_and_evaluate(config, data_dir, ckpt, progress=True)
        directory = checkpoints.model_dir(ckpt, model_name)
        step = checkpoints.finished_steps(directory)[-1]
        metrics = checkpoints.read_metadata(directory / str(step))["metrics"]
    return [m["images_per_s"] for m in metrics[1:]]


def run(
    models: tuple[str, ...], data_dir: str, epochs: int = 4, repeats: int = 3, batch_size: int = 32
) -> dict[str, Any]:
    arrays, manifest = load_dataset(data_dir)
    rows = []
    for name in models:
        config = TrainConfig(model=get_model(name).name, epochs=epochs, batch_size=batch_size)
        steps_per_epoch = len(arrays["y_train"]) // batch_size
        bare, loop = [], []
        for _ in range(repeats):  # interleaved: bare, loop, bare, loop, ...
            bare.append(bare_step_rate(name, arrays["x_train"], arrays["y_train"], config, steps_per_epoch))
            loop.extend(loop_rates(name, data_dir, config))
        ratio = statistics.median(loop) / statistics.median(bare)
        rows.append(
            {
                "model": config.model,
                "batch_size": batch_size,
                "bare_step_images_per_s": statistics.median(bare),
                "loop_images_per_s": statistics.median(loop),
                "ratio": ratio,
                "meets_target": ratio >= TARGET_RATIO,
                "samples": {"bare": bare, "loop": loop},
            }
        )
    return {
        "benchmark": "train_speed",
        "target_ratio": TARGET_RATIO,
        "data_source": manifest["source"],
        "devices": [str(d) for d in jax.devices()],
        "rows": rows,
    }
