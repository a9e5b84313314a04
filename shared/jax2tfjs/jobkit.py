"""What every job entry point shares: the memory guard, clean errors, and the job report."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jax2tfjs import atomic
from jax2tfjs.errors import EXIT_BROKEN_PIPE, EXIT_USER_ERROR, Jax2TfjsError
from jax2tfjs.memguard import MemoryGuard, limit_from_env

# TensorFlow's C++ info and warning lines (CUDA probes on a CPU machine) drown a job's own output;
# errors still show. TensorFlow reads the level once, when imported.
NATIVE_LOG_LEVEL = {"TF_CPP_MIN_LOG_LEVEL": "2"}
# The closing line every job prints; the benchmark reads each job's peak RSS from it.
DONE_PATTERN = re.compile(
    r"^\[(?P<job>[\w-]+)\] done in (?P<wall_s>[\d.]+) s, peak RSS (?P<peak_rss_mb>[\d.]+) MB", re.M
)


def quiet_native_logs() -> None:
    """For job entry points only, before anything imports TensorFlow: the library itself never
    changes its user's environment. A value the caller set already wins."""
    for name, value in NATIVE_LOG_LEVEL.items():
        os.environ.setdefault(name, value)


def run_job(
    name: str,
    work: Callable[[], dict[str, Any]],
    *,
    memory_limit_gb: float | None,
    report_path: str | Path | None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run `work` under the memory guard; add timing and peak RSS to its report and write it.

    A `Jax2TfjsError` becomes a two-line message and exit code 2, not a traceback. `quiet` keeps
    stdout for machine-readable output (the closing line goes to stderr instead).
    """
    limit = limit_from_env(memory_limit_gb)
    started = time.time()
    try:
        with MemoryGuard(name, limit_gb=limit) as guard:
            report = work()
    except Jax2TfjsError as err:
        print(f"[{name}] error {err}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_USER_ERROR) from None
    except BrokenPipeError:
        # The reader went away (`make examine | head`): stop quietly, as shell tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(EXIT_BROKEN_PIPE) from None
    report = {
        **report,
        "job": name,
        "wall_s": round(time.time() - started, 2),
        "peak_rss_mb": guard.peak_mb,
        "memory_limit_gb": limit,
    }
    if report_path is not None:
        atomic.write_json(report_path, report)
    print(
        f"[{name}] done in {report['wall_s']} s, peak RSS {guard.peak_mb} MB (limit {limit:g} GB)",
        file=sys.stderr if quiet else sys.stdout,
    )
    return report
