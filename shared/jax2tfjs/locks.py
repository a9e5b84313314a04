"""One lock per volume folder, so two jobs never write (or read while another writes) the same one.

`hold(folder, job)` takes an exclusive `flock` on `<folder>/.jax2tfjs.lock`. The kernel releases it
when the holder exits, however it exits (kill -9 included), so a stale lock cannot outlive its job.
The lock file records the holder (job, pid, start time) for the message another job shows. A job
that finds the lock taken waits up to JAX2TFJS_LOCK_WAIT_S seconds (default 600), saying whom it
waits for, then stops with BusyError (J2T403); 0 refuses at once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from jax2tfjs.errors import BusyError

LOCK_FILE = ".jax2tfjs.lock"
WAIT_ENV = "JAX2TFJS_LOCK_WAIT_S"
DEFAULT_WAIT_S = 600.0
POLL_S = 0.2
# Folders whose lock this process holds: under it, no other job writes there, so whatever a repair
# finds that this process is not writing was left by a dead run (even when its pid is alive: a job
# that ran in a container named a pid of another pid namespace, often 1).
_held: set[Path] = set()


def held(folder: str | Path) -> bool:
    """Whether this process holds the lock of `folder` (or of a folder above it)."""
    folder = Path(folder).absolute()
    return any(folder == h or h in folder.parents for h in _held)


def _wait_s() -> float:
    raw = os.environ.get(WAIT_ENV, "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_WAIT_S
    except ValueError:
        return DEFAULT_WAIT_S


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"`{info['job']}` (pid {info['pid']}) since {info['since']}"
    except (OSError, ValueError, KeyError):
        return "another job"


def lock_path(folder: Path, beside: bool = False) -> Path:
    return folder.parent / f".{folder.name}{LOCK_FILE}" if beside else folder / LOCK_FILE


@contextlib.contextmanager
def hold(folder: str | Path, job: str, wait_s: float | None = None, beside: bool = False) -> Iterator[None]:
    """Hold `folder`'s lock for the block. The lock file is `folder/.jax2tfjs.lock`: inside the
    folder, so a volume mounted into several containers shares it. `beside=True` puts it in the
    parent as `.<name>.jax2tfjs.lock`, for a folder that may be renamed while locked (`make train
    FRESH=1` moves a model's checkpoints aside: the lock must not leave with them)."""
    path = lock_path(Path(folder), beside)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + (_wait_s() if wait_s is None else wait_s)
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            holder = _holder(fd)
            if time.monotonic() >= deadline:
                raise BusyError(
                    f"{folder} is in use by {holder}",
                    fix=f"wait for that job to finish (or stop it), then run `{job}` again",
                    path=folder,
                )
            if not announced:
                print(
                    f"[{job}] waiting for {holder} to finish with {folder} ...", file=sys.stderr, flush=True
                )
                announced = True
            time.sleep(POLL_S)
        record = {"job": job, "pid": os.getpid(), "since": time.strftime("%H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        key = Path(folder).absolute()
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)
    finally:
        os.close(fd)  # closing releases the flock
