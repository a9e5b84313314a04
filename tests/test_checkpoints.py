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
from jax2tfjs import checkpoint_files, checkpoints
from jax2tfjs.errors import CheckpointError, CheckpointModelError
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


def copy_step(source, target):
    import shutil

    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target)
    return target


def state_file(step_dir):
    """The biggest array file of the step's state (the first layer's kernel)."""
    return max((p for p in (step_dir / "state").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def test_a_save_is_recorded_and_orbax_still_reads_the_step(trained):
    step_dir = trained / "jax_cnn" / "16"
    record = json.loads((step_dir / checkpoint_files.RECORD).read_text())
    assert "metadata/metadata" in record["files"] and "_CHECKPOINT_METADATA" in record["files"]
    assert any(name.startswith("state/") for name in record["files"])
    assert checkpoint_files.hash_problems(step_dir, record) == []
    # Orbax's own manager still lists and restores the step with the record beside its items.
    with ocp.CheckpointManager((trained / "jax_cnn").absolute()) as manager:
        assert manager.all_steps() == [8, 16]
        restored = manager.restore(
            16, args=ocp.args.Composite(state=ocp.args.StandardRestore(), metadata=ocp.args.JsonRestore())
        )
    assert restored["metadata"]["step"] == 16


def test_a_save_orbax_skips_is_an_error_never_saved(trained, tmp_path):
    """Issue 13's repro: a step folder Orbax lists (no _CHECKPOINT_METADATA) at the step being saved
    makes Orbax's save return False; that must not pass for a save."""
    directory = tmp_path / "flax_mlp"
    damaged = copy_step(trained / "flax_mlp" / "8", directory / "8")
    (damaged / "_CHECKPOINT_METADATA").unlink()
    before = {p: p.read_bytes() for p in damaged.rglob("*") if p.is_file()}
    state = checkpoints.restore_raw(trained / "flax_mlp" / "8")
    with pytest.raises(CheckpointError, match="saving step 8 failed: Orbax skipped it") as err:
        checkpoints.save(checkpoints.open_manager(directory), 8, state, {"step": 8})
    assert "nothing was saved" in str(err.value)
    assert {p: p.read_bytes() for p in damaged.rglob("*") if p.is_file()} == before


def test_the_read_back_refuses_other_shapes_and_other_metadata(trained):
    step_dir = trained / "flax_mlp" / "8"
    meta = checkpoints.read_metadata(step_dir)
    state = checkpoints.restore_raw(step_dir)
    checkpoints.confirm_saved(step_dir, state, meta)  # what was saved reads back
    state["params"]["hidden0"]["bias"] = np.zeros(7, np.float32)
    with pytest.raises(CheckpointError, match="state reads back as"):
        checkpoints.confirm_saved(step_dir, state, meta)
    with pytest.raises(CheckpointError, match="metadata reads back different"):
        checkpoints.confirm_saved(step_dir, checkpoints.restore_raw(step_dir), {**meta, "epoch": 99})


def test_a_truncated_or_altered_state_file_is_named_not_ok(trained, tmp_path):
    truncated = copy_step(trained / "jax_cnn" / "16", tmp_path / "jax_cnn" / "16")
    target = state_file(truncated)
    saved = target.stat().st_size
    target.write_bytes(target.read_bytes()[:1234])
    name = target.relative_to(truncated)
    with pytest.raises(CheckpointError, match=f"corrupt: {name} is 1,234 bytes, saved {saved:,}"):
        checkpoints.validate(truncated)
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoints.resolve(tmp_path, model="jax")
    row = next(r for r in checkpoints.check(tmp_path) if r["step"] == 16)
    assert row["state"] == f"corrupt: {name} is 1,234 bytes, saved {saved:,}" and not row["usable"]

    altered = copy_step(trained / "jax_cnn" / "16", tmp_path / "other" / "jax_cnn" / "16")
    target = state_file(altered)
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    checkpoints.validate(altered)  # sizes match: the cheap check cannot see it ...
    problems = checkpoints.file_problems(altered, hashes=True)  # ... the hashes (doctor) do
    assert problems and "differs from what was saved" in problems[0]


def test_steps_without_a_record_are_ok_and_say_so(trained, tmp_path):
    old = copy_step(trained / "flax_mlp" / "8", tmp_path / "flax_mlp" / "8")
    (old / checkpoint_files.RECORD).unlink()
    assert checkpoints.validate(old) == old and checkpoints.file_problems(old) is None
    assert [r["state"] for r in checkpoints.check(tmp_path)] == ["ok (no file record)"]
    (old / checkpoint_files.RECORD).write_text("{not json")
    with pytest.raises(CheckpointError, match=r"file record .* is unreadable"):
        checkpoints.validate(old)


def test_another_models_checkpoint_is_refused_under_a_name_it_does_not_hold(trained, tmp_path):
    copy_step(trained / "flax_mlp" / "8", tmp_path / "flax_cnn" / "8")
    with pytest.raises(CheckpointModelError, match="holds a flax_mlp checkpoint") as err:
        checkpoints.resolve(tmp_path, model="flax")
    assert err.value.code == "J2T204" and "MODEL=flax_mlp" in err.value.fix
    with pytest.raises(CheckpointModelError):
        checkpoints.resolve(tmp_path, ckpt=str(tmp_path / "flax_cnn" / "8"), model="flax_cnn")
    assert checkpoints.check(tmp_path)[0]["state"] == "holds flax_mlp"
    # A step is a number: a path would reach into another model's folder.
    with pytest.raises(CheckpointError, match="not a step number"):
        checkpoints.resolve(trained, model="jax", step="../flax_mlp/8")


def test_check_lists_damaged_steps_aside_folders_and_bad_metadata_without_crashing(trained, tmp_path):
    partial = copy_step(trained / "jax_cnn" / "16", tmp_path / "jax_cnn" / "16")
    copy_step(trained / "jax_cnn" / "8", tmp_path / "jax_cnn" / "8")
    (partial / "_CHECKPOINT_METADATA").unlink()
    listed = copy_step(trained / "flax_mlp" / "8", tmp_path / "flax_mlp" / "8")
    (listed / checkpoint_files.RECORD).unlink()
    (listed / "metadata" / "metadata").write_text("[1, 2]")
    copy_step(trained / "flax_mlp" / "8", tmp_path / "flax_mlp.replaced-20261130-140000" / "8")
    states = {(r["model"], r["step"]): r["state"] for r in checkpoints.check(tmp_path)}
    assert states == {
        ("flax_mlp", 8): "metadata unreadable: it holds a JSON list, not an object",
        ("flax_mlp.replaced-20261130-140000", None): "moved aside by FRESH=1 (steps 8; not used)",
        ("jax_cnn", 8): "ok",
        ("jax_cnn", 16): "partial: _CHECKPOINT_METADATA missing (not used; move it out of the folder)",
    }
    assert checkpoints.damaged_steps(tmp_path / "jax_cnn") == {
        16: "the checkpoint is partial: _CHECKPOINT_METADATA missing"
    }
    assert checkpoints.available(tmp_path) == ["flax_mlp/8", "jax_cnn/8"]


def test_aside_names_never_collide(tmp_path):
    directory = tmp_path / "flax_mlp"
    first = checkpoints.aside_name(directory, "20261130-140000")
    first.mkdir()
    second = checkpoints.aside_name(directory, "20261130-140000")
    second.mkdir()
    assert [first.name, second.name, checkpoints.aside_name(directory, "20261130-140000").name] == [
        "flax_mlp.replaced-20261130-140000",
        "flax_mlp.replaced-20261130-140000-2",
        "flax_mlp.replaced-20261130-140000-3",
    ]


def test_a_fault_at_orbaxs_commit_rename_loses_the_save_not_earlier_steps(trained, tmp_path, monkeypatch):
    """The test-only wrap of Orbax's rename: an errno injected at the step's commit rename fails the
    save with a typed error, leaves only Orbax's temporary folder, and is undone after the save."""
    from orbax.checkpoint._src.path import async_path

    from jax2tfjs.errors import VolumeError

    directory = tmp_path / "flax_mlp"
    copy_step(trained / "flax_mlp" / "8", directory / "8")
    state = checkpoints.restore_raw(directory / "8")
    original = async_path.rename
    monkeypatch.setenv("JAX2TFJS_FAULT_POINT", "checkpoints.save.rename.step:EIO")
    with pytest.raises((VolumeError, CheckpointError), match="step 16"):
        checkpoints.save(checkpoints.open_manager(directory), 16, state, {"step": 16})
    assert async_path.rename is original
    assert checkpoints.finished_steps(directory) == [8] and checkpoints.interrupted_saves(directory)
    monkeypatch.delenv("JAX2TFJS_FAULT_POINT")
    assert checkpoints.remove_leftovers(directory) == ["16.orbax-checkpoint-tmp"]
    checkpoints.save(checkpoints.open_manager(directory), 16, state, {"step": 16})
    assert checkpoints.finished_steps(directory) == [8, 16] and not checkpoints.interrupted_saves(directory)
