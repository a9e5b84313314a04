"""The `jax2tfjs` command (console script) and the jobs/doctor*.py entry points: `doctor` checks a
checkpoint or export folder, `doctor-bench` runs the error corpus and scores it.

Exit codes: doctor 0 when healthy (warnings allowed), 2 when it found errors; doctor-bench 0 when
every case got the right code and the KPIs meet their targets, 4 otherwise (as `make verify` for
broken thresholds).
"""

from __future__ import annotations

import json
from typing import Any

import fire

from jax2tfjs import atomic
from jax2tfjs.errors import EXIT_USER_ERROR
from jax2tfjs.jobkit import run_job

EXIT_TARGETS_MISSED = 4


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
    from jax2tfjs.diagnose import doctor as checks

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


def doctor_bench(
    cases: str | None = None,
    fast: bool = False,
    tfjs: bool = True,
    out: str | None = None,
    memory_limit_gb: float | None = None,
) -> None:
    """Run the error corpus: each broken conversion with autofix off and on; print per-case and
    per-class results and the two KPIs (right code + fix, fixed automatically).

    Args:
      cases: a comma list of case names (default: all).
      fast: only the cases the test suite runs (no registry-model checkpoints).
      tfjs: also run every auto-fixed export in TF.js (Node, wasm) against the intended model.
      out: write the results as JSON here (e.g. bench/doctor_bench.json).
      memory_limit_gb: the memory guard's limit (default $MEMORY_LIMIT_GB or 8).
    """
    from jax2tfjs.diagnose import bench, corpus

    def work() -> dict[str, Any]:
        chosen = [c for c in corpus.by_name(cases) if c.fast or not fast]
        results = bench.run(chosen, tfjs=tfjs)
        print(bench.render(results))
        found = bench.problems(results)
        for problem in found:
            print(f"[doctor-bench] problem: {problem}")
        payload = bench.to_json(results)
        if out:
            atomic.write_json(out, payload)
        return {"kpis": payload["kpis"], "problems": found}

    report = run_job("doctor-bench", work, memory_limit_gb=memory_limit_gb, report_path=None)
    if report["problems"]:
        raise SystemExit(EXIT_TARGETS_MISSED)


COMMANDS = {"doctor": doctor, "doctor-bench": doctor_bench}


def main() -> None:
    """`jax2tfjs doctor PATH` / `jax2tfjs doctor-bench` (`jax2tfjs` alone lists the commands)."""
    fire.Fire(COMMANDS, name="jax2tfjs")


if __name__ == "__main__":
    main()
