"""Training on real digits: checkpoints with metadata, determinism, resume, existing-run safety.

Runs are tiny (256 images, batch 32: 8 steps an epoch) so the suite stays fast; the quality bar
(≥ 96.5 % after 5 full epochs) is checked by `make train`, not here.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jax2tfjs import checkpoints
from jax2tfjs.errors import TrainingStateError
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
