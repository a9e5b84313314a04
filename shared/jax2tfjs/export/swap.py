"""Putting a finished export in place: staging beside `out_dir`, then a swap of folders.

Everything is written into a staging folder beside `out_dir` (same file system, so renames are
atomic) and swapped in at the end: the old export is renamed aside, the new one renamed in, the old
one removed. Fault points (jax2tfjs.faults) mark each step for the fault-injection suite.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from jax2tfjs.export import out_dir as out_dir_rules
from jax2tfjs.faults import fault_point


@contextlib.contextmanager
def staging_beside(out_dir: Path) -> Iterator[Path]:
    """A temporary folder next to `out_dir`, removed afterwards whatever happened."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def replace_dir(source: Path, target: Path) -> None:
    """Move `source` to `target`; an existing target (checked again: only a previous export or an
    empty folder) is moved aside first and removed after."""
    out_dir_rules.check_replaceable(target)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{time.time_ns()}")
        fault_point("export.swap.before_aside")
        target.rename(old)
        fault_point("export.swap.aside")
    source.rename(target)
    fault_point("export.swap.placed")
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
