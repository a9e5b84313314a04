"""The file record of a checkpoint step: each file's size and sha256, written into the step folder
(`jax2tfjs_files.json`) once Orbax has committed the step, so that a file truncated or altered later
is named ("state/d/1a2b is 1,234 bytes, saved 5,678") instead of restored as garbage or called ok.

Sizes are checked whenever a step is used (a few `stat` calls); hashes only by `doctor`, which reads
every byte. A step saved before records existed, or one whose save was killed after Orbax's commit
and before its record, has none: it is taken as it is ("no file record"), and the next training run
that uses it records it once it restores. Orbax ignores the extra file (its steps are folders).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from jax2tfjs.atomic import atomic_path
from jax2tfjs.errors import CheckpointError
from jax2tfjs.faults import fault_point
from jax2tfjs.hashing import sha256_file

RECORD = "jax2tfjs_files.json"
FORMAT = 1
# atomic_path's temporary for the record: `.jax2tfjs_files.json.<random>.tmp`.
_RECORD_TMP_GLOB = f".{RECORD}.*.tmp"


def _recorded_files(step_dir: Path) -> list[Path]:
    """Every file of the step but the record and its temporaries."""
    return sorted(
        p for p in step_dir.rglob("*") if p.is_file() and p.name != RECORD and not p.match(_RECORD_TMP_GLOB)
    )


def write_record(step_dir: Path, note: str | None = None) -> dict[str, Any]:
    """Record the size and sha256 of every file in `step_dir` (atomically: a kill leaves either no
    record or a whole one, plus a temporary the next training run removes)."""
    files = {
        str(path.relative_to(step_dir)): {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        for path in _recorded_files(step_dir)
    }
    record = {
        "format": FORMAT,
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": files,
    }
    if note:
        record["note"] = note
    with atomic_path(step_dir / RECORD) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        fault_point("checkpoints.save.record", step_dir)
    return record


def read_record(step_dir: Path) -> dict[str, Any] | None:
    """The step's record, None when it has none, a CheckpointError when it is unreadable."""
    path = step_dir / RECORD
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        files = record["files"]
        if not isinstance(files, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("bytes"), int) and isinstance(v.get("sha256"), str)
            for v in files.values()
        ):
            raise ValueError("its 'files' entry is not a map of {bytes, sha256}")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"its file record ({RECORD}) is unreadable ({err}): the folder was altered after it was saved",
            fix="check it with `make doctor DIR=<this folder>`; use another step, or retrain",
            path=step_dir,
        ) from err
    return record


def size_problems(step_dir: Path, record: dict[str, Any]) -> list[str]:
    """What differs in size from the record (missing files included): cheap, run on every use."""
    problems = []
    for name, saved in sorted(record["files"].items()):
        path = step_dir / name
        if not path.is_file():
            problems.append(f"{name} is missing (saved {saved['bytes']:,} bytes)")
        elif (size := path.stat().st_size) != saved["bytes"]:
            problems.append(f"{name} is {size:,} bytes, saved {saved['bytes']:,}")
    return problems


def hash_problems(step_dir: Path, record: dict[str, Any]) -> list[str]:
    """Sizes, then the sha256 of every file of the same size (reads every byte: for doctor)."""
    problems = size_problems(step_dir, record)
    for name, saved in sorted(record["files"].items()):
        path = step_dir / name
        if path.is_file() and path.stat().st_size == saved["bytes"]:
            digest = sha256_file(path)
            if digest != saved["sha256"]:
                problems.append(
                    f"{name} differs from what was saved (sha256 {digest[:12]}…, saved {saved['sha256'][:12]}…)"
                )
    return problems


def record_temporaries(step_dir: Path) -> list[Path]:
    """Temporaries of a record write that was killed (the record itself is whole or absent)."""
    return sorted(step_dir.glob(_RECORD_TMP_GLOB))
