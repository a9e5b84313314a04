"""Putting a finished export in place: staging beside `out_dir`, a swap of folders, and the repair
of a swap that a kill interrupted.

Everything is written into a staging folder beside `out_dir` (same file system, so renames are
atomic) and swapped in at the end: the old export is renamed aside to `.<name>.old-<pid>-<ns>`, the
new one renamed in, the old one removed. A kill between those renames leaves no export at `out_dir`
and the old one aside; `repair` (run before every conversion into that folder, and by every publish
over the whole exports root) puts it back, or removes it once a complete export stands in its place,
and removes the staging folders of dead runs. Names carry the owner's pid, so a swap still in
progress in a live process is never touched. Fault points (jax2tfjs.faults) mark each rename.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from jax2tfjs import atomic, locks
from jax2tfjs.export import out_dir as out_dir_rules
from jax2tfjs.faults import fault_point

# `.<name>.old-<pid>-<ns>`; earlier versions wrote `.<name>.old-<ns>` (no owner: treated as dead).
# ns is time.time_ns(): 19 digits until 2286, so a user's `.notes.old-2` never matches.
ASIDE_NAME = re.compile(r"^\.(?P<name>.+)\.old-(?:(?P<pid>\d+)-)?(?P<ns>\d{18,20})$")
# exports root → <model> → <quant>: the deepest folder a temporary file of an export lands in.
REPAIR_DEPTH = 2


@contextlib.contextmanager
def staging_beside(out_dir: Path) -> Iterator[Path]:
    """A temporary folder next to `out_dir` (after repairing what killed conversions into `out_dir`
    left beside it), removed afterwards whatever happened. Only `out_dir`'s own leftovers: its parent
    may be any folder of the user's."""
    out_dir = Path(out_dir)
    if out_dir.parent.is_dir():
        _report(_repair_folder(out_dir.parent, only=out_dir.name))
    with atomic.temp_dir(out_dir) as staging:
        yield staging


def replace_dir(source: Path, target: Path) -> None:
    """Move `source` to `target`; an existing target (checked again: only a previous export or an
    empty folder) is moved aside first and removed after."""
    out_dir_rules.check_replaceable(target)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.time_ns()}")
        fault_point("export.swap.before_aside")
    # The memory guard's thread removes tracked staging folders on its way out: not mid-rename.
    with atomic.no_removal():
        if old is not None:
            target.rename(old)
        try:
            if old is not None:
                fault_point("export.swap.aside")
            source.rename(target)
        except BaseException:
            # An error or Ctrl-C between the renames: the old export goes back at once.
            if old is not None and not target.exists():
                old.rename(target)
            raise
    fault_point("export.swap.placed")
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _aside_owner_gone(match: re.Match, owners_dead: bool) -> bool:
    if match["pid"] is None or owners_dead:
        return True
    return not atomic.owner_alive(int(match["pid"]), int(match["ns"]) / 1e9)


def _repair_asides(folder: Path, only: str | None, owners_dead: bool) -> list[str]:
    """Each old export left aside by a dead swap: back in place when its place is empty, removed
    once a complete export stands there. Newest first, so the newest old export is the one restored.
    A hidden folder that merely has such a name but is not an export (a user's backup) is left alone."""
    asides = [
        (m, p)
        for p in folder.iterdir()
        if p.is_dir()
        and (m := ASIDE_NAME.match(p.name))
        and only in (None, m["name"])
        and out_dir_rules.looks_like_export(p)
    ]
    done = []
    for match, aside in sorted(asides, key=lambda item: -int(item[0]["ns"])):
        if not _aside_owner_gone(match, owners_dead):
            continue
        target = folder / match["name"]
        if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
            target.rmdir()  # an empty folder holds nothing to keep
        if not target.exists() and not target.is_symlink():
            aside.rename(target)
            done.append(f"restored {target}: an interrupted export swap had left it aside as {aside.name}")
        elif out_dir_rules.is_complete_export(target):
            shutil.rmtree(aside, ignore_errors=True)
            done.append(f"removed {aside}: the previous export an interrupted swap had left aside")
        else:
            print(
                f"[repair] warning: {aside} holds an export left aside by an interrupted swap, but {target} "
                "is not an export; left both alone. fix: move one of them away, then convert again",
                file=sys.stderr,
                flush=True,
            )
    return done


def _repair_folder(folder: Path, only: str | None = None) -> list[str]:
    """Repair `folder` itself (not below); `only`: just the leftovers of what is named so there.
    Under this process's lock of the folder, every leftover it is not writing is a dead run's."""
    owners_dead = locks.held(folder)
    done = _repair_asides(folder, only, owners_dead)
    removed = atomic.remove_leftovers(folder, only=only, owners_dead=owners_dead)
    return done + [f"removed {path}: left by a killed run" for path in removed]


def _report(done: list[str]) -> list[str]:
    for line in done:
        print(f"[repair] {line}", file=sys.stderr, flush=True)
    return done


def _repair_tree(folder: Path, depth: int) -> list[str]:
    done = _repair_folder(folder)
    if depth > 0:
        for child in sorted(folder.iterdir()):
            if child.is_dir() and not child.is_symlink() and not child.name.startswith("."):
                done += _repair_tree(child, depth - 1)
    return done


def repair(root: str | Path, depth: int = REPAIR_DEPTH) -> list[str]:
    """Repair what killed conversions and writes left in `root` and up to `depth` folder levels below
    it: old exports left aside, staging folders and temporary files of dead processes. Says what it
    did on stderr and returns those lines."""
    root = Path(root)
    if not root.is_dir():
        return []
    return _report(_repair_tree(root, depth))
