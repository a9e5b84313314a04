"""Test-only fault points: `fault_point("export.swap.aside")` kills this process with SIGKILL when
the environment variable JAX2TFJS_FAULT_POINT names that point, and does nothing otherwise.

The fault-injection suite (tests/test_faults_*.py) uses them to stop a job at an exact instant, e.g.
between the two renames of an export swap, and then checks that nothing was lost and that the next
job repairs what the kill left. SIGKILL, not an exception: no `finally` and no `atexit` runs, as
with the kernel's OOM killer or a power cut. Users never set the variable.
"""

from __future__ import annotations

import os
import signal

ENV = "JAX2TFJS_FAULT_POINT"


def fault_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
