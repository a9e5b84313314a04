"""Fault table of the checkpoints: kills at each instant of a save, damaged and foreign checkpoints,
and `--fresh` with a bad argument. Each row runs the real jobs on its own copy of the base volumes
(flax_mlp trained 2 epochs on 256 digits: steps 8 and 16, and its exports).

A killed save is repaired by the next `train --resume`, which adds step 24 to the checkpoints
volume: those rows keep `data` and `exports` byte-identical through the harness and compare the
earlier steps themselves (`earlier_steps_intact`), from a snapshot their setup takes.
"""

from __future__ import annotations

import json
import shutil

import pytest
from faultkit import Case, base_volumes_fixture, case_volumes, run_case, snapshot

from jax2tfjs import checkpoint_files, checkpoints

base_volumes = pytest.fixture(scope="session")(base_volumes_fixture)

MODEL_DIR = "flax_mlp"


def train(*flags, data="{data}"):
    return (
        "{train}", "jobs/train.py", "--model=mlp", "--train-samples=256", f"--data-dir={data}",
        "--checkpoint-dir={checkpoints}", *flags,
    )  # fmt: skip


RESUME = train("--epochs=3", "--resume")
CHECK = ("{train}", "jobs/checkpoints.py", "check", "--checkpoint-dir={checkpoints}")
CONVERT = (
    "{convert}", "jobs/convert.py", "--quantization=none", "--data-dir={data}",
    "--checkpoint-dir={checkpoints}", "--export-dir={exports}",
)  # fmt: skip
DOCTOR = ("{convert}", "jobs/doctor.py", "{checkpoints}/flax_mlp")
KEPT = ("data", "exports")  # what a repaired kill leaves byte-identical; the old steps are compared apart


def model_dir(volumes):
    return volumes.checkpoints / MODEL_DIR


def newest(volumes):
    return model_dir(volumes) / str(checkpoints.finished_steps(model_dir(volumes))[-1])


def biggest_state_file(step_dir):
    return max((p for p in (step_dir / "state").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


# --- damage, done in setup -------------------------------------------------------------------------


def remember_steps(volumes):
    """Snapshot every finished step, for `earlier_steps_intact`."""
    steps = {
        str(s): snapshot(model_dir(volumes) / str(s)) for s in checkpoints.finished_steps(model_dir(volumes))
    }
    assert list(steps) == ["8", "16"], f"the base volumes changed: steps {list(steps)}"
    (volumes.tmp / "steps.json").write_text(json.dumps(steps))


def remove_orbax_marker(volumes):
    (newest(volumes) / checkpoints.ORBAX_MARKER).unlink()


def truncate_state_file(volumes):
    target = biggest_state_file(newest(volumes))
    target.write_bytes(target.read_bytes()[:1234])


def alter_state_file(volumes):
    target = biggest_state_file(newest(volumes))
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))


def garble_metadata(volumes):
    """Damaged metadata JSON in a step saved before file records (no record to tell it by size)."""
    (newest(volumes) / checkpoint_files.RECORD).unlink()
    (newest(volumes) / "metadata" / "metadata").write_text('{"model": {"name": "flax_mlp"')


def mlp_into_flax_cnn(volumes):
    shutil.copytree(model_dir(volumes), volumes.checkpoints / "flax_cnn")


# --- assertions after the command (and its repair) -------------------------------------------------


def earlier_steps_intact(volumes, result):
    """Steps 8 and 16 byte-identical; every step listed by `check` usable and recorded; no step 24
    left half-made (the harness also fails on leftover temporaries)."""
    before = json.loads((volumes.tmp / "steps.json").read_text())
    for step, files in before.items():
        assert snapshot(model_dir(volumes) / step) == files, f"step {step} changed"
    rows = [r for r in checkpoints.check(volumes.checkpoints) if r["model"] == MODEL_DIR]
    assert all(r["usable"] for r in rows), rows
    assert all(r["state"] == "ok" for r in rows), f"a step is left without its file record: {rows}"


def step_24_saved_whole(volumes, result):
    earlier_steps_intact(volumes, result)
    assert checkpoints.finished_steps(model_dir(volumes)) == [8, 16, 24]


def nothing_moved_aside(volumes, result):
    assert sorted(p.name for p in volumes.checkpoints.iterdir() if p.is_dir()) == [MODEL_DIR]


def killed_save(point, *, repaired_step_24=True):
    """kill -9 at `point` of the save of step 24; the next `train --resume` repairs."""
    return Case(
        name=f"kill -9 at {point}, then resume",
        command=RESUME,
        env={"JAX2TFJS_FAULT_POINT": point},
        exit_code=-9,
        intact=KEPT,
        setup=remember_steps,
        repair=RESUME,
        check=step_24_saved_whole if repaired_step_24 else earlier_steps_intact,
    )


