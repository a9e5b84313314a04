"""Orbax checkpoints under `volumes/checkpoints/<model>/<step>/`: `state/` (params + optimizer
state), `metadata/` (JSON: model, config, input spec, labels, metrics, data, versions) and our file
record `jax2tfjs_files.json` (each file's size and sha256; `checkpoint_files`).

Orbax writes each step into `<step>.orbax-checkpoint-tmp` and renames it when complete, so a kill
mid-save leaves only that temporary folder; finished steps stay readable. A save counts only once
read back (`save` → `confirm_saved`); a step is used only when whole and its files have their
recorded sizes (`step_problem`), and a model's folder must hold that model (`check_model`). The
tools here read the metadata as plain JSON (fast, and no model needed) and restore arrays without a
target.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jax2tfjs import checkpoint_files
from jax2tfjs.errors import CheckpointError, CheckpointModelError, VolumeError
from jax2tfjs.faults import ENV as FAULT_ENV
from jax2tfjs.faults import fault_point
from jax2tfjs.jobkit import volume_error
from jax2tfjs.models import model_names, resolve_name
from jax2tfjs.prepare.locate import locate
from jax2tfjs.prepare.trees import children, dtype_name, fmt, get, leaf_rows, shape_of, unfreeze

if TYPE_CHECKING:
    import orbax.checkpoint as ocp


def _orbax():  # -> the orbax.checkpoint module
    """orbax.checkpoint, imported on first use: converting a module or a function never needs it,
    and importing it costs every converter process about 25 MB and 0.3 s (measured)."""
    import orbax.checkpoint

    return orbax.checkpoint


KEEP_LAST = 3
STATE_ITEM = "state"
METADATA_ITEM = "metadata"
ORBAX_MARKER = "_CHECKPOINT_METADATA"  # Orbax writes it into every step it commits
TMP_MARKER = ".orbax-checkpoint-tmp"
_STEP_DIR = re.compile(r"^\d+$")
# `--fresh` moves a model's folder aside to `<model>.replaced-<UTC time>[-<n>]`.
ASIDE_MARKER = ".replaced-"
_ASIDE_DIR = re.compile(r"^(?P<model>.+)\.replaced-\d{8}-\d{6}(-\d+)?$")


def model_dir(root: str | Path, model: str) -> Path:
    return Path(root) / resolve_name(model)


def open_manager(directory: str | Path) -> ocp.CheckpointManager:
    """A manager that keeps the last KEEP_LAST steps (not the best: the newest are what resume needs)."""
    # cleanup_tmp_directories: Orbax removes what a killed save left behind (training removes and
    # reports it first; this is the backstop).
    orbax = _orbax()
    options = orbax.CheckpointManagerOptions(max_to_keep=KEEP_LAST, create=True, cleanup_tmp_directories=True)
    return orbax.CheckpointManager(Path(directory).absolute(), options=options)


def save(manager: ocp.CheckpointManager, step: int, state: Any, metadata: dict[str, Any]) -> Path:
    """Save `step` and confirm it by reading back what Orbax committed, then record its files.

    Returns the step folder, or raises: CheckpointError when Orbax skipped or lost the save (it
    returns False, for one, when its folder already lists a step at or past this one), VolumeError
    when the disk refused. Never returns for a save that is not on disk.
    """
    step_dir = Path(manager.directory) / str(step)
    try:
        fault_point("checkpoints.save.before", step_dir)
        with _rename_fault_points(step):
            started = manager.save(
                step,
                args=_orbax().args.Composite(
                    **{
                        STATE_ITEM: _orbax().args.StandardSave(state),
                        METADATA_ITEM: _orbax().args.JsonSave(metadata),
                    }
                ),
            )
            manager.wait_until_finished()
    except OSError as err:
        raise _volume_error(step_dir, err, "saving it") from err
    except Exception as err:  # orbax raises many types; all mean the save failed
        raise _save_failed(step_dir, f"Orbax raised {type(err).__name__}: {str(err)[:300]}") from err
    if not started:
        raise _save_failed(
            step_dir,
            f"Orbax skipped it: the folder already lists step {manager.latest_step()}, at or past {step}",
        )
    fault_point("checkpoints.save.committed", step_dir)
    confirm_saved(step_dir, state, metadata)
    try:
        checkpoint_files.write_record(step_dir)
    except OSError as err:
        raise _volume_error(step_dir, err, "recording its files (the step itself is saved)") from err
    return step_dir


@contextlib.contextmanager
def _rename_fault_points(step: int) -> Iterator[None]:
    """Test-only: a fault point before each of Orbax's renames of a save (the `metadata` and `state`
    items inside `<step>.orbax-checkpoint-tmp`, then that folder to `<step>`: the commit), named
    checkpoints.save.rename.{metadata,state,step}. Orbax's own rename is wrapped for the save only,
    and only while a fault is armed: a user's run never touches Orbax's internals."""
    if not os.environ.get(FAULT_ENV):
        yield
        return
    from orbax.checkpoint._src.path import async_path

    original = async_path.rename

    async def rename(src, dst):  # Orbax's async_path.rename(src, dst)
        fault_point(f"checkpoints.save.rename.{'step' if dst.name == str(step) else dst.name}", dst)
        return await original(src, dst)

    async_path.rename = rename
    try:
        yield
    finally:
        async_path.rename = original


def confirm_saved(step_dir: Path, state: Any, metadata: dict[str, Any]) -> None:
    """Read back what Orbax committed: a finished step folder, the metadata as saved, and the
    state's arrays with the saved shapes and dtypes (from Orbax's array metadata: no array is read)."""
    problem = step_problem(step_dir)
    if problem:
        raise _save_failed(step_dir, f"the folder Orbax committed is not whole: {problem}")
    leftover = [p.name for p in interrupted_saves(step_dir.parent) if p.name.startswith(f"{step_dir.name}.")]
    if leftover:
        raise _save_failed(step_dir, f"Orbax left {', '.join(leftover)} behind")
    if read_metadata(step_dir) != json.loads(json.dumps(metadata)):
        raise _save_failed(step_dir, "its metadata reads back different from what was saved")
    import jax

    try:
        saved = _orbax().handlers.StandardCheckpointHandler().metadata(step_dir.absolute() / STATE_ITEM).tree
    except Exception as err:  # orbax raises many types; all mean the state cannot be read back
        raise _save_failed(step_dir, f"its state's metadata cannot be read back: {err}") from err
    wanted = sorted((shape_of(leaf), dtype_name(leaf)) for leaf in jax.tree.leaves(state))
    found = sorted((tuple(leaf.shape), np.dtype(leaf.dtype).name) for leaf in jax.tree.leaves(saved))
    if wanted != found:
        raise _save_failed(
            step_dir,
            f"its state reads back as {len(found)} arrays, not the {len(wanted)} saved (or other shapes)",
        )


def has_file_record(step_dir: Path) -> bool:
    return (step_dir / checkpoint_files.RECORD).exists()


def record_files(step_dir: Path, note: str) -> None:
    """Record the files of a step saved without a record (see `checkpoint_files`)."""
    try:
        checkpoint_files.write_record(step_dir, note=note)
    except OSError as err:
        raise _volume_error(step_dir, err, "recording its files") from err


def remove_leftovers(directory: Path) -> list[str]:
    """Remove what killed saves left in a model folder (Orbax's temporary step folders, temporaries
    of a file record); returns what was removed, for the job to say. Finished steps are untouched."""
    removed = []
    for tmp in interrupted_saves(directory):
        shutil.rmtree(tmp)
        removed.append(tmp.name)
    for step in step_folders(directory):
        for tmp in checkpoint_files.record_temporaries(directory / str(step)):
            tmp.unlink()
            removed.append(f"{step}/{tmp.name}")
    return removed


def _save_failed(step_dir: Path, cause: str) -> CheckpointError:
    return CheckpointError(
        f"saving step {step_dir.name} failed: {cause}; nothing was saved for this epoch",
        fix=f"run `make doctor DIR={step_dir.parent}` and `make check` to see the folder's steps; "
        "move a damaged step folder out of the way, then train again with RESUME=1",
        path=step_dir,
    )


def _volume_error(step_dir: Path, err: OSError, doing: str) -> VolumeError:
    """The job's volume error (the fix for this errno: jobkit.VOLUME_FIXES) told for a checkpoint."""
    name = errno.errorcode.get(err.errno or 0, "?")
    typed = volume_error(err)
    fix = typed.fix if typed is not None else "check the checkpoints volume (`df -h`, its permissions)"
    return VolumeError(
        f"checkpoint step {step_dir.name}: {doing} failed: {err.strerror or err} ({name})",
        fix=f"{fix}; then train again with RESUME=1 (the steps saved before are intact)",
        path=step_dir,
    )


