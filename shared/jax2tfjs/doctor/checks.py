"""`doctor`: check a checkpoint folder or an export folder without converting it, and list findings
(`doctor.checkpoint` and `doctor.export` hold the checks; `findings` the result type and its rendering).
"""

from __future__ import annotations

from pathlib import Path

from jax2tfjs import checkpoints
from jax2tfjs.doctor.export import check_export
from jax2tfjs.doctor.findings import ERROR, OK, WARNING, Finding, from_error, healthy, render
from jax2tfjs.errors import CheckpointError, ModelInputError

__all__ = ["ERROR", "OK", "WARNING", "Finding", "examine", "healthy", "kind_of", "render"]


def kind_of(path: Path) -> str | None:
    """'export', 'checkpoint' or None."""
    if (path / "model.json").exists() or any(path.glob("group*-shard*.bin")):
        return "export"
    if (
        checkpoints.TMP_MARKER in path.name
        or (path / checkpoints.STATE_ITEM).exists()
        or (path / "_CHECKPOINT_METADATA").exists()
        or checkpoints.finished_steps(path)
        or checkpoints.interrupted_saves(path)
    ):
        return "checkpoint"
    return None


def examine(path: str | Path, *, golden: bool = False, backend: str = "wasm") -> tuple[str, list[Finding]]:
    """(kind, findings) for a checkpoint or export folder."""
    path = Path(path)
    if not path.exists():
        err = CheckpointError(
            "the folder does not exist",
            fix="pass a checkpoint (volumes/checkpoints/<model>[/<step>]) or an export "
            "(volumes/exports/<model>/<quantization>)",
            path=path,
        )
        return "missing", [from_error("folder", err)]
    kind = kind_of(path) if path.is_dir() else None
    if kind == "export":
        return kind, check_export(path, golden=golden, backend=backend)
    if kind == "checkpoint":
        # Imported here for its cost, not a cycle: JAX and Flax (seconds) only when a checkpoint is checked.
        from jax2tfjs.doctor.checkpoint import check_checkpoint

        return kind, check_checkpoint(path)
    err = ModelInputError(
        "this is neither a checkpoint (state/, _CHECKPOINT_METADATA) nor an export (model.json, shards)",
        fix="pass a checkpoint step folder, a model's checkpoint folder, or an export folder",
        path=path,
    )
    return "unknown", [from_error("folder", err)]
