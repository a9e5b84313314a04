"""Training on real digits: checkpoints with metadata, determinism, resume, existing-run safety.

Runs are tiny (256 images, batch 32: 8 steps an epoch) so the suite stays fast; the quality bar
(≥ 96.5 % after 5 full epochs) is checked by `make train`, not here.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jax2tfjs import checkpoint_files, checkpoints
from jax2tfjs.errors import (
    CheckpointError,
    CheckpointModelError,
    DataIntegrityError,
    JobArgumentError,
    TrainingStateError,
)
from jax2tfjs.training import TrainConfig, train_and_evaluate

QUICK = {"batch_size": 32, "train_samples": 256}


def train(tmp_path, mnist_dir, model="flax_mlp", **overrides):
    config = TrainConfig(model=model, **{"epochs": 1, **QUICK, **overrides.pop("config", {})})
    return train_and_evaluate(config, mnist_dir, tmp_path / "ckpt", progress=False, **overrides)


def params_of(root, model="flax_mlp"):
    import orbax.checkpoint as ocp

    directory = checkpoints.model_dir(root, model)
    step = checkpoints.finished_steps(directory)[-1]
    tree = ocp.StandardCheckpointer().restore((directory / str(step) / "state").absolute())
    return [np.asarray(x) for x in jax.tree.leaves(tree["params"])], step


@pytest.mark.parametrize("model", ["jax_cnn", "flax_cnn", "flax_mlp"])
def test_one_epoch_writes_a_checkpoint_with_full_metadata(tmp_path, mnist_dir, model):
    report = train(tmp_path, mnist_dir, model=model)
    assert report["final_metrics"]["step"] == 8
    meta = checkpoints.read_metadata(checkpoints.model_dir(tmp_path / "ckpt", model) / "8")
    assert meta["model"]["name"] == model and meta["model"]["config"]
    assert meta["model"]["input_spec"]["shape"] == [None, 28, 28, 1]
    assert meta["model"]["labels"] == list("0123456789")
    assert meta["train_config"]["learning_rate"] == 1e-3 and meta["epoch"] == 1
    assert meta["dataset"]["source"] == "npm" and len(meta["dataset"]["sha256"]) == 64
    assert set(meta["packages"]) >= {"jax", "flax", "optax", "orbax-checkpoint", "python"}
    assert meta["wall_s"] > 0 and meta["created"].endswith("Z")
    epoch = meta["metrics"][0]
    # 256 real digits for 8 steps already beat chance (10 %) by far.
    assert epoch["test_accuracy"] > 0.3 and epoch["images_per_s"] > 0


def test_same_seed_and_data_give_identical_weights(tmp_path, mnist_dir):
    train(tmp_path / "a", mnist_dir)
    train(tmp_path / "b", mnist_dir)
    train(tmp_path / "c", mnist_dir, config={"seed": 1})
    a, _ = params_of(tmp_path / "a" / "ckpt")
    b, _ = params_of(tmp_path / "b" / "ckpt")
    c, _ = params_of(tmp_path / "c" / "ckpt")
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_interrupted_then_resumed_run_equals_an_uninterrupted_one(tmp_path, mnist_dir, capsys):
    train(tmp_path / "straight", mnist_dir, config={"epochs": 2})
    train(tmp_path / "resumed", mnist_dir, config={"epochs": 1})
    report = train(tmp_path / "resumed", mnist_dir, config={"epochs": 2}, resume=True)
    assert "resuming flax_mlp at epoch 2, step 8" in capsys.readouterr().out
    assert report["final_metrics"]["step"] == 16
    straight, step_a = params_of(tmp_path / "straight" / "ckpt")
    resumed, step_b = params_of(tmp_path / "resumed" / "ckpt")
    assert step_a == step_b == 16
    assert all(np.array_equal(x, y) for x, y in zip(straight, resumed, strict=True))
    meta = checkpoints.read_metadata(checkpoints.model_dir(tmp_path / "resumed" / "ckpt", "flax_mlp") / "16")
    assert [m["epoch"] for m in meta["metrics"]] == [1, 2]


def test_only_the_last_three_checkpoints_are_kept(tmp_path, mnist_dir):
    report = train(tmp_path, mnist_dir, config={"epochs": 4})
    assert report["kept_steps"] == [16, 24, 32]


def test_existing_run_is_never_overwritten_silently(tmp_path, mnist_dir, capsys):
    train(tmp_path, mnist_dir, config={"epochs": 1})
    again = train(tmp_path, mnist_dir, config={"epochs": 1})
    assert again["up_to_date"] is True
    with pytest.raises(TrainingStateError, match="unfinished run") as err:
        train(tmp_path, mnist_dir, config={"epochs": 2})
    assert "--resume" in err.value.fix and "--fresh" in err.value.fix
    with pytest.raises(TrainingStateError, match=r"batch_size \(checkpoint: 32, now: 64\)"):
        train(tmp_path, mnist_dir, config={"epochs": 2, "batch_size": 64}, resume=True)
    train(tmp_path, mnist_dir, config={"epochs": 1, "seed": 5}, fresh=True)
    moved = [p.name for p in (tmp_path / "ckpt").iterdir() if ".replaced-" in p.name]
    assert len(moved) == 1 and "moved the old checkpoints" in capsys.readouterr().out


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_damaged_newest_step_stops_the_run_naming_the_step_and_the_fix(tmp_path, mnist_dir, capsys):
    """Issue 13: with the newest step's _CHECKPOINT_METADATA gone, a resume used to restart from the
    step before, print "saved …/16" and exit 0 while Orbax skipped the save."""
    train(tmp_path, mnist_dir, config={"epochs": 2})
    directory = tmp_path / "ckpt" / "flax_mlp"
    (directory / "16" / "_CHECKPOINT_METADATA").unlink()
    before = snapshot(directory)
    capsys.readouterr()
    with pytest.raises(CheckpointError, match="checkpoint step 16 is damaged") as err:
        train(tmp_path, mnist_dir, config={"epochs": 3}, resume=True)
    assert "training resumes from step 8" in err.value.fix and f"mv {directory / '16'}" in err.value.fix
    assert snapshot(directory) == before and "saved" not in capsys.readouterr().out
    (directory / "16").rename(directory / "16.damaged")  # what the fix says
    report = train(tmp_path, mnist_dir, config={"epochs": 3}, resume=True)
    assert report["final_metrics"]["step"] == 24 and report["kept_steps"] == [8, 16, 24]


@pytest.mark.parametrize(
    ("damage", "cause"),
    [
        (lambda step: (step / "metadata" / "metadata").write_text("{oops"), "checkpoint step 16"),
        (
            lambda step: (step / "state" / "manifest.ocdbt").write_bytes(b"\0"),
            "corrupt: state/manifest.ocdbt",
        ),
    ],
    ids=["metadata JSON", "truncated state file"],
)
def test_damaged_metadata_or_state_of_the_newest_step_is_a_typed_error(tmp_path, mnist_dir, damage, cause):
    train(tmp_path, mnist_dir, config={"epochs": 2})
    directory = tmp_path / "ckpt" / "flax_mlp"
    damage(directory / "16")
    before = snapshot(directory)
    with pytest.raises(CheckpointError, match=cause) as err:
        train(tmp_path, mnist_dir, config={"epochs": 3}, resume=True)
    assert err.value.code == "J2T202" and "16.damaged" in err.value.fix
    assert snapshot(directory) == before


def test_another_models_checkpoint_in_the_folder_is_not_resumed(tmp_path, mnist_dir):
    import shutil

    train(tmp_path, mnist_dir, config={"epochs": 1})
    shutil.copytree(tmp_path / "ckpt" / "flax_mlp", tmp_path / "ckpt" / "flax_cnn")
    with pytest.raises(CheckpointModelError, match="holds a flax_mlp checkpoint"):
        train(tmp_path, mnist_dir, model="flax_cnn", config={"epochs": 2}, resume=True)


@pytest.mark.parametrize(
    ("overrides", "flags", "cause"),
    [
        ({"epochs": 0}, {}, r"EPOCHS=0 \(--epochs\) is not a whole number ≥ 1"),
        ({"learning_rate": float("nan")}, {}, r"LR=nan \(--lr\) is not a finite number > 0"),
        ({"seed": -1}, {}, r"SEED=-1"),
        ({"batch_size": "32"}, {}, r"BATCH_SIZE='32'"),
        ({"train_samples": 0}, {}, r"TRAIN_SAMPLES=0"),
        ({}, {"resume": True}, r"RESUME=1 \(--resume\) and FRESH=1 \(--fresh\) contradict"),
    ],
)
def test_fresh_moves_nothing_when_an_argument_is_bad(tmp_path, mnist_dir, overrides, flags, cause):
    train(tmp_path, mnist_dir)
    before = snapshot(tmp_path / "ckpt")
    with pytest.raises(JobArgumentError, match=cause) as err:
        train(tmp_path, mnist_dir, config=overrides, fresh=True, **flags)
    assert err.value.code == "J2T401"
    assert snapshot(tmp_path / "ckpt") == before and [p.name for p in (tmp_path / "ckpt").iterdir()] == [
        "flax_mlp"
    ]


def test_fresh_moves_nothing_when_the_data_is_missing(tmp_path, mnist_dir):
    train(tmp_path, mnist_dir)
    before = snapshot(tmp_path / "ckpt")
    with pytest.raises(DataIntegrityError):
        train_and_evaluate(
            TrainConfig(model="flax_mlp", **QUICK), tmp_path / "nodata", tmp_path / "ckpt", fresh=True
        )
    assert snapshot(tmp_path / "ckpt") == before


def test_a_step_saved_without_its_record_is_recorded_when_next_used(tmp_path, mnist_dir, capsys):
    """A kill between Orbax's commit and the record leaves a whole step without one: valid, and the
    next run that restores it records it."""
    train(tmp_path, mnist_dir, config={"epochs": 2})
    step_dir = tmp_path / "ckpt" / "flax_mlp" / "16"
    (step_dir / checkpoint_files.RECORD).unlink()
    (step_dir / ".jax2tfjs_files.json.123-abc.tmp").write_text("{")  # a killed record write
    capsys.readouterr()
    assert train(tmp_path, mnist_dir, config={"epochs": 2})["up_to_date"] is True
    out = capsys.readouterr().out
    assert "removed" in out and "step 16 had no file record" in out
    record = checkpoint_files.read_record(step_dir)
    assert record["note"].startswith("recorded by a later training run")
    assert checkpoint_files.hash_problems(step_dir, record) == []
    assert not list(step_dir.glob(".*.tmp"))


def test_fresh_leaves_a_folder_holding_only_the_jobs_lock_in_place(tmp_path, mnist_dir):
    directory = tmp_path / "ckpt" / "flax_mlp"
    directory.mkdir(parents=True)
    (directory / ".jax2tfjs.lock").write_text("{}")  # what train jobs before the lock moved beside it left
    train(tmp_path, mnist_dir, fresh=True)
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["flax_mlp"]
    assert checkpoints.finished_steps(directory) == [8]
