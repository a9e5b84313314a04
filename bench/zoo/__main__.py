"""Zoo job: `make zoo` → every zoo model converted and run in TF.js against JAX.

With `--browser=webgl,wasm` (what `make zoo` passes) each export also runs in headless Chromium on
those backends, one browser for the whole run. Writes <out-dir>/<model>/ (the exports),
<out-dir>/zoo.json, <out-dir>/zoo.md and <out-dir>/index.json (the catalog the inspector page,
web/inspect.html, lists the exports from); prints the table and the success line. Exits 4 (as
`make verify` does for broken thresholds) when the targets are missed: 100 % of the selected
models converted and within the tolerance.
"""

from __future__ import annotations

import sys
from pathlib import Path

import fire

from bench import zoo
from bench.zoo import report
from bench.zoo.runner import run_zoo
from jax2tfjs import atomic
from jax2tfjs.compare import EXIT_THRESHOLDS_MISSED, TOLERANCE
from jax2tfjs.export import catalog
from jax2tfjs.jobkit import run_job


def _names(value: str | list | tuple) -> list[str]:
    """fire turns `--backend=cpu,wasm` into a tuple and `--models=mlp_gelu_linen` into a string."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def main(
    models: str = "all",
    out_dir: str = "volumes/zoo",
    backend: str = "wasm",
    batch: int = 4,
    seed: int = 0,
    tolerance: float = TOLERANCE,
    browser: str = "",
    memory_limit_gb: float | None = None,
) -> None:
    """Convert each zoo model, run it in TF.js (Node) on random inputs fed by name, compare each
    output with JAX's.

    Args:
      models: all, fast (the test suite's subset), or a comma list of names.
      out_dir: where the exports, zoo.json and zoo.md go.
      backend: TF.js backend(s), comma-separated: wasm, cpu.
      batch: rows per input where the batch is dynamic (a static-batch model gets its spec's).
      seed: weights and inputs.
      tolerance: max relative error, max|Δ| / max(1, max|y_jax|).
      browser: also run each export in headless Chromium on these TF.js backends, comma-separated:
        webgl, wasm, cpu, webgpu (skipped where Chromium offers no adapter); `make zoo` passes webgl,wasm.
    """
    backends = _names(backend)
    browser_backends = _names(browser)
    names = _names(models)
    root = Path(out_dir)

    def progress(row: dict) -> None:
        verdict = "ok" if row["passed"] else f"FAIL {row['error'] or 'outside tolerance'}"
        print(f"[zoo] {row['name']}: {verdict}", file=sys.stderr, flush=True)

    def work() -> dict:
        result = run_zoo(
            zoo.select(names),
            root,
            backends,
            batch=batch,
            seed=seed,
            tolerance=tolerance,
            on_row=progress,
            browser=browser_backends,
        )
        everywhere = [*backends, *(f"chromium-{b}" for b in browser_backends)]
        print(report.table(result["rows"], tolerance))
        print(report.summary_line(result["summary"], everywhere))
        if report.browser_line(result):
            print(f"[zoo] {report.browser_line(result)}")
        return result

    result = run_job("zoo", work, memory_limit_gb=memory_limit_gb, report_path=None)
    result["job"] = {key: result.pop(key) for key in ("job", "wall_s", "peak_rss_mb", "memory_limit_gb")}
    atomic.write_json(root / "zoo.json", result)
    with atomic.atomic_path(root / "zoo.md") as tmp:
        tmp.write_text(report.markdown(result))
    # The inspector page (web/inspect.html) lists the zoo's exports from this catalog.
    listed = catalog.write(root)
    print(
        f"[zoo] wrote {root / 'zoo.json'}, {root / 'zoo.md'} and {root / catalog.INDEX_FILE} ({len(listed['exports'])} exports)"
    )
    if not result["summary"]["targets_met"]:
        print(f"[zoo] FAILED: {', '.join(result['summary']['failed'])}", file=sys.stderr)
        raise SystemExit(EXIT_THRESHOLDS_MISSED)


if __name__ == "__main__":
    fire.Fire(main)
