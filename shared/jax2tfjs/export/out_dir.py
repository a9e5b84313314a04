"""Which `out_dir` a conversion may replace: nothing, an empty folder, or a previous export.

A conversion writes into a staging folder and swaps it in at the end, deleting what stood at
`out_dir` before. That must never be the user's own files: a folder of notes, a whole copy of
volumes/exports, or a plain file. A previous export is recognised by the two files every export
holds, report.json and model.json; anything else is refused before any work is done, and again
right before the swap (the folder may have changed while the model converted).
"""

from __future__ import annotations

import json
from pathlib import Path

from jax2tfjs.errors import OutputFolderError
from jax2tfjs.locks import LOCK_FILE

EXPORT_MARKERS = ("report.json", "model.json")


# What an export folder holds: model.json, weight shards, golden.json, report.json, verify.json.
EXPORT_FILE_SUFFIXES = (".json", ".bin")


def foreign_entries(folder: Path) -> list[str]:
    """Entries of `folder` an export never holds (sub-folders, files other than .json/.bin): a
    folder with any of them is the user's, whatever else it holds."""
    return sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in folder.iterdir()
        if not (p.is_file() and not p.is_symlink() and p.name.endswith(EXPORT_FILE_SUFFIXES))
        and p.name != LOCK_FILE
    )


def looks_like_export(folder: Path) -> bool:
    """Both markers, and nothing an export never holds."""
    return (
        folder.is_dir()
        and not folder.is_symlink()
        and all((folder / marker).is_file() for marker in EXPORT_MARKERS)
        and not foreign_entries(folder)
    )


def is_complete_export(folder: Path) -> bool:
    """Both markers present, model.json readable, and every weight shard it names on disk: what the
    repair of an interrupted swap needs to know before it removes the other copy."""
    if not looks_like_export(folder):
        return False
    try:
        manifest = json.loads((folder / "model.json").read_text()).get("weightsManifest") or []
        shards = [name for group in manifest for name in group["paths"]]
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        return False
    return all((folder / name).is_file() for name in shards)


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
    if not entries or looks_like_export(out_dir):
        return
    foreign = foreign_entries(out_dir)
    if foreign and all((out_dir / marker).is_file() for marker in EXPORT_MARKERS):
        raise OutputFolderError(
            f"out_dir holds an export plus {', '.join(foreign[:5])}"
            f"{f' and {len(foreign) - 5} more' if len(foreign) > 5 else ''}, which an export never holds: "
            "replacing it would delete them",
            fix="move those files out of the export folder, then convert again",
            path=out_dir,
        )
    shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
    raise OutputFolderError(
        f"out_dir holds {shown} — not a jax2tfjs export (no report.json and model.json): "
        "replacing it would delete them",
        fix="pass a new or empty out_dir (e.g. a subfolder), or move those files away first",
        path=out_dir,
    )
