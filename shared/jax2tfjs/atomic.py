"""Write-then-rename helpers, so a crash or a kill never leaves a half-written artifact behind.

Temporary paths in flight are tracked so the memory guard can remove them before it exits the process.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jax2tfjs.faults import fault_point

_in_flight: set[Path] = set()
_lock = threading.Lock()


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it over `target`, else delete it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    with _lock:
        _in_flight.add(tmp)
    try:
        fault_point("atomic.write", target)
        yield tmp
        # mkstemp makes 0600 files; give the artifact the usual umask-derived mode (nginx reads it).
        tmp.chmod(0o666 & ~_current_umask())
        os.replace(tmp, target)
    finally:
        with _lock:
            _in_flight.discard(tmp)
        tmp.unlink(missing_ok=True)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(target: str | Path, payload: Any) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def remove_in_flight() -> None:
    """Delete every temporary file still being written (called just before a forced exit)."""
    with _lock:
        for tmp in list(_in_flight):
            tmp.unlink(missing_ok=True)
        _in_flight.clear()
