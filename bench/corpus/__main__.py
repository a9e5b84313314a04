"""Error-corpus run: `make doctor-bench` (`python -m bench.corpus`) converts every broken case with
autofix off and on, prints per-case and per-class results and the KPIs, and exits 4 when a case or a
KPI misses its target (as `make verify` does for broken thresholds).
"""

from __future__ import annotations

from typing import Any

import fire

from jax2tfjs import atomic
from jax2tfjs.compare import EXIT_THRESHOLDS_MISSED
from jax2tfjs.jobkit import run_job


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
    from bench.corpus import cases as corpus
    from bench.corpus import score as bench

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
        raise SystemExit(EXIT_THRESHOLDS_MISSED)


if __name__ == "__main__":
    fire.Fire(doctor_bench)
