"""Train job: `make train MODEL=jax|flax|mlp` → volumes/checkpoints/<model>/<step>/."""

from __future__ import annotations

import fire

from jax2tfjs.jobkit import run_job
from jax2tfjs.training import TrainConfig, train_and_evaluate


def main(
    model: str = "flax",
    epochs: int = 5,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    train_samples: int | None = None,
    resume: bool = False,
    fresh: bool = False,
    data_dir: str = "volumes/data",
    checkpoint_dir: str = "volumes/checkpoints",
    memory_limit_gb: float | None = None,
) -> None:
    """Train one registered model with Optax Adam, checkpointing every epoch.

    Args:
      model: jax_cnn, flax_cnn, flax_mlp (or jax, flax, mlp).
      epochs: total epochs (with --resume, the run continues up to this many).
      batch_size: training batch size.
      lr: Adam learning rate.
      seed: seeds the initial weights and the per-epoch shuffles.
      train_samples: use only the first N training images (quick runs).
      resume: continue from the newest checkpoint, optimizer state included.
      fresh: move existing checkpoints of this model aside and start over.
      data_dir: where mnist.npz lives (`make data`).
      checkpoint_dir: the checkpoints volume.
      memory_limit_gb: the memory guard's limit (default $MEMORY_LIMIT_GB or 8).
    """
    config = TrainConfig(
        model=model,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lr,
        seed=seed,
        train_samples=train_samples,
    )
    run_job(
        "train",
        lambda: train_and_evaluate(config, data_dir, checkpoint_dir, resume=resume, fresh=fresh),
        memory_limit_gb=memory_limit_gb,
        report_path=None,
    )


if __name__ == "__main__":
    fire.Fire(main)
