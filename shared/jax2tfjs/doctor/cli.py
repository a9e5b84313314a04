"""The `jax2tfjs` command (console script) and the jobs/doctor.py entry point: `doctor` checks a
checkpoint or export folder. Exit codes: 0 when healthy (warnings allowed), 2 when it found errors.
(The error corpus that scores doctor lives in bench/corpus, outside the package.)
"""

from __future__ import annotations

import json
from typing import Any

import fire

from jax2tfjs.doctor import checks
from jax2tfjs.errors import EXIT_USER_ERROR
from jax2tfjs.jobkit import quiet_native_logs, run_job


def doctor(
    path: str,
    golden: bool = False,
    backend: str = "wasm",
    json_output: bool = False,
    memory_limit_gb: float | None = None,
) -> None:
    """Check a checkpoint folder (volumes/checkpoints/<model>[/<step>]) or an export folder
    (volumes/exports/<model>/<quant>) and print one line per finding.

    Args:
      path: the folder to check.
      golden: also run the export in TF.js (Node) against its golden.json.
      backend: the TF.js backend for --golden: wasm or cpu.
      json_output: print the findings as JSON.
      memory_limit_gb: the memory guard's limit (default $MEMORY_LIMIT_GB or 8).
    """
    quiet_native_logs()  # an entry point: TensorFlow is imported later, by the op check

    def work() -> dict[str, Any]:
        kind, findings = checks.examine(path, golden=golden, backend=backend)
        rows = [f.to_dict() for f in findings]
        if json_output:
            print(json.dumps({"path": str(path), "kind": kind, "findings": rows}, indent=2))
        else:
            print(checks.render(path, kind, findings))
        return {"path": str(path), "kind": kind, "errors": sum(f.level == checks.ERROR for f in findings)}

    report = run_job("doctor", work, memory_limit_gb=memory_limit_gb, report_path=None, quiet=json_output)
    if report["errors"]:
        raise SystemExit(EXIT_USER_ERROR)


COMMANDS = {"doctor": doctor}


def main() -> None:
    """`jax2tfjs doctor PATH` (`jax2tfjs` alone lists the commands)."""
    fire.Fire(COMMANDS, name="jax2tfjs")


if __name__ == "__main__":
    main()
