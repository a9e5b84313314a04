"""`python -m bench.perf.hwm (-m MODULE | SCRIPT.py) ARGS...`: run a program, then record its peak RSS.

Why not `wait4`'s ru_maxrss: Linux folds the forking parent's memory into the child's high-water mark
at exec, so every child of a 1 GB benchmark process would report at least 1 GB. VmHWM in
/proc/self/status belongs to the process's own address space after exec, so it is exact. It is
written at exit (atexit also runs on SystemExit) to the file named by $JAX2TFJS_HWM_FILE, in MB.
"""

from __future__ import annotations

import atexit
import os
import runpy
import sys

HWM_ENV = "JAX2TFJS_HWM_FILE"


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM line (not Linux?)")


def _record() -> None:
    target = os.environ.get(HWM_ENV)
    if target:
        with open(target, "w") as out:
            out.write(f"{peak_rss_mb():.1f}\n")


def main() -> None:
    atexit.register(_record)
    if sys.argv[1] == "-m":
        module, sys.argv = sys.argv[2], sys.argv[2:]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        script, sys.argv = sys.argv[1], sys.argv[1:]
        sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
