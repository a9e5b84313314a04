"""Checkpoint tools and failure modes: check, examine, foreign layouts, bad folders, SIGKILL mid-save."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import jax
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
from flax.core import FrozenDict
from flax.training import train_state

from conftest import ROOT, run, venv_python
from jax2tfjs import checkpoints
from jax2tfjs.errors import CheckpointError
from jax2tfjs.models import get_model
from jax2tfjs.prepare.locate import locate
from jax2tfjs.prepare.trees import natural_key
from jax2tfjs.training import TrainConfig, train_and_evaluate


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_dir):
    """A checkpoint root with 2 epochs of jax_cnn and 1 of flax_mlp (tiny runs)."""
    root = tmp_path_factory.mktemp("ckpt")
    for model, epochs in (("jax_cnn", 2), ("flax_mlp", 1)):
        config = TrainConfig(model=model, epochs=epochs, batch_size=32, train_samples=256)
        train_and_evaluate(config, mnist_dir, root, progress=False)
    return root


def test_check_lists_every_checkpoint_with_its_accuracy_and_the_newest(trained):
    rows = checkpoints.check(trained)
    assert [(r["model"], r["step"], r["epoch"]) for r in rows] == [
        ("flax_mlp", 8, 1),
        ("jax_cnn", 8, 1),
        ("jax_cnn", 16, 2),
    ]
    assert [r["newest"] for r in rows] == [True, False, True]
    assert all(0 < r["test_accuracy"] <= 1 and r["bytes"] > 0 and r["state"] == "ok" for r in rows)


def test_examine_shows_the_tree_totals_and_metadata(trained):
    found = checkpoints.examine(checkpoints.resolve(trained, model="jax", step=16))
    assert found["params_path"] == "params"
    kernel = next(r for r in found["params"] if r["path"] == "dense0/kernel")
    assert kernel == {
        "path": "dense0/kernel",
        "shape": [3136, 128],
        "dtype": "float32",
        "count": 401408,
        "bytes": 1605632,
    }
    assert found["totals"] == {"arrays": 8, "parameters": 421_642, "bytes": 1_686_568}
    assert found["other_state"]["opt_state"]["arrays"] > 0
    assert found["metadata"]["model"]["name"] == "jax_cnn"


def test_cli_check_and_examine_json_parse(trained):
    python = venv_python("train")
    check = run(
        [python, ROOT / "jobs/checkpoints.py", "check", f"--checkpoint_dir={trained}", "--json_output"]
    )
    assert check.returncode == 0, check.stderr
    assert len(json.loads(check.stdout)) == 3
    examine = run(
        [
            python,
            ROOT / "jobs/checkpoints.py",
            "examine",
            "--model=jax",
            "--step=16",
            f"--checkpoint_dir={trained}",
            "--json_output",
        ]
    )
    assert examine.returncode == 0, examine.stderr
    assert json.loads(examine.stdout)["totals"]["parameters"] == 421_642
    text = run(
        [python, ROOT / "jobs/checkpoints.py", "examine", "--model=mlp", f"--checkpoint_dir={trained}"]
    )
    assert "hidden0/kernel" in text.stdout and "784x256" in text.stdout


def save_foreign(path, state):
    with ocp.CheckpointManager(path.absolute(), options=ocp.CheckpointManagerOptions(create=True)) as manager:
        manager.save(1, args=ocp.args.Composite(state=ocp.args.StandardSave(state)))
        manager.wait_until_finished()
    return path / "1"


def test_examine_finds_params_in_a_flax_train_state_and_frozendicts(tmp_path):
    model = get_model("flax_cnn")
    params = model.init(jax.random.key(0))
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(1e-3))
    found = checkpoints.examine(save_foreign(tmp_path / "ts", state))
    assert found["params_path"] == "params" and found["totals"]["parameters"] == 421_642
    assert found["metadata"] is None

    variables = FrozenDict({"params": FrozenDict(params)})
    nested = train_state.TrainState.create(apply_fn=model.apply, params=variables, tx=optax.sgd(0.1))
    found = checkpoints.examine(save_foreign(tmp_path / "nested", nested))
    assert found["params_path"] == "params/params" and found["totals"]["arrays"] == 8


def test_examine_and_conversion_locate_the_params_the_same_way(tmp_path):
    """The optimizer's moments have the params' very structure; `examine` (no model at hand) and the
    key fix (with the model's tree) both take 'params', through the one `locate`."""
    model = get_model("flax_mlp")
    params = jax.tree.map(np.asarray, model.init(jax.random.key(0)))
    moments = jax.tree.map(np.zeros_like, params)
    state = {"step": np.int32(3), "params": params, "opt_state": [{"mu": moments, "nu": moments}]}
    found = checkpoints.examine(save_foreign(tmp_path / "dict", state))
    expected = jax.eval_shape(model.init, jax.random.key(0))
    assert locate(state).path == locate(state, expected).path == ("params",)
    assert found["params_path"] == "params"
    assert found["totals"]["arrays"] == len(jax.tree.leaves(params))
    assert set(found["other_state"]) == {"step", "opt_state"}
    paths = [row["path"] for row in found["params"]]
    assert paths == sorted(paths, key=lambda p: [natural_key(k) for k in p.split("/")])


def test_bad_folders_get_errors_that_name_them_and_list_what_exists(trained, tmp_path):
    cases = {
        tmp_path / "nope": "does not exist",
        tmp_path / "empty": "is empty",
        tmp_path / "partial": "partial: state, _CHECKPOINT_METADATA missing",
        tmp_path / "5.orbax-checkpoint-tmp": "never finished",
    }
    (tmp_path / "empty").mkdir()
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "metadata").mkdir()
    (tmp_path / "5.orbax-checkpoint-tmp").mkdir()
    for folder, cause in cases.items():
        with pytest.raises(CheckpointError, match=cause) as err:
            checkpoints.examine(folder)
        assert str(folder) in str(err.value)
    with pytest.raises(CheckpointError) as err:
        checkpoints.resolve(trained, model="jax", step=7)
    assert "jax_cnn/8, jax_cnn/16" in err.value.fix and str(trained / "jax_cnn" / "7") in str(err.value)
    with pytest.raises(CheckpointError, match="no finished checkpoint for model 'flax_cnn'"):
        checkpoints.resolve(trained, model="flax")