def restore_state(step_dir: Path, abstract_state: Any) -> Any:
    """The state pytree of a validated step folder, shaped like `abstract_state`."""
    validate(step_dir)
    try:
        return _orbax().StandardCheckpointer().restore(step_dir.absolute() / STATE_ITEM, abstract_state)
    except Exception as err:  # orbax raises many types; all mean the same to the user
        raise _corrupt(step_dir, err) from err


def restore_raw(step_dir: Path) -> Any:
    """The state saved in a step folder, restored without a target (as saved: dicts, no FrozenDict)."""
    try:
        return _orbax().StandardCheckpointer().restore(step_dir.absolute() / STATE_ITEM)
    except Exception as err:  # orbax raises many types; all mean the same to the user
        raise _corrupt(step_dir, err) from err


def read_metadata(step_dir: Path) -> dict[str, Any]:
    path = step_dir / METADATA_ITEM / METADATA_ITEM
    try:
        meta = json.loads(path.read_text())
        if not isinstance(meta, dict):
            raise ValueError(f"it holds a JSON {type(meta).__name__}, not an object")
    except (OSError, ValueError) as err:
        raise CheckpointError(
            f"its metadata ({path}) is unreadable: {err}",
            fix=_fix_listing(step_dir),
            path=step_dir,
        ) from err
    return meta


