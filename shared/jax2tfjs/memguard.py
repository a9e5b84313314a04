"""A psutil guard that keeps a job's whole process tree under a memory limit.

A background thread samples the RSS of this process and all its descendants. At 90 % of the limit it
warns once; past the limit it prints what happened and how to fix it, removes temporary files still
being written (finished artifacts are never touched, see `atomic.py`), kills the children and exits
with `EXIT_MEMORY_LIMIT`. Docker's `mem_limit` is only the backstop behind this.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import dataclass, field

import psutil

from jax2tfjs import atomic, jobargs
from jax2tfjs.errors import EXIT_MEMORY_LIMIT

DEFAULT_LIMIT_GB = jobargs.DEFAULT_MEMORY_LIMIT_GB
WARN_FRACTION = 0.9
GB = 1024**3


def limit_from_env(explicit_gb: float | str | None = None) -> float:
    """The limit in GB: the explicit argument, else $MEMORY_LIMIT_GB, else 8. Anything but a finite
    number > 0 is a JobArgumentError (J2T401) naming MEMORY_LIMIT_GB and --memory-limit-gb."""
    return jobargs.memory_limit_gb(explicit_gb)


def tree_rss_bytes(root: psutil.Process) -> int:
    """RSS of `root` plus all its live descendants (children that exit mid-sample are skipped)."""
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


@dataclass
class MemoryGuard:
    """Context manager: `with MemoryGuard("train", limit_gb=8) as guard: ...; guard.peak_bytes`."""

    job: str
    limit_gb: float = DEFAULT_LIMIT_GB
    interval_s: float = 0.1
    peak_bytes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _warned: bool = field(default=False, repr=False)

    @property
    def limit_bytes(self) -> int:
        return int(self.limit_gb * GB)

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)

    def __enter__(self) -> MemoryGuard:
        # nan would pass a `<= 0` test and then compare false with every sample: never stop.
        self.limit_gb = jobargs.positive_number(self.limit_gb, jobargs.MEMORY_LIMIT)
        self._process = psutil.Process()
        self.sample()
        self._thread = threading.Thread(target=self._watch, name=f"memguard-{self.job}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def sample(self) -> int:
        rss = tree_rss_bytes(self._process)
        self.peak_bytes = max(self.peak_bytes, rss)
        if rss > self.limit_bytes:
            self._abort(rss)
        if not self._warned and rss > WARN_FRACTION * self.limit_bytes:
            self._warned = True
            print(
                f"[memguard] warning: job '{self.job}' uses {rss / GB:.2f} GB, "
                f"over {WARN_FRACTION:.0%} of its {self.limit_gb:g} GB limit",
                file=sys.stderr,
                flush=True,
            )
        return rss

    def _watch(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def _abort(self, rss: int) -> None:
        print(
            f"[memguard] J2T901: job '{self.job}' stopped: its processes used {rss / GB:.2f} GB, "
            f"over the {self.limit_gb:g} GB limit (peak {self.peak_bytes / GB:.2f} GB).\n"
            f"  fix: lower --batch-size or --samples, or raise the limit with MEMORY_LIMIT_GB or "
            f"--memory-limit-gb (the machine must have the memory).\n"
            f"  Files finished before this point are intact; partial files were removed.",
            file=sys.stderr,
            flush=True,
        )
        atomic.remove_in_flight()
        for child in self._process.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        sys.stdout.flush()
        # os._exit: the guard runs in a thread, where sys.exit would only end the thread.
        os._exit(EXIT_MEMORY_LIMIT)
