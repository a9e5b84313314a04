"""Write-then-rename helpers, so a crash or a kill never leaves a half-written artifact behind, and
the temporary names they use, so what a kill does leave is recognised and removed by the next run.

Every temporary file or folder is `.<name>.<pid>-<random>.tmp` beside what it becomes: hidden (the
export index and nginx skip dotfiles), recognisable, and naming the process that writes it. Paths in
flight are tracked so the memory guard can remove them before it exits the process; a SIGKILL leaves
them behind, and `remove_leftovers` (run by the next job) removes those whose writer is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from jax2tfjs.faults import fault_point

TEMP_SUFFIX = ".tmp"
TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp$")
# A process's start time is known to about a second (boot time is whole seconds in /proc/stat).
CLOCK_SLACK_S = 2.0

_in_flight: set[Path] = set()
_lock = threading.Lock()


def _temp_prefix(name: str) -> str:
    return f".{name}.{os.getpid()}-"


def owner_alive(pid: int, since_s: float) -> bool:
    """Whether process `pid` may still own something it made at `since_s` (epoch seconds): it exists,
    is not a zombie, and started before then. A pid reused by a younger process (or by this very
    process in a fresh container, where pids repeat) is not the owner."""
    if pid == os.getpid():
        return False  # ours, yet not in flight (callers check that first): a previous run's
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return process.create_time() <= since_s + CLOCK_SLACK_S
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # someone else's process: assume it is the owner


def in_flight(path: Path) -> bool:
    with _lock:
        return path in _in_flight


@contextlib.contextmanager
def tracked(path: Path) -> Iterator[Path]:
    """Track `path` as in flight for the block and remove it afterwards, whatever happened (a path
    renamed away in the block is already gone, so nothing is lost)."""
    with _lock:
        _in_flight.add(path)
    try:
        yield path
    finally:
        with _lock:
            _in_flight.discard(path)
        _remove(path)


@contextlib.contextmanager
def temp_dir(beside: str | Path) -> Iterator[Path]:
    """A new folder `.<name>.<pid>-<random>.tmp` next to `beside`, removed after the block."""
    beside = Path(beside)
    beside.parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=_temp_prefix(beside.name), suffix=TEMP_SUFFIX, dir=beside.parent))
    with tracked(path):
        yield path


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it over `target`, else delete it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(target.name), suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    with tracked(Path(tmp_name)) as tmp:
        fault_point("atomic.write", target)
        yield tmp
        fault_point("atomic.written", target)  # the file is complete but not yet in place
        # mkstemp makes 0600 files; give the artifact the usual umask-derived mode (nginx reads it).
        tmp.chmod(0o666 & ~_current_umask())
        os.replace(tmp, target)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(target: str | Path, payload: Any) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def no_removal() -> Iterator[None]:
    """Hold off `remove_in_flight` (the memory guard's thread) for the block: a rename of a tracked
    folder's contents into place must not race an rmtree of that folder."""
    with _lock:
        yield


def remove_in_flight() -> None:
    """Delete every temporary file or folder still being written (called just before a forced exit)."""
    with _lock:
        for path in list(_in_flight):
            _remove(path)
        _in_flight.clear()


def _temp_of(path: Path, only: str | None) -> bool:
    match = TEMP_NAME.match(path.name)
    return match is not None and only in (None, match["name"])


def is_leftover(path: Path, owners_dead: bool = False) -> bool:
    """A temporary path of ours (by its name) whose writer is gone: a killed run's. `owners_dead`:
    the caller holds the folder's lock, so anything this process is not writing is a dead run's."""
    match = TEMP_NAME.match(path.name)
    if match is None or in_flight(path):
        return False
    if owners_dead:
        return True
    try:
        written = path.lstat().st_mtime
    except FileNotFoundError:
        return False
    return not owner_alive(int(match["pid"]), written)


def remove_leftovers(folder: str | Path, only: str | None = None, owners_dead: bool = False) -> list[Path]:
    """Remove the temporary files and folders in `folder` (not below) that killed runs left, or only
    those of the file or folder named `only`; return them. `owners_dead`: see `is_leftover`."""
    folder = Path(folder)
    try:
        entries = sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = [path for path in entries if _temp_of(path, only) and is_leftover(path, owners_dead)]
    for path in removed:
        _remove(path)
    return removed
