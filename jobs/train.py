"""Train job: `make train MODEL=jax|flax|mlp` → volumes/checkpoints/<model>/<step>/.

`MODEL=flax,mlp` (or `all`) trains each in turn, with the same variables. Every argument is checked
before anything else happens (a bad SEED must never leave FRESH=1 half done), then each model is
trained holding its own checkpoint folder's lock, so two jobs never write one model's checkpoints.
"""

from __future__ import annotations

import fire

from jax2tfjs import checkpoints, locks
from jax2tfjs.faults import fault_point
from jax2tfjs.jobargs import MAX_SEED, Arg, names, optional_whole_number, positive_number, whole_number
from jax2tfjs.jobkit import job_exit, run_job
from jax2tfjs.models import ALIASES, model_names
from jax2tfjs.training import TrainConfig, train_and_evaluate

MODEL = Arg("MODEL", "--model", "train", "flax")
EPOCHS = Arg("EPOCHS", "--epochs", "train", "5")
BATCH_SIZE = Arg("BATCH_SIZE", "--batch-size", "train", "32")
LR = Arg("LR", "--lr", "train", "0.001")
SEED = Arg("SEED", "--seed", "train", "0")
TRAIN_SAMPLES = Arg("TRAIN_SAMPLES", "--train-samples", "train", "1000")
# Test-only (jax2tfjs.faults): after a model's training, JAX's and Orbax's threads still alive.
MODEL_DONE_FAULT_POINT = "train.model_done"


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
    """Train registered models with Optax Adam, checkpointing every epoch.

    Args:
      model: jax_cnn, flax_cnn, flax_mlp (or jax, flax, mlp); a comma list (trained in turn), or all.
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
    with job_exit("train"):
        chosen = names(model, model_names(), MODEL, ALIASES)
        configs = [
            TrainConfig(
                model=name,
                epochs=whole_number(epochs, EPOCHS),
                batch_size=whole_number(batch_size, BATCH_SIZE),
                learning_rate=positive_number(lr, LR),
                seed=whole_number(seed, SEED, minimum=0, maximum=MAX_SEED),
                train_samples=optional_whole_number(train_samples, TRAIN_SAMPLES),
            )
            for name in chosen
        ]

    def work() -> dict:
        reports = []
        for config in configs:
            # One lock per model (two models may train at once, one model never), beside its folder:
            # FRESH=1 renames the folder, and the lock must not leave with it.
            with locks.hold(checkpoints.model_dir(checkpoint_dir, config.model), "train", beside=True):
                reports.append(
                    train_and_evaluate(config, data_dir, checkpoint_dir, resume=resume, fresh=fresh)
                )
            fault_point(MODEL_DONE_FAULT_POINT)
        return reports[0] if len(reports) == 1 else {"models": reports}

    run_job("train", work, memory_limit_gb=memory_limit_gb, report_path=None)


if __name__ == "__main__":
    fire.Fire(main)
