"""What every job entry point shares: clean exits, locks, the memory guard, and the job report.

The job contract: arguments are checked first (jax2tfjs.jobargs), inside `job_exit`; then the job
takes the locks of the volume folders it writes and runs under the memory guard. However it ends,
the user sees one line or a typed error, never a traceback:

    a Jax2TfjsError            its code, cause and fix; exit 2 (the error's exit_code)
    disk full, read-only, ...  VolumeError (J2T402) naming the path; exit 2
    Ctrl-C (SIGINT)            "[job] interrupted: ..."; exit 130
    docker stop (SIGTERM)      "[job] terminated: ..."; exit 143
    a closed output pipe       nothing; exit 141

Temporary files still being written are removed first (finished files are never touched).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from jax2tfjs import atomic, locks
from jax2tfjs.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    Jax2TfjsError,
    VolumeError,
)
from jax2tfjs.faults import fault_point
from jax2tfjs.memguard import MemoryGuard, limit_from_env

# TensorFlow's C++ info and warning lines (CUDA probes on a CPU machine) drown a job's own output;
# errors still show. TensorFlow reads the level once, when imported.
NATIVE_LOG_LEVEL = {"TF_CPP_MIN_LOG_LEVEL": "2"}
# The closing line every job prints; the benchmark reads each job's peak RSS from it.
DONE_PATTERN = re.compile(
    r"^\[(?P<job>[\w-]+)\] done in (?P<wall_s>[\d.]+) s, peak RSS (?P<peak_rss_mb>[\d.]+) MB", re.M
)
# Test-only (jax2tfjs.faults): the instant a job's work starts, its locks held and its guard running.
WORK_FAULT_POINT = "job.work"

_UID_HINT = "the images run as uid 1000, e.g. `sudo chown -R 1000:1000 volumes`"
# errno → what to do about it. Any other OSError is a bug and keeps its traceback.
VOLUME_FIXES = {
    errno.ENOSPC: "free disk space on that volume (`df -h {folder}`), then run the job again",
    errno.EDQUOT: "the disk quota is used up: free space or raise the quota, then run the job again",
    errno.EROFS: "the volume is read-only: make it writable (remount it, or drop `:ro` from its bind mount), "
    "then run the job again",
    errno.EACCES: "fix the folder's ownership or permissions so the job's user may write it: " + _UID_HINT,
    errno.EPERM: "fix the folder's ownership or permissions so the job's user may write it: " + _UID_HINT,
    errno.ENOTDIR: "a path the job needs as a folder is a file: pass a folder (or move the file away), "
    "then run the job again",
    errno.EISDIR: "a path the job needs as a file is a folder: move the folder away, then run the job again",
    errno.ENAMETOOLONG: "the path is too long for the file system: use a shorter volume path",
    errno.EIO: "the disk reported an I/O error: check the device (`dmesg`), copy off what you need, "
    "then run the job again",
}


class JobTerminated(BaseException):
    """SIGTERM (`docker stop`, `kill`) turned into an exception, so the job ends like a Ctrl-C."""


def quiet_native_logs() -> None:
    """For job entry points only, before anything imports TensorFlow: the library itself never
    changes its user's environment. A value the caller set already wins."""
    for name, value in NATIVE_LOG_LEVEL.items():
        os.environ.setdefault(name, value)


def volume_error(err: OSError) -> VolumeError | None:
    """The typed error for a full, read-only or foreign volume; None for any other OSError."""
    fix = VOLUME_FIXES.get(err.errno or 0)
    if fix is None:
        return None
    path = err.filename if err.filename is not None else err.filename2
    folder = Path(str(path)).parent if path is not None else "volumes"
    symbol = errno.errorcode.get(err.errno or 0, str(err.errno))
    return VolumeError(
        f"{path or 'a volume'}: {err.strerror or os.strerror(err.errno or 0)} ({symbol}); the job stopped, "
        "its temporary files were removed and nothing finished was changed",
        fix=fix.format(folder=folder),
        path=path,
    )


def _stop(name: str, code: int, how: str) -> None:
    """End the job now: temporaries removed, one line, no traceback. os._exit, because after a
    KeyboardInterrupt the interpreter's normal shutdown can crash in JAX's and Orbax's threads."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
    atomic.remove_in_flight()
    print(
        f"[{name}] {how}: the job stopped, its temporary files removed; finished files intact",
        file=sys.stderr,
        flush=True,
    )
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    os._exit(code)


def _raise_terminated(signum: int, frame: object) -> None:
    raise JobTerminated


def _fail(name: str, err: Jax2TfjsError) -> SystemExit:
    atomic.remove_in_flight()
    print(f"[{name}] error {err}", file=sys.stderr, flush=True)
    return SystemExit(err.exit_code)


@contextlib.contextmanager
def job_exit(name: str) -> Iterator[None]:
    """Whatever ends the block ends the job as the module docstring says. Jobs check their
    arguments inside it; `run_job` runs inside it too."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except Jax2TfjsError as err:
        raise _fail(name, err) from None
    except BrokenPipeError:
        # The reader went away (`make examine | head`): stop quietly, as shell tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(EXIT_BROKEN_PIPE) from None
    except OSError as err:
        typed = volume_error(err)
        if typed is None:
            raise
        raise _fail(name, typed) from None
    except KeyboardInterrupt:
        _stop(name, EXIT_INTERRUPTED, "interrupted (Ctrl-C)")
    except JobTerminated:
        _stop(name, EXIT_TERMINATED, "terminated (SIGTERM)")


def run_job(
    name: str,
    work: Callable[[], dict[str, Any]],
    *,
    memory_limit_gb: float | str | None,
    report_path: str | Path | None,
    quiet: bool = False,
    hold: Iterable[str | Path] = (),
    after: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run `work` under the memory guard, holding the locks of the `hold` folders for the whole job;
    add timing and peak RSS to its report, call `after(report)` (still holding the locks: what the
    job writes once its cost is known) and write the report to `report_path`.

    Errors end the job as `job_exit` says. `quiet` keeps stdout for machine-readable output (the
    closing line goes to stderr instead).
    """
    with job_exit(name):
        limit = limit_from_env(memory_limit_gb)
        with contextlib.ExitStack() as held:
            for folder in hold:
                held.enter_context(locks.hold(folder, name))
            started = time.time()
            with MemoryGuard(name, limit_gb=limit) as guard:
                fault_point(WORK_FAULT_POINT)
                report = work()
            report = {
                **report,
                "job": name,
                "wall_s": round(time.time() - started, 2),
                "peak_rss_mb": guard.peak_mb,
                "memory_limit_gb": limit,
            }
            if after is not None:
                after(report)
            if report_path is not None:
                atomic.write_json(report_path, report)
        print(
            f"[{name}] done in {report['wall_s']} s, peak RSS {guard.peak_mb} MB (limit {limit:g} GB)",
            file=sys.stderr if quiet else sys.stdout,
        )
    return report