def step_folders(directory: Path) -> list[int]:
    """Every folder named like a step (finished or not), oldest first: what Orbax counts as steps."""
    if not directory.is_dir():
        return []
    return sorted(int(p.name) for p in directory.iterdir() if p.is_dir() and _STEP_DIR.match(p.name))


def finished_steps(directory: Path) -> list[int]:
    """Steps Orbax committed, oldest first (temporary folders of interrupted saves skipped)."""
    return [step for step in step_folders(directory) if (directory / str(step) / ORBAX_MARKER).exists()]


def damaged_steps(directory: Path) -> dict[int, str]:
    """step → why, for step folders that cannot be used (partial, or files differing from their record)."""
    found = {}
    for step in step_folders(directory):
        problem = step_problem(directory / str(step))
        if problem:
            found[step] = problem
    return found


def interrupted_saves(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob(f"*{TMP_MARKER}*")) if directory.is_dir() else []


def available(root: str | Path) -> list[str]:
    """'model/step' for every finished checkpoint under root."""
    root = Path(root)
    if not root.is_dir():
        return []
    return [
        f"{d.name}/{step}"
        for d in sorted(root.iterdir())
        if d.is_dir() and not _ASIDE_DIR.match(d.name)
        for step in finished_steps(d)
    ]


def _fix_listing(step_dir: Path) -> str:
    root = step_dir.parent.parent
    found = available(root)
    listing = ", ".join(found) if found else f"none under {root}"
    return f"pick a finished checkpoint (existing: {listing}), or run `make train` to create one"


def _corrupt(step_dir: Path, err: Exception) -> CheckpointError:
    return CheckpointError(
        f"the checkpoint is corrupt; restoring it failed with {type(err).__name__}: {str(err)[:300]}",
        fix=_fix_listing(step_dir),
        path=step_dir,
    )


def step_problem(step_dir: Path, *, check_files: bool = True) -> str | None:
    """Why the step folder cannot be used (partial, or files unlike their record), None when it can.
    Cheap: names and sizes only (`doctor` compares hashes)."""
    contents = {p.name for p in step_dir.iterdir()} if step_dir.is_dir() else set()
    if not contents:
        return "the folder is empty" if step_dir.is_dir() else "the folder does not exist"
    # Metadata is ours; a checkpoint saved by other code (a Flax TrainState, say) may lack it.
    missing = [item for item in (STATE_ITEM, ORBAX_MARKER) if item not in contents]
    if missing:
        return f"the checkpoint is partial: {', '.join(missing)} missing"
    if not check_files:
        return None
    try:
        problems = file_problems(step_dir)
    except CheckpointError as err:
        return err.cause
    return corrupt_cause(problems) if problems else None


