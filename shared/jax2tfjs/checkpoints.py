"""Orbax checkpoints under `volumes/checkpoints/<model>/<step>/`: `state/` (params + optimizer
state) and `metadata/` (JSON: model, config, input spec, labels, metrics, data, versions).

Orbax writes each step into `<step>.orbax-checkpoint-tmp` and renames it when complete, so a kill
mid-save leaves only that temporary folder; finished steps stay readable. The tools here read the
metadata as plain JSON (fast, and no model needed) and restore arrays without a target.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jax2tfjs.errors import CheckpointError
from jax2tfjs.models import resolve_name
from jax2tfjs.prepare.locate import locate
from jax2tfjs.prepare.trees import children, fmt, get, leaf_rows, unfreeze

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
TMP_MARKER = ".orbax-checkpoint-tmp"
_STEP_DIR = re.compile(r"^\d+$")


def model_dir(root: str | Path, model: str) -> Path:
    return Path(root) / resolve_name(model)


def open_manager(directory: str | Path) -> ocp.CheckpointManager:
    """A manager that keeps the last KEEP_LAST steps (not the best: the newest are what resume needs)."""
    # cleanup_tmp_directories: the next run removes what a killed save left behind.
    orbax = _orbax()
    options = orbax.CheckpointManagerOptions(max_to_keep=KEEP_LAST, create=True, cleanup_tmp_directories=True)
    return orbax.CheckpointManager(Path(directory).absolute(), options=options)


def save(manager: ocp.CheckpointManager, step: int, state: Any, metadata: dict[str, Any]) -> None:
    manager.save(
        step,
        args=_orbax().args.Composite(
            **{STATE_ITEM: _orbax().args.StandardSave(state), METADATA_ITEM: _orbax().args.JsonSave(metadata)}
        ),
    )
    manager.wait_until_finished()


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
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(
            f"its metadata ({path}) is unreadable: {err}",
            fix=_fix_listing(step_dir),
            path=step_dir,
        ) from err


def finished_steps(directory: Path) -> list[int]:
    """Steps with a complete folder, oldest first (temporary folders of interrupted saves skipped)."""
    if not directory.is_dir():
        return []
    return sorted(
        int(p.name)
        for p in directory.iterdir()
        if p.is_dir() and _STEP_DIR.match(p.name) and (p / "_CHECKPOINT_METADATA").exists()
    )


def interrupted_saves(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob(f"*{TMP_MARKER}*")) if directory.is_dir() else []


def available(root: str | Path) -> list[str]:
    """'model/step' for every finished checkpoint under root."""
    root = Path(root)
    if not root.is_dir():
        return []
    return [f"{d.name}/{step}" for d in sorted(root.iterdir()) if d.is_dir() for step in finished_steps(d)]


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


def validate(step_dir: str | Path) -> Path:
    """`step_dir` if it looks like a finished checkpoint, else a CheckpointError saying why."""
    step_dir = Path(step_dir)

    def fail(cause: str) -> CheckpointError:
        return CheckpointError(cause, fix=_fix_listing(step_dir), path=step_dir)

    if not step_dir.exists():
        raise fail("the folder does not exist")
    if not step_dir.is_dir():
        raise fail("this is a file, not a checkpoint folder")
    if TMP_MARKER in step_dir.name:
        raise fail("this is the temporary folder of a save that never finished (training was killed)")
    contents = {p.name for p in step_dir.iterdir()}
    if not contents:
        raise fail("the folder is empty")
    if finished_steps(step_dir):
        raise fail("this is a model folder holding several checkpoints; name one step folder inside it")
    # Metadata is ours; a checkpoint saved by other code (a Flax TrainState, say) may lack it.
    missing = [item for item in (STATE_ITEM, "_CHECKPOINT_METADATA") if item not in contents]
    if missing:
        raise fail(f"the checkpoint is partial: {', '.join(missing)} missing")
    return step_dir


def resolve(
    root: str | Path, ckpt: str | None = None, model: str | None = None, step: int | None = None
) -> Path:
    """The step folder named by `ckpt`, or by `model` and `step` (newest when step is None)."""
    if ckpt:
        return validate(ckpt)
    if not model:
        raise CheckpointError(
            "no checkpoint named", fix="pass CKPT=<step folder>, or MODEL=<name> with an optional STEP="
        )
    directory = model_dir(root, model)
    steps = finished_steps(directory)
    if not steps:
        raise CheckpointError(
            f"no finished checkpoint for model {resolve_name(model)!r}",
            fix=f"run `make train MODEL={model}` (existing: {', '.join(available(root)) or 'none'})",
            path=directory,
        )
    return validate(directory / str(steps[-1] if step is None else step))


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


def check(root: str | Path) -> list[dict[str, Any]]:
    """One row per finished checkpoint of every model, plus rows for interrupted saves."""
    root = Path(root)
    rows: list[dict[str, Any]] = []
    if not root.is_dir():
        return rows
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        steps = finished_steps(directory)
        for step in steps:
            step_dir = directory / str(step)
            try:
                meta = read_metadata(step_dir)
                last = meta["metrics"][-1] if meta.get("metrics") else {}
                state = "ok"
            except CheckpointError:
                meta, last, state = {}, {}, "metadata unreadable"
            rows.append(
                {
                    "model": directory.name,
                    "step": step,
                    "epoch": meta.get("epoch"),
                    "test_accuracy": last.get("test_accuracy"),
                    "bytes": folder_bytes(step_dir),
                    "created": meta.get("created"),
                    "newest": step == steps[-1],
                    "state": state,
                    "path": str(step_dir),
                }
            )
        for tmp in interrupted_saves(directory):
            rows.append(
                {
                    "model": directory.name,
                    "step": None,
                    "epoch": None,
                    "test_accuracy": None,
                    "bytes": folder_bytes(tmp),
                    "created": None,
                    "newest": False,
                    "state": "interrupted save (ignored; removed by the next training run)",
                    "path": str(tmp),
                }
            )
    return rows
