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


@contextlib.contextmanager
def hold(folder: str | Path, job: str, wait_s: float | None = None) -> Iterator[None]:
    """Hold `folder`'s lock for the block (the folder is created if missing)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
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
        yield
    finally:
        os.close(fd)  # closing releases the flock