def file_problems(step_dir: Path, *, hashes: bool = False) -> list[str] | None:
    """How the step's files differ from their record (sizes; with `hashes`, contents too): [] when
    they match, None when the step has no record. A CheckpointError when the record is unreadable."""
    record = checkpoint_files.read_record(step_dir)
    if record is None:
        return None
    check = checkpoint_files.hash_problems if hashes else checkpoint_files.size_problems
    return check(step_dir, record)


def corrupt_cause(problems: list[str]) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"the checkpoint is corrupt: {problems[0]}{more}"


def validate(step_dir: str | Path, *, check_files: bool = True) -> Path:
    """`step_dir` if it is a whole, finished checkpoint whose files have their recorded sizes, else
    a CheckpointError saying why (`check_files=False`: the folder's structure only)."""
    step_dir = Path(step_dir)

    def fail(cause: str) -> CheckpointError:
        return CheckpointError(cause, fix=_fix_listing(step_dir), path=step_dir)

    if not step_dir.exists():
        raise fail("the folder does not exist")
    if not step_dir.is_dir():
        raise fail("this is a file, not a checkpoint folder")
    if TMP_MARKER in step_dir.name:
        raise fail("this is the temporary folder of a save that never finished (training was killed)")
    if finished_steps(step_dir):
        raise fail("this is a model folder holding several checkpoints; name one step folder inside it")
    problem = step_problem(step_dir, check_files=check_files)
    if problem:
        raise fail(problem)
    return step_dir


def folder_model(step_dir: Path) -> str | None:
    """The registry model a step folder's place names (`<root>/flax_cnn/<step>` → flax_cnn;
    an aside copy `flax_cnn.replaced-…` too), None for a folder of another name."""
    name = step_dir.parent.name
    match = _ASIDE_DIR.match(name)
    name = resolve_name(match["model"] if match else name)
    return name if name in model_names() else None


def held_model(meta: dict[str, Any]) -> str | None:
    """The model a checkpoint's metadata names, None when it names none (not saved by jobs/train)."""
    model = meta.get("model")
    name = model.get("name") if isinstance(model, dict) else None
    return name if isinstance(name, str) else None


def check_model(step_dir: Path, wanted: str, meta: dict[str, Any] | None = None) -> None:
    """A CheckpointModelError when the checkpoint holds another model than `wanted`: exporting or
    resuming it under that name would pass one model off as another."""
    wanted = resolve_name(wanted)
    held = held_model(read_metadata(step_dir) if meta is None else meta)
    if held is not None and held != wanted:
        raise CheckpointModelError(
            f"{step_dir} holds a {held} checkpoint (its metadata says model {held}), not {wanted}",
            fix=f"move it to {step_dir.parent.parent / held}/ and use it as MODEL={held}; for {wanted}, pick "
            f"one of its own steps or train it (existing: {', '.join(available(step_dir.parent.parent)) or 'none'})",
            path=step_dir,
        )


def resolve(
    root: str | Path, ckpt: str | None = None, model: str | None = None, step: int | str | None = None
) -> Path:
    """The step folder named by `ckpt`, or by `model` and `step` (newest when step is None); when a
    model is named, the checkpoint must hold it (CheckpointModelError)."""
    if ckpt:
        step_dir = validate(ckpt)
        if model:
            check_model(step_dir, model)
        return step_dir
    if not model:
        raise CheckpointError(
            "no checkpoint named", fix="pass CKPT=<step folder>, or MODEL=<name> with an optional STEP="
        )
    directory = model_dir(root, model)
    if step is not None and not _STEP_DIR.match(str(step)):
        # A step is a number: `STEP=../flax_mlp/15` would reach into another model's folder.
        raise CheckpointError(
            f"STEP={step} is not a step number",
            fix=f"pass one of the steps of {directory.name}: {', '.join(map(str, finished_steps(directory))) or 'none'}",
            path=directory,
        )
    steps = finished_steps(directory)
    if not steps:
        raise CheckpointError(
            f"no finished checkpoint for model {resolve_name(model)!r}",
            fix=f"run `make train MODEL={model}` (existing: {', '.join(available(root)) or 'none'})",
            path=directory,
        )
    step_dir = validate(directory / str(steps[-1] if step is None else int(step)))
    check_model(step_dir, model)
    return step_dir