CASES = [
    # A kill at each instant of a save: before Orbax starts, before each of Orbax's three renames
    # (metadata item, state item, then `24.orbax-checkpoint-tmp` → `24`: the commit), after the
    # commit before our read-back, and with the file record's temporary written but not renamed.
    killed_save("checkpoints.save.before"),
    killed_save("checkpoints.save.rename.metadata"),
    killed_save("checkpoints.save.rename.state"),
    killed_save("checkpoints.save.rename.step"),
    killed_save("checkpoints.save.committed"),
    killed_save("checkpoints.save.record"),
    Case(
        name="disk full when the save starts: typed error, earlier steps intact",
        command=RESUME,
        env={"JAX2TFJS_FAULT_POINT": "checkpoints.save.before:ENOSPC"},
        exit_code=2,
        error_code="J2T402",
        output_has=("checkpoint step 24: saving it failed",),
        setup=remember_steps,
        check=earlier_steps_intact,
    ),
    Case(
        name="newest step without _CHECKPOINT_METADATA, resume: typed error naming it, never 'saved'",
        command=RESUME,
        exit_code=2,
        error_code="J2T202",
        setup=remove_orbax_marker,
        output_has=("checkpoint step 16 is damaged", "16.damaged`", "training resumes from step 8"),
        check=lambda volumes, result: (
            None if "saved" not in result.stdout else pytest.fail("a false 'saved' was printed")
        ),
    ),
    Case(
        name="newest step without _CHECKPOINT_METADATA: check lists it as partial",
        command=CHECK,
        exit_code=0,
        setup=remove_orbax_marker,
        output_has=("partial: _CHECKPOINT_METADATA missing (not used",),
    ),
    Case(
        name="truncated state file: check reports it corrupt with both sizes",
        command=CHECK,
        exit_code=0,
        setup=truncate_state_file,
        output_has=("corrupt: state/", "is 1,234 bytes, saved "),
    ),
    Case(
        name="truncated state file: convert refuses",
        command=(*CONVERT, "--model=mlp"),
        exit_code=2,
        error_code="J2T202",
        setup=truncate_state_file,
        output_has=("the checkpoint is corrupt: state/",),
    ),
    Case(
        name="truncated state file: resume refuses, naming the step",
        command=RESUME,
        exit_code=2,
        error_code="J2T202",
        setup=truncate_state_file,
        output_has=("checkpoint step 16 is damaged (the checkpoint is corrupt: state/",),
    ),
    Case(
        name="state file altered, same size: doctor's hashes catch it",
        command=DOCTOR,
        exit_code=2,
        error_code="J2T202",
        setup=alter_state_file,
        output_has=("differs from what was saved",),
    ),
    Case(
        name="MLP checkpoint copied into flax_cnn/: convert --model=flax refuses",
        command=(*CONVERT, "--model=flax"),
        exit_code=2,
        error_code="J2T204",
        setup=mlp_into_flax_cnn,
        output_has=("holds a flax_mlp checkpoint",),
    ),
    Case(
        name="MLP checkpoint copied into flax_cnn/: check shows what it holds",
        command=CHECK,
        exit_code=0,
        setup=mlp_into_flax_cnn,
        output_has=("holds flax_mlp",),
    ),
    Case(
        name="MLP checkpoint copied into flax_cnn/: doctor reports an error",
        command=("{convert}", "jobs/doctor.py", "{checkpoints}/flax_cnn"),
        exit_code=2,
        error_code="J2T204",
        setup=mlp_into_flax_cnn,
    ),
    Case(
        name="damaged metadata JSON of the newest step, resume: typed error",
        command=RESUME,
        exit_code=2,
        error_code="J2T202",
        setup=garble_metadata,
        output_has=("checkpoint step 16: its metadata", "is unreadable"),
    ),
    Case(
        name="damaged metadata JSON of the newest step: check lists it unreadable",
        command=CHECK,
        exit_code=0,
        setup=garble_metadata,
        output_has=("metadata unreadable",),
    ),
    Case(
        name="FRESH with a missing data folder moves nothing",
        command=train("--epochs=2", "--fresh", data="{tmp}/nodata"),
        exit_code=2,
        error_code="J2T102",
        check=nothing_moved_aside,
    ),
    Case(
        name="FRESH with EPOCHS=0 moves nothing",
        command=train("--epochs=0", "--fresh"),
        exit_code=2,
        error_code="J2T401",
        check=nothing_moved_aside,
    ),
    Case(
        name="FRESH with RESUME moves nothing",
        command=train("--epochs=2", "--fresh", "--resume"),
        exit_code=2,
        error_code="J2T401",
        check=nothing_moved_aside,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fault(case, base_volumes, tmp_path):
    run_case(case, case_volumes(base_volumes, tmp_path))