def test_corrupt_checkpoint_is_reported_not_raised_raw(trained, tmp_path):
    import shutil

    broken = tmp_path / "jax_cnn" / "16"
    shutil.copytree(trained / "jax_cnn" / "16", broken)
    for data_file in (broken / "state").rglob("d/*"):
        data_file.write_bytes(b"\0" * 16)
    with pytest.raises(CheckpointError, match="corrupt") as err:
        checkpoints.examine(broken)
    assert str(broken) in str(err.value)


def test_sigkill_while_saving_leaves_earlier_checkpoints_readable(tmp_path, mnist_dir):
    root = tmp_path / "ckpt"
    cmd = [
        venv_python("train"),
        ROOT / "jobs/train.py",
        "--model=mlp",
        "--epochs=200",
        "--train_samples=64",
        f"--data_dir={mnist_dir}",
        f"--checkpoint_dir={root}",
    ]
    proc = subprocess.Popen(
        [str(c) for c in cmd], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    directory = root / "flax_mlp"
    caught_mid_save = False
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            # Kill only once earlier checkpoints exist and a save is under way.
            if len(checkpoints.finished_steps(directory)) >= 2 and checkpoints.interrupted_saves(directory):
                os.kill(proc.pid, signal.SIGKILL)
                caught_mid_save = True
                break
            time.sleep(0.0005)
    finally:
        proc.kill()
        proc.wait()
    assert caught_mid_save, "never saw a save in progress; the test could not do its job"
    steps = checkpoints.finished_steps(directory)
    assert len(steps) >= 2
    model = get_model("flax_mlp")
    params = model.init(jax.random.key(0))
    template = {"params": params, "opt_state": optax.adam(1e-3).init(params)}
    for step in steps:
        restored = checkpoints.restore_state(directory / str(step), template)
        assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(restored["params"]))
        assert checkpoints.read_metadata(directory / str(step))["step"] == step
    rows = checkpoints.check(root)
    assert any(r["state"].startswith("interrupted save") for r in rows)
    # Resuming removes the interrupted save and continues after the newest finished step.
    config = TrainConfig(model="flax_mlp", epochs=steps[-1] // 2 + 1, batch_size=32, train_samples=64)
    resumed = train_and_evaluate(config, mnist_dir, root, resume=True, progress=False)
    assert resumed["final_metrics"]["step"] == steps[-1] + 2
    assert not checkpoints.interrupted_saves(directory)
