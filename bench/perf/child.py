"""Run one benchmark step in a fresh Python process; measure its wall time and peak RSS.

The step runs under `bench.perf.hwm`, which records the process's own VmHWM at exit (see there
for why not wait4). The child prints one JSON line last (when `json_line`); it is returned parsed.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.perf import REPO_ROOT
from bench.perf.hwm import HWM_ENV
from jax2tfjs.errors import ExportError


@dataclass
class ChildRun:
    wall_s: float
    peak_rss_mb: float
    result: dict[str, Any]
    stdout: str
    stderr: str


def run_python(
    python: Path,
    target: list[str],
    *,
    what: str,
    timeout_s: float = 300,
    json_line: bool = True,
    env: dict[str, str] | None = None,
) -> ChildRun:
    """`python -m bench.perf.hwm TARGET...` where TARGET is `-m module args` or `script.py args`."""
    argv = [str(python), "-m", "bench.perf.hwm", *target]
    command = " ".join([str(python), *target])
    with tempfile.TemporaryDirectory(prefix="jax2tfjs-hwm-") as tmp:
        hwm_file = Path(tmp) / "hwm"
        started = time.perf_counter()
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                env={**os.environ, **(env or {}), HWM_ENV: str(hwm_file)},
                cwd=REPO_ROOT,  # `-m bench...` resolves from the checkout
            )
        except subprocess.TimeoutExpired:
            raise ExportError(
                f"{what} did not finish within {timeout_s:g} s", fix=f"run it by hand: {command}"
            ) from None
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise ExportError(
                f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}",
                fix=f"run it by hand to see the whole output: {command}",
            )
        peak = float(hwm_file.read_text())
    lines = [line for line in proc.stdout.strip().splitlines() if line.startswith("{")]
    if json_line and not lines:
        raise ExportError(f"{what} printed no JSON line: {proc.stdout[-500:]}", fix=f"run: {command}")
    return ChildRun(
        wall_s=wall,
        peak_rss_mb=peak,
        result=json.loads(lines[-1]) if lines else {},
        stdout=proc.stdout,
        stderr=proc.stderr,
    )
