"""Test-only fault points. `fault_point("export.swap.aside")` does nothing unless the environment
variable JAX2TFJS_FAULT_POINT names that point; then, by the value's suffix:

    export.swap.aside          SIGKILL this process (no `finally`, no `atexit`: a power cut, the OOM killer)
    export.swap.aside:SIGINT   SIGINT this process (a Ctrl-C at exactly that instant)
    atomic.write:ENOSPC        raise OSError(ENOSPC) for `path` (also EROFS, EACCES, EDQUOT, EIO...)

The fault-injection suite (tests/convert_env/test_faults_*.py) uses them to stop or fail a job at an
exact instant, deterministically, and then checks that nothing was lost, that the error is typed,
and that the next job repairs what was left. Running as root (CI containers) makes chmod useless
for a read-only volume; an injected errno is exact on every machine. Users never set the variable.
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

ENV = "JAX2TFJS_FAULT_POINT"


def fault_point(name: str, path: str | Path | None = None) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, action = wanted.partition(":")
    if point != name:
        return
    if not action or action == "SIGKILL":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action.startswith("SIG"):
        os.kill(os.getpid(), getattr(signal, action))
    else:
        code = getattr(errno, action)
        raise OSError(code, os.strerror(code), None if path is None else str(path))