def examine(step_dir: str | Path) -> dict[str, Any]:
    """The parameter tree (rows, totals) and metadata of one checkpoint, restored without a target."""
    step_dir = validate(step_dir)
    has_metadata = (step_dir / METADATA_ITEM / METADATA_ITEM).exists()
    metadata = read_metadata(step_dir) if has_metadata else None
    tree = unfreeze(restore_raw(step_dir))
    path = locate(tree).path  # where conversion finds them too, when the model has no expected tree
    rows = leaf_rows(get(tree, path))
    other = {key: leaf_rows(value) for key, value in children(tree) or [] if key != path[0]} if path else {}
    return {
        "checkpoint": str(step_dir),
        "params_path": fmt(path),
        "params": rows,
        "totals": {
            "arrays": len(rows),
            "parameters": sum(r["count"] for r in rows),
            "bytes": sum(r["bytes"] for r in rows),
        },
        "other_state": {
            key: {"arrays": len(v), "bytes": sum(r["bytes"] for r in v)} for key, v in other.items()
        },
        "metadata": metadata,
    }


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def aside_name(directory: Path, now: str) -> Path:
    """Where `--fresh` moves `directory`: `<model>.replaced-<now>`, with `-2`, `-3`… when taken (two
    fresh runs in one second must not collide: renaming onto an empty folder would replace it)."""
    aside = directory.with_name(f"{directory.name}{ASIDE_MARKER}{now}")
    n = 2
    while aside.exists():
        aside = directory.with_name(f"{directory.name}{ASIDE_MARKER}{now}-{n}")
        n += 1
    return aside


def _row(model: str, path: Path, state: str, **fields: Any) -> dict[str, Any]:
    row = {
        "model": model,
        "step": None,
        "epoch": None,
        "test_accuracy": None,
        "bytes": folder_bytes(path),
        "created": None,
        "newest": False,
        "state": state,
        "usable": False,
        "path": str(path),
    }
    return {**row, **fields}


def _step_state(step_dir: Path) -> tuple[str, dict[str, Any]]:
    """(the row's state, the metadata) of one step folder: ok, or what is wrong with it."""
    try:
        meta, unreadable = read_metadata(step_dir), None
    except CheckpointError as err:
        meta, unreadable = {}, f"metadata unreadable: {err.cause.split(': ', 1)[-1]}"
    problem = step_problem(step_dir)
    if problem or unreadable:
        return (problem.replace("the checkpoint is ", "") if problem else unreadable), meta
    wanted, held = folder_model(step_dir), held_model(meta)
    if wanted and held and held != wanted:
        return f"holds {held}", meta
    return ("ok" if has_file_record(step_dir) else "ok (no file record)"), meta


def check(root: str | Path) -> list[dict[str, Any]]:
    """One row per step folder of every model (its state: ok, or what is wrong), plus rows for
    interrupted saves and for folders `--fresh` moved aside. Reads names, sizes and metadata only."""
    root = Path(root)
    rows: list[dict[str, Any]] = []
    if not root.is_dir():
        return rows
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        if _ASIDE_DIR.match(directory.name):
            steps = finished_steps(directory)
            listed = f"steps {', '.join(map(str, steps))}" if steps else "no finished step"
            rows.append(_row(directory.name, directory, f"moved aside by FRESH=1 ({listed}; not used)"))
            continue
        finished = finished_steps(directory)
        for step in step_folders(directory):
            step_dir = directory / str(step)
            state, meta = _step_state(step_dir)
            if step not in finished:
                state += " (not used; move it out of the folder)"
            last = meta["metrics"][-1] if isinstance(meta.get("metrics"), list) and meta["metrics"] else {}
            rows.append(
                _row(
                    directory.name,
                    step_dir,
                    state,
                    step=step,
                    epoch=meta.get("epoch"),
                    test_accuracy=last.get("test_accuracy") if isinstance(last, dict) else None,
                    created=meta.get("created"),
                    newest=bool(finished) and step == finished[-1],
                    usable=state.startswith("ok"),
                )
            )
        for tmp in interrupted_saves(directory):
            rows.append(
                _row(directory.name, tmp, "interrupted save (ignored; removed by the next training run)")
            )
    return rows
