"""Which `out_dir` a conversion may replace: nothing, an empty folder, or a previous export.

A conversion writes into a staging folder and swaps it in at the end, deleting what stood at
`out_dir` before. That must never be the user's own files: a folder of notes, a whole copy of
volumes/exports, or a plain file. A previous export is recognised by the two files every export
holds, report.json and model.json; anything else is refused before any work is done, and again
right before the swap (the folder may have changed while the model converted).
"""

from __future__ import annotations

from pathlib import Path

from jax2tfjs.errors import OutputFolderError

EXPORT_MARKERS = ("report.json", "model.json")


def check_replaceable(out_dir: Path) -> None:
    """Raise OutputFolderError unless `out_dir` is absent, an empty folder or a previous export."""
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if not out_dir.is_dir() or out_dir.is_symlink():
        raise OutputFolderError(
            "out_dir is a file (or a link), not a folder: replacing it would delete it",
            fix="pass a new or empty folder as out_dir",
            path=out_dir,
        )
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in out_dir.iterdir())
    if not entries or all((out_dir / marker).is_file() for marker in EXPORT_MARKERS):
        return
    shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
    raise OutputFolderError(
        f"out_dir holds {shown} — not a jax2tfjs export (no report.json and model.json): "
        "replacing it would delete them",
        fix="pass a new or empty out_dir (e.g. a subfolder), or move those files away first",
        path=out_dir,
    )
